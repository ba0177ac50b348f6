"""The Ray backfill on a local Ray instance: every note stored once with its results, a rerun adds nothing."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import DATA

pytestmark = [pytest.mark.slow, pytest.mark.system]


def test_backfill_on_ray_stores_each_note_once(tmp_path):
    from casenotes.runtime.backfill import backfill

    rows = [json.loads(line) for line in (DATA / "dev.jsonl").read_text(encoding="utf-8").splitlines()[:10]]
    source = tmp_path / "history.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'record.db'}"

    first = backfill(source, url, actors=2, batch_notes=3)
    again = backfill(source, url, actors=2, batch_notes=3)

    assert (first.created, first.existing) == (len(rows), 0)
    assert (again.created, again.existing) == (0, len(rows))
    with create_engine(url).connect() as connection:
        notes = connection.execute(text("SELECT count(*) FROM note")).scalar()
        revisions = connection.execute(text("SELECT count(*) FROM note_revision")).scalar()
        goal_results = connection.execute(text("SELECT count(*) FROM result WHERE kind = 'goal'")).scalar()
    assert notes == revisions == len(rows)
    assert goal_results == sum(len(r["goals"]) for r in rows)
