"""Ingest tokens write and replay only the notes they may read: those they stored.

An ingest token reads back only the notes it ingested (GET /v1/notes/{id} is 404 for the
others). The same holds for revising (PUT, 404) and for replaying (POST of a stored note_id:
the stored results only for the token that stored it). Every note_id a caller cannot store
under answers the one 409, word for word, whether the note has another text, was stored by
another token, or belongs to another client in another program: the answer says nothing of
where the id is used. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest

from tests.service.conftest import PROGRAM_A, PROGRAM_B

PLAN = {"goals": [{"goal_id": "G1", "text": "Obtain stable permanent housing", "domain": "housing"}]}
TEXT = "Home visit. Cl signed a lease for a 1BR apartment today and moves in on the 1st."
OTHER_TEXT = "Phone call. Cl missed the appointment at the housing authority."
DATE = "2026-03-14"


@pytest.fixture
def pipeline(fake_pipeline):
    """The fake one: no test here checks what a note says, so none loads the real model."""
    return fake_pipeline


@pytest.fixture
def world(client, tokens):
    """Client C-A in program A and C-B in program B, each with a plan; a second ingest token
    for program A besides the fixture's; note N-A-1 stored by the fixture's ingest token of A."""
    from casenotes.store.credentials import make_token

    for client_id, program in (("C-A", PROGRAM_A), ("C-B", PROGRAM_B)):
        assert client.put(f"/v1/clients/{client_id}", json={"program": program},
                          headers=tokens("admin")).status_code == 201
        assert client.put(f"/v1/clients/{client_id}/plan", json=PLAN, headers=tokens("admin")).status_code == 201
    second = make_token(client.app.state.services.sessions, "ingest", PROGRAM_A, "ingest-A-second")
    stored = post(client, tokens("ingest", PROGRAM_A), "C-A", "N-A-1", TEXT)
    assert stored.status_code == 201, stored.text
    return {"owner": tokens("ingest", PROGRAM_A), "second": {"Authorization": f"Bearer {second}"},
            "stored": stored.json()}


def post(client, headers, client_id: str, note_id: str, text: str):
    return client.post(f"/v1/clients/{client_id}/notes", headers=headers,
                       json={"note_id": note_id, "note_date": DATE, "text": text})


def revise(client, headers, note_id: str, text: str):
    return client.put(f"/v1/notes/{note_id}", headers=headers, json={"note_date": DATE, "text": text})


def taken(note_id: str) -> dict:
    from casenotes.runtime.ingest import note_id_taken

    return {"detail": note_id_taken(note_id).reason}


def test_a_second_ingest_token_cannot_revise_a_note_it_cannot_read(client, tokens, world):
    assert client.get("/v1/notes/N-A-1", headers=world["second"]).status_code == 404
    refused = revise(client, world["second"], "N-A-1", OTHER_TEXT)
    assert refused.status_code == 404 and refused.json() == {"detail": "no note 'N-A-1'"}
    unscoped = revise(client, tokens("ingest"), "N-A-1", OTHER_TEXT)
    assert unscoped.status_code == 404

    note = client.get("/v1/notes/N-A-1", headers=tokens("admin")).json()
    assert note["text"] == TEXT and len(note["revisions"]) == 1, "a refused revision changed the note"

    assert revise(client, world["owner"], "N-A-1", OTHER_TEXT).status_code == 200
    assert revise(client, tokens("admin"), "N-A-1", TEXT).status_code == 200
    assert len(client.get("/v1/notes/N-A-1", headers=tokens("admin")).json()["revisions"]) == 3


def test_only_the_storing_token_gets_the_stored_results_back(client, tokens, world):
    replay = post(client, world["owner"], "C-A", "N-A-1", TEXT)
    assert replay.status_code == 200 and replay.json() == world["stored"]
    assert post(client, tokens("admin"), "C-A", "N-A-1", TEXT).status_code == 200

    for headers in (world["second"], tokens("ingest")):
        refused = post(client, headers, "C-A", "N-A-1", TEXT)
        assert refused.status_code == 409 and refused.json() == taken("N-A-1")
        assert "goals" not in refused.text and "lease" not in refused.text


def test_every_taken_note_id_answers_the_same_conflict(client, tokens, world):
    """Another text, another token, another client in another program: one answer."""
    other_text = post(client, world["owner"], "C-A", "N-A-1", OTHER_TEXT)
    other_token = post(client, world["second"], "C-A", "N-A-1", TEXT)
    other_program = post(client, tokens("ingest", PROGRAM_B), "C-B", "N-A-1", TEXT)
    other_program_text = post(client, tokens("ingest", PROGRAM_B), "C-B", "N-A-1", OTHER_TEXT)
    answers = [other_text, other_token, other_program, other_program_text]
    assert [a.status_code for a in answers] == [409] * 4
    assert all(a.json() == taken("N-A-1") for a in answers)
    assert "client" not in taken("N-A-1")["detail"] and "program" not in taken("N-A-1")["detail"]

    # A note_id that is free in program B is stored there as usual.
    assert post(client, tokens("ingest", PROGRAM_B), "C-B", "N-B-1", TEXT).status_code == 201
    assert client.get("/v1/notes/N-A-1", headers=tokens("ingest", PROGRAM_B)).status_code == 404
