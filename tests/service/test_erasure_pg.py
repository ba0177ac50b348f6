"""Erasure on PostgreSQL leaves no erased text in the tables' data files.

The test reads the files under the server's data directory, so it needs the server on this
machine and a superuser (for `SHOW data_directory` and CHECKPOINT, which writes the cleaned
pages to disk). The erased client's note is stored after another client's, so its row is the
last on a shared page: exactly where a plain VACUUM leaves the bytes of a deleted row behind
in the page's free space (what `Services.erase_traces` rewrites the text tables for).
"""

from __future__ import annotations

import os
import random
import string
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from tests.service.conftest import PROGRAM_A

CANARY = "Canary-Ozymandias-Featherstonehaugh"
TEXT_TABLES = ("note_revision", "plan_goal", "flag", "review")
KEPT_NOTE = "D: Cl attended the budgeting class and paid rent on time. P: review savings next month."


def _plan(goal_text: str) -> dict:
    return {"goals": [{"goal_id": "G1", "text": goal_text, "domain": "housing"}]}


def _long_note() -> str:
    """Over 2 kB of words that do not compress, so PostgreSQL keeps the note in its TOAST table."""
    rng = random.Random(12)
    words = ("".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 9))) for _ in range(700))
    return f"D: {CANARY} told staff about an eviction notice. " + " ".join(words) + "."


class DataFiles:
    """The files of the text tables (and their TOAST tables) of one database."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            with self.engine.connect() as connection:
                self.root = Path(connection.execute(text("SHOW data_directory")).scalar_one())
                connection.execute(text("CHECKPOINT"))
        except DBAPIError as exc:
            self.engine.dispose()
            pytest.skip(f"needs a superuser to find and flush the data files: {type(exc.orig).__name__}")
        if not os.access(self.root / "base", os.R_OK | os.X_OK):
            self.engine.dispose()
            pytest.skip(f"the data directory {self.root} is not readable here (server on another machine?)")

    def paths(self) -> set[Path]:
        """After a CHECKPOINT (so every changed page is on disk), the files of each relation."""
        with self.engine.connect() as connection:
            connection.execute(text("CHECKPOINT"))
            relations = connection.execute(text(
                "SELECT pg_relation_filepath(c.oid), pg_relation_filepath(c.reltoastrelid) FROM pg_class c "
                "WHERE c.relname = ANY(:tables)"), {"tables": list(TEXT_TABLES)}).all()
        files = set()
        for relation in (path for row in relations for path in row if path):
            main = self.root / relation
            files |= {main, *main.parent.glob(main.name + ".*")}  # segments past 1 GB are name.1, name.2, ...
        return files

    @staticmethod
    def holding(paths: set[Path], needle: str) -> list[str]:
        return sorted(p.name for p in paths if p.exists() and needle.encode() in p.read_bytes())


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_erasure_pg_leaves_no_erased_text_in_the_table_files(client, tokens, database_url):
    files = DataFiles(database_url)
    ingest, admin, supervisor = tokens("ingest"), tokens("admin"), tokens("supervisor")
    for client_id, goal in (("C-KEEP", "Keep up rent payments"), ("C-GONE", f"Find {CANARY} a flat")):
        assert client.put(f"/v1/clients/{client_id}", json={"program": PROGRAM_A}, headers=ingest).status_code == 201
        assert client.put(f"/v1/clients/{client_id}/plan", json=_plan(goal), headers=ingest).status_code == 201
    notes = [("C-KEEP", "N-KEEP", KEPT_NOTE),
             ("C-GONE", "N-GONE-1", f"D: {CANARY} was taken to the ER after an overdose on Saturday."),
             ("C-GONE", "N-GONE-2", _long_note())]
    for client_id, note_id, note_text in notes:
        response = client.post(f"/v1/clients/{client_id}/notes", headers=ingest, json={
            "note_id": note_id, "note_date": "2026-03-14", "note_format": "DAP", "text": note_text})
        assert response.status_code == 201
    flag = next(f for f in client.get("/v1/flags", headers=supervisor).json()["flags"] if f["client_id"] == "C-GONE")
    assert client.post(f"/v1/flags/{flag['flag_id']}/review", headers=supervisor,
                       json={"decision": "confirmed", "comment": f"Called {CANARY} back"}).status_code == 200

    before = files.paths()
    assert len(files.holding(before, CANARY)) >= 4, "the canary should be on disk in every text table first"

    assert client.delete("/v1/clients/C-GONE", headers=admin).status_code == 204
    after = files.paths()
    assert files.holding(before | after, CANARY) == []
    assert files.holding(after, "paid rent on time")  # the other client's note is still stored...
    kept = client.get("/v1/notes/N-KEEP", headers=tokens("analyst"))
    assert kept.status_code == 200 and kept.json()["text"] == KEPT_NOTE  # ...and still served
    files.engine.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_erasure_pg_planner_statistics_hold_no_note_text(client, tokens, database_url):
    """ANALYZE samples common values into pg_stats, where they would outlive an erasure."""
    ingest = tokens("ingest")
    assert client.put("/v1/clients/C-STATS", json={"program": PROGRAM_A}, headers=ingest).status_code == 201
    assert client.put("/v1/clients/C-STATS/plan", json=_plan(f"Help {CANARY} keep the flat"),
                      headers=ingest).status_code == 201
    for number in range(8):  # one text many times over: a most-common value, were it sampled
        response = client.post("/v1/clients/C-STATS/notes", headers=ingest, json={
            "note_id": f"N-STATS-{number}", "note_date": "2026-03-14", "note_format": "DAP",
            "author": CANARY, "text": f"D: {CANARY} paid rent."})
        assert response.status_code in (200, 201)
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("ANALYZE"))
        sampled = connection.execute(text(
            "SELECT tablename, attname FROM pg_stats WHERE schemaname = current_schema() AND "
            "(most_common_vals::text LIKE :needle OR histogram_bounds::text LIKE :needle)"),
            {"needle": f"%{CANARY}%"}).all()
    engine.dispose()
    assert sampled == []
