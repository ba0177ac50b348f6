"""`casenotes export-labels`, on SQLite and PostgreSQL: it says how many notes it skipped and why,
and `--partial` writes partly reviewed notes with their reviewed goals alone, in a file the
shared format's checker accepts."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date

import pytest
from typer.testing import CliRunner

from casenotes.cli.main import app
from casenotes.store import make_engine, make_sessionmaker
from casenotes.store.tables import Client, Enrollment, FlagRow, Note, NoteRevision, Plan, PlanGoal, Result, Review
from tests.conftest import EVAL_CHECK

runner = CliRunner()
GOALS = [("G1", "Move into permanent housing by June 30", "housing"),
         ("G2", "Obtain a job of 20+ hours a week", "employment"),
         ("G3", "Apply for SNAP benefits", "income")]
TEXT = ("D: Cl signed a lease for a 1BR on Elm St today. Cl had a job interview at the grocery store. "
        "Cl was told to wait. Cl was told to wait. Cl received a 3-day eviction notice at the motel last week.")
LEASE = "Cl signed a lease for a 1BR on Elm St today."
INTERVIEW = "Cl had a job interview at the grocery store."
WAIT = "Cl was told to wait."  # twice in the note: no quote of it is evidence
EVICTION = "Cl received a 3-day eviction notice at the motel last week."


def span(quote: str) -> list[int]:
    start = TEXT.index(quote)
    return [start, start + len(quote)]


# Per note: each goal's (model status, cited quote, review) where review is None (unreviewed),
# "accepted", or a corrected status; then the reviewed domains and the flags (type, status).
NOTES = {
    "N-full": {"goals": {"G1": ("improving", LEASE, "achieved"), "G2": ("improving", INTERVIEW, "accepted"),
                         "G3": ("not-addressed", None, "accepted")},
               "domains": {"housing": (3, LEASE), "food": (2, WAIT)},
               "flags": [("housing_loss", "confirmed"), ("legal", "open")]},
    "N-part": {"goals": {"G1": ("improving", LEASE, "accepted"), "G2": ("improving", INTERVIEW, None),
                         "G3": ("no-change", WAIT, None)},
               "domains": {}, "flags": [("housing_loss", "open")]},
    "N-unquotable": {"goals": {"G1": ("no-change", WAIT, "accepted"), "G2": ("improving", INTERVIEW, "accepted"),
                               "G3": ("not-addressed", None, "accepted")},
                     "domains": {}, "flags": []},
    "N-domain-only": {"goals": {"G1": ("improving", LEASE, None), "G2": ("improving", INTERVIEW, None),
                                "G3": ("not-addressed", None, None)},
                      "domains": {"housing": (3, LEASE)}, "flags": []},
    "N-none": {"goals": {"G1": ("improving", LEASE, None), "G2": ("improving", INTERVIEW, None),
                         "G3": ("not-addressed", None, None)},
               "domains": {}, "flags": []},
}


@pytest.fixture
def database(database_url, tmp_path, monkeypatch):
    """The five notes of NOTES stored and reviewed as described, in the database the CLI is pointed at."""
    monkeypatch.setenv("CASENOTES_DATABASE_URL", database_url)
    monkeypatch.setenv("CASENOTES_DATA_DIR", str(tmp_path / "data"))
    engine = make_engine(database_url)
    with make_sessionmaker(engine).begin() as session:
        client = Client(client_id="C-1")
        enrollment = Enrollment(client=client, program="Rapid Re-Housing", start_date=date(2026, 3, 1))
        plan = Plan(client=client, enrollment=enrollment, version=1, rubric="self-sufficiency",
                    goals=[PlanGoal(position=n, goal_id=g, text=t, domain=d) for n, (g, t, d) in enumerate(GOALS)])
        session.add_all([client, plan])
        session.flush()
        for n, (note_id, spec) in enumerate(NOTES.items()):
            note = Note(note_id=note_id, client=client, enrollment=enrollment, note_date=date(2026, 3, n + 1),
                        note_format="DAP")
            session.add(NoteRevision(note=note, revision=1, text=TEXT, sha256="0" * 64, plan_pk=plan.id,
                                     results=_results(spec), flags=_flags(spec)))
    engine.dispose()
    return database_url


def _results(spec: dict) -> list[Result]:
    results = []
    for goal_id, (status, quote, review) in spec["goals"].items():
        result = Result(kind="goal", goal_id=goal_id, status=status, confidence=0.5,
                        citations=[span(quote)] if quote else [])
        if review is not None:
            result.reviews = [Review(decision="accepted" if review == "accepted" else "corrected",
                                     status=None if review == "accepted" else review, reviewer="analyst#1")]
        results.append(result)
    for domain, (level, quote) in spec["domains"].items():
        results.append(Result(kind="domain", domain=domain, level=level, confidence=0.5, citations=[span(quote)],
                              reviews=[Review(decision="accepted", reviewer="analyst#1")]))
    return results


def _flags(spec: dict) -> list[FlagRow]:
    return [FlagRow(type=kind, severity=2, confidence=0.5, citations=[span(EVICTION)], note_date=date(2026, 3, 1),
                    status=status) for kind, status in spec["flags"]]


def export(tmp_path, *options: str) -> tuple[str, list[dict]]:
    out = tmp_path / "labels.jsonl"
    result = runner.invoke(app, ["export-labels", "--out", str(out), *options])
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split()), [json.loads(line) for line in out.read_text().splitlines()]


def test_export_labels_writes_fully_reviewed_notes_and_says_what_it_skipped_and_why(database, tmp_path,
                                                                                   eval_check):
    message, cases = export(tmp_path)
    assert [c["note_id"] for c in cases] == ["N-full"]
    assert "wrote 1 labeled notes" in message and "skipped 4 notes:" in message
    assert "2 with unreviewed goals" in message and "1 with nothing reviewed" in message
    assert "1 with a changed goal whose evidence is not a unique quote of the note" in message
    assert "--partial writes their reviewed goals" in message

    [case] = cases
    assert case["labels"]["goals"] == {"G1": {"status": "achieved", "evidence": [LEASE]},
                                       "G2": {"status": "improving", "evidence": [INTERVIEW]},
                                       "G3": {"status": "not-addressed", "evidence": []}}
    # A domain whose evidence cannot be quoted is left out; only the confirmed flag is gold.
    assert case["labels"]["domains"] == {"housing": {"level": 3, "evidence": [LEASE]}}
    assert case["labels"]["flags"] == [{"type": "housing_loss", "evidence": [EVICTION]}]
    assert eval_check.validate(cases) == []


def test_export_labels_partial_writes_only_the_reviewed_goals_and_still_validates(database, tmp_path, eval_check):
    message, cases = export(tmp_path, "--partial")
    assert [c["note_id"] for c in cases] == ["N-full", "N-part", "N-unquotable"]
    assert "wrote 3 labeled notes" in message and "skipped 2 notes:" in message
    assert "1 with no reviewed goal" in message and "1 with nothing reviewed" in message
    assert "unreviewed goals" not in message

    part = cases[1]
    assert [g["goal_id"] for g in part["goals"]] == ["G1"]
    assert part["labels"] == {"goals": {"G1": {"status": "improving", "evidence": [LEASE]}}, "domains": {},
                              "flags": []}  # its open flag is no label
    unquotable = cases[2]
    assert [g["goal_id"] for g in unquotable["goals"]] == ["G2", "G3"] and set(unquotable["labels"]["goals"]) == {
        "G2", "G3"}
    assert cases[0]["labels"]["goals"].keys() == {"G1", "G2", "G3"}
    assert eval_check.validate(cases) == []
    checked = subprocess.run([sys.executable, str(EVAL_CHECK), "validate", str(tmp_path / "labels.jsonl")],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_export_labels_of_an_empty_store_writes_nothing_and_names_no_reason(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("CASENOTES_DATABASE_URL", database_url)
    message, cases = export(tmp_path)
    assert cases == [] and message.startswith("wrote 0 labeled notes") and "skipped" not in message


def test_export_labels_help_says_what_partial_leaves_out():
    result = runner.invoke(app, ["export-labels", "--help"], env={"COLUMNS": "400"})
    assert result.exit_code == 0
    assert "--partial" in result.output and "an unreviewed goal is left out" in result.output
