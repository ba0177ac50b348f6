"""`casenotes batch`: the same predictions as one at a time, and a resume that scores nothing twice."""

from __future__ import annotations

import json

import pytest

from casenotes.runtime.batch import done_ids, run_batch
from tests.conftest import DATA


@pytest.fixture
def notes(tmp_path):
    rows = [json.loads(line) for line in (DATA / "dev.jsonl").read_text(encoding="utf-8").splitlines()][:12]
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path, rows


def test_batch_resumes_after_a_torn_write_without_duplicates(notes, tmp_path, pipeline):
    source, rows = notes
    out = tmp_path / "out.jsonl"
    run_batch(source, out, batch_notes=5, pipeline=pipeline)
    complete = out.read_text(encoding="utf-8").splitlines()
    # An interruption: the first five predictions stored, the sixth cut mid-line.
    out.write_text("\n".join(complete[:5]) + "\n" + complete[5][:40], encoding="utf-8")
    assert len(done_ids(out)) == 5
    summary = run_batch(source, out, batch_notes=5, pipeline=pipeline)
    assert (summary.scored, summary.skipped) == (7, 5)
    resumed = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert sorted(r["id"] for r in resumed) == sorted(r["id"] for r in rows)
    assert {r["id"]: r for r in resumed} == {json.loads(line)["id"]: json.loads(line) for line in complete}


def test_batch_matches_scoring_one_note_at_a_time(notes, tmp_path, pipeline):
    from casenotes.shared_format import iter_cases, prediction_json

    source, _ = notes
    out = tmp_path / "out.jsonl"
    run_batch(source, out, batch_notes=12, pipeline=pipeline)
    batched = {r["id"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    for case in list(iter_cases(source))[:4]:
        alone = prediction_json(case.id, pipeline.score(case.note, case.plan))
        assert batched[case.id]["goals"].keys() == alone["goals"].keys()
        for goal_id, goal in alone["goals"].items():
            assert batched[case.id]["goals"][goal_id]["status"] == goal["status"]
            assert batched[case.id]["goals"][goal_id]["citations"] == goal["citations"]


@pytest.mark.slow
def test_batch_two_workers_score_every_note_once(notes, tmp_path):
    source, rows = notes
    out = tmp_path / "out.jsonl"
    summary = run_batch(source, out, workers=2, batch_notes=4)
    ids = [json.loads(line)["id"] for line in out.read_text(encoding="utf-8").splitlines()]
    assert summary.scored == len(rows) and sorted(ids) == sorted(r["id"] for r in rows)


def test_batch_bad_line_is_named_and_the_output_kept(notes, tmp_path):
    from typer.testing import CliRunner

    from casenotes.cli.main import app

    source, rows = notes
    with source.open("a", encoding="utf-8") as more:
        more.write("{not json\n")
    out = tmp_path / "out.jsonl"
    earlier = json.dumps({"id": rows[0]["id"], "goals": {}, "domains": {}, "flags": []}) + "\n"
    out.write_text(earlier, encoding="utf-8")
    result = CliRunner().invoke(app, ["batch", str(source), "--out", str(out)])
    assert result.exit_code == 2 and f"line {len(rows) + 1}" in result.output
    assert out.read_text(encoding="utf-8") == earlier
