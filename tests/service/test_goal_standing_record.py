"""The record's goal standings over HTTP, on the scripted fake pipeline (its notes say what each
goal's status is): after a setback and a note that does not speak to the goal, the record and
its page say "worsening", not "not addressed"; a reviewer's correction wins, the machine's value
shown beside it; the trend, the evidence's citations and the days since it."""

from __future__ import annotations

import re
from datetime import date

import pytest

from tests.service.conftest import PROGRAM_A
from tests.service.scripted_pipeline import ScriptedPipeline

GOALS = [{"goal_id": "G1", "text": "Sign a lease for a 2BR unit", "domain": "housing"},
         {"goal_id": "G2", "text": "Obtain employment of at least 25 hrs/week", "domain": "employment"}]
NOTES = [  # (note_id, date, text): G1 improves, slips, then a note about work alone
    ("N-1", "2026-01-05", "Cl viewed two units on Poplar Ave and applied for one. [G1=improving]"),
    ("N-2", "2026-02-05", "Landlord turned down the application; Cl back at the shelter. [G1=worsening]"),
    ("N-3", "2026-03-05", "Cl started a part-time job at the grocery, 20 hrs/wk. [G2=improving]"),
]


@pytest.fixture
def pipeline(fake_pipeline):
    return ScriptedPipeline(fake_pipeline)


def client_with_notes(client, tokens, notes=NOTES) -> dict[str, dict]:
    admin = tokens("admin")
    assert client.put("/v1/clients/C-S", json={"program": PROGRAM_A}, headers=admin).status_code == 201
    assert client.put("/v1/clients/C-S/plan", json={"goals": GOALS}, headers=admin).status_code == 201
    posted = {}
    for note_id, note_date, text in notes:
        answer = client.post("/v1/clients/C-S/notes", headers=admin,
                             json={"note_id": note_id, "note_date": note_date, "text": text})
        assert answer.status_code == 201, answer.text
        posted[note_id] = answer.json()
    return posted


def goal_result(note: dict, goal_id: str) -> dict:
    return next(g for g in note["goals"] if g["goal_id"] == goal_id)


def standing_of(client, tokens, goal_id: str) -> dict:
    record = client.get("/v1/clients/C-S/record", headers=tokens("analyst")).json()
    return next(g for g in record["goals"] if g["goal_id"] == goal_id)["standing"]


def test_record_standing_after_a_setback_is_worsening_not_not_addressed(client, tokens):
    posted = client_with_notes(client, tokens)
    record = client.get("/v1/clients/C-S/record", headers=tokens("supervisor")).json()
    g1 = record["goals"][0]
    assert [p["status"] for p in g1["timeline"]] == ["improving", "worsening", "not-addressed"]
    standing = g1["standing"]
    assert standing["status"] == standing["machine_status"] == "worsening"
    assert (standing["note_id"], standing["note_date"], standing["review"]) == ("N-2", "2026-02-05", None)
    assert standing["result_id"] == goal_result(posted["N-2"], "G1")["result_id"]
    assert standing["trend"] == {"statuses": ["improving", "worsening"], "summary": "mixed"}
    assert standing["as_of"] == date.today().isoformat()
    assert standing["days_since_evidence"] == (date.today() - date(2026, 2, 5)).days
    text = NOTES[1][2]
    assert [c["text"] for c in standing["citations"]] == ["[G1=worsening]"]
    assert all(text[c["start"]:c["end"]] == c["text"] for c in standing["citations"])

    g2 = record["goals"][1]["standing"]
    assert (g2["status"], g2["note_id"], g2["trend"]["statuses"]) == ("improving", "N-3", ["improving"])


def test_record_standing_a_correction_wins_and_the_machine_value_is_kept(client, tokens):
    posted = client_with_notes(client, tokens)
    result_id = goal_result(posted["N-2"], "G1")["result_id"]
    corrected = client.post(f"/v1/results/{result_id}/review", headers=tokens("analyst"),
                            json={"decision": "corrected", "status": "no-change", "comment": "Still applying."})
    assert corrected.status_code == 201, corrected.text
    standing = standing_of(client, tokens, "G1")
    assert (standing["status"], standing["machine_status"], standing["review"]) == ("no-change", "worsening",
                                                                                     "corrected")
    assert standing["trend"] == {"statuses": ["improving", "no-change"], "summary": "improving"}

    # The latest review is the verdict: accepting the result afterwards stands by the machine's value.
    accepted = client.post(f"/v1/results/{result_id}/review", headers=tokens("analyst"), json={"decision": "accepted"})
    assert accepted.status_code == 201
    standing = standing_of(client, tokens, "G1")
    assert (standing["status"], standing["machine_status"], standing["review"]) == ("worsening", "worsening",
                                                                                     "accepted")


def test_record_standing_a_note_corrected_to_not_addressed_gives_the_standing_back_to_the_one_before(client, tokens):
    posted = client_with_notes(client, tokens)
    result_id = goal_result(posted["N-2"], "G1")["result_id"]
    assert client.post(f"/v1/results/{result_id}/review", headers=tokens("analyst"),
                       json={"decision": "corrected", "status": "not-addressed"}).status_code == 201
    standing = standing_of(client, tokens, "G1")
    assert (standing["status"], standing["note_id"]) == ("improving", "N-1")


def test_record_standing_of_a_goal_no_note_spoke_to_is_empty(client, tokens):
    client_with_notes(client, tokens, notes=NOTES[:1])
    standing = standing_of(client, tokens, "G2")
    assert standing == {**standing, "status": None, "machine_status": None, "note_id": None, "citations": [],
                        "days_since_evidence": None, "trend": {"statuses": [], "summary": None}}


def test_record_page_heads_each_goal_with_its_standing_and_the_models_reading_beside_a_correction(client, tokens):
    posted = client_with_notes(client, tokens)
    token = tokens("analyst")["Authorization"].removeprefix("Bearer ")
    assert client.post("/ui/login", data={"token": token}, follow_redirects=False).status_code == 303
    g1, g2 = goal_cards(client.get("/ui/clients/C-S").text)
    assert "Worsening" in standing_block(g1) and "Not addressed" not in standing_block(g1)
    assert "the model read" not in g1
    assert "Last 2 notes on it: improving, worsening (mixed)" in " ".join(g1.split())
    assert "[G1=worsening]" in g1  # the cited words behind the standing
    assert "Improving" in standing_block(g2)

    result_id = goal_result(posted["N-2"], "G1")["result_id"]
    assert client.post(f"/v1/results/{result_id}/review", headers=tokens("analyst"),
                       json={"decision": "corrected", "status": "no-change"}).status_code == 201
    g1, _ = goal_cards(client.get("/ui/clients/C-S").text)
    assert "No change" in standing_block(g1) and "the model read worsening" in standing_block(g1)


def goal_cards(html: str) -> list[str]:
    return re.findall(r'<article class="panel goal-card".*?</article>', html, re.S)


def standing_block(card: str) -> str:
    return re.search(r'<div class="standing">(.*?)</div>', card, re.S).group(1)
