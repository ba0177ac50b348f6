"""One person, many programs, over HTTP: client C-1 enrolled in program A and in program B, with a
plan and a flagged note in each. A program-B token sees none of A's notes of that person (record,
note, search, flag queue, FHIR, audit); an unscoped admin sees both. An overlapping enrollment is
refused and changes nothing; a note for a closed enrollment is refused; an unscoped writer names
the program when the person has two active enrollments. On the fake pipeline (nothing here checks
what a note says), on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from tests.service.conftest import PROGRAM_A, PROGRAM_B

PLAN_A = {"goals": [{"goal_id": "G1", "text": "Obtain stable permanent housing", "domain": "housing"}]}
PLAN_B = {"goals": [{"goal_id": "G1", "text": "Engage in mental health treatment", "domain": "mental_health"}]}
FLAGGED = ("D: Cl received a 3-day eviction notice today and was locked out of the unit. "
           "Cl disclosed SI with a plan to overdose.")
DATE = "2026-03-14"


@pytest.fixture
def pipeline(fake_pipeline):
    return fake_pipeline


def note(note_id: str, program: str | None = None, text: str = FLAGGED) -> dict:
    body = {"note_id": note_id, "note_date": DATE, "note_format": "DAP", "text": text}
    return {**body, "program": program} if program else body


@pytest.fixture
def person(client, tokens):
    """C-1 in A (by A's ingest token) and in B (by B's), each with a plan and note N-A / N-B."""
    for program, plan, note_id in ((PROGRAM_A, PLAN_A, "N-A"), (PROGRAM_B, PLAN_B, "N-B")):
        writer = tokens("ingest", program)
        made = client.put("/v1/clients/C-1", json={"program": program, "start_date": "2026-01-01"}, headers=writer)
        assert made.status_code == 201, made.text
        assert [e["program"] for e in made.json()["enrollments"]] == [program]  # its own alone
        assert client.put("/v1/clients/C-1/plan", json=plan, headers=writer).status_code == 201
        stored = client.post("/v1/clients/C-1/notes", json=note(note_id), headers=writer)
        assert stored.status_code == 201, stored.text
    return client


def enrollment_ids(client, headers) -> dict[str, int]:
    listed = client.get("/v1/clients/C-1/enrollments", headers=headers).json()["enrollments"]
    return {e["program"]: e["enrollment_id"] for e in listed}


def test_enrollments_program_b_sees_none_of_program_a_notes_of_the_same_person(person, tokens):
    client, reader = person, tokens("supervisor", PROGRAM_B)
    record = client.get("/v1/clients/C-1/record", headers=reader).json()
    assert [n["note_id"] for n in record["notes"]] == ["N-B"]
    assert [e["program"] for e in record["client"]["enrollments"]] == [PROGRAM_B]
    assert record["client"]["program"] == PROGRAM_B
    assert [(g["program"], g["text"]) for g in record["goals"]] == [(PROGRAM_B, PLAN_B["goals"][0]["text"])]
    assert [p["program"] for p in record["plans"]] == [PROGRAM_B] and record["plan"]["program"] == PROGRAM_B
    assert {f["note_id"] for f in record["open_flags"]} <= {"N-B"}
    assert client.get("/v1/notes/N-A", headers=reader).status_code == 404
    assert client.get("/v1/notes/N-B", headers=reader).status_code == 200
    assert enrollment_ids(client, reader).keys() == {PROGRAM_B}

    queue = client.get("/v1/flags?status=any", headers=reader).json()["flags"]
    assert {f["note_id"] for f in queue} <= {"N-B"} and {f["program"] for f in queue} <= {PROGRAM_B}
    of_a = [f for f in client.get("/v1/flags?status=any", headers=tokens("admin")).json()["flags"]
            if f["note_id"] == "N-A"]
    assert of_a and {f["program"] for f in of_a} == {PROGRAM_A}
    assert client.post(f"/v1/flags/{of_a[0]['flag_id']}/review", json={"decision": "confirmed"},
                       headers=reader).status_code == 404

    bundle = client.get("/v1/clients/C-1/fhir", headers=reader).text
    assert "N-A" not in bundle and "N-B" in bundle and PLAN_A["goals"][0]["text"] not in bundle

    analyst = tokens("analyst", PROGRAM_B)
    for search in ({"q": "eviction notice", "k": 10}, {"q": "eviction notice", "k": 10, "client_id": "C-1"}):
        hits = client.post("/v1/search", json=search, headers=analyst).json()["hits"]
        assert hits and {h["note_id"] for h in hits} == {"N-B"}


def test_enrollments_an_unscoped_admin_sees_the_whole_person(person, tokens):
    client, admin = person, tokens("admin")
    record = client.get("/v1/clients/C-1/record", headers=admin).json()
    assert sorted(n["note_id"] for n in record["notes"]) == ["N-A", "N-B"]
    assert record["client"]["program"] is None
    assert [e["program"] for e in record["client"]["enrollments"]] == [PROGRAM_A, PROGRAM_B]
    assert [(g["goal_id"], g["program"]) for g in record["goals"]] == [("G1", PROGRAM_A), ("G1", PROGRAM_B)]
    assert record["plan"]["program"] == PROGRAM_B  # the newest plan
    bundle = json.loads(client.get("/v1/clients/C-1/fhir", headers=admin).text)
    goals = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Goal"]
    assert len(goals) == 2 and len({g["id"] for g in goals}) == 2  # same goal id, two enrollments, two Goals
    hits = client.post("/v1/search", json={"q": "eviction notice", "k": 10}, headers=tokens("analyst")).json()["hits"]
    assert {h["note_id"] for h in hits} == {"N-A", "N-B"}


def test_enrollments_the_audit_log_of_a_program_shows_its_own_enrollments(person, tokens):
    client = person
    client.get("/v1/notes/N-A", headers=tokens("analyst", PROGRAM_A))
    client.get("/v1/notes/N-B", headers=tokens("analyst", PROGRAM_B))
    seen_by_b = client.get("/v1/audit?client_id=C-1", headers=tokens("admin", PROGRAM_B)).json()["entries"]
    assert seen_by_b and "N-A" not in {e["object_id"] for e in seen_by_b}
    assert "N-B" in {e["object_id"] for e in seen_by_b}
    every = client.get("/v1/audit?client_id=C-1", headers=tokens("admin")).json()["entries"]
    assert {"N-A", "N-B"} <= {e["object_id"] for e in every}


def test_enrollments_overlapping_is_refused_and_nothing_changes(person, tokens):
    client, writer = person, tokens("ingest", PROGRAM_A)
    before = client.get("/v1/clients/C-1/enrollments", headers=tokens("admin")).json()
    refused = client.post("/v1/clients/C-1/enrollments", json={"program": PROGRAM_A, "start_date": "2026-02-01"},
                          headers=writer)
    assert refused.status_code == 409 and "already has an active enrollment" in refused.json()["detail"]
    assert client.get("/v1/clients/C-1/enrollments", headers=tokens("admin")).json() == before
    again = client.put("/v1/clients/C-1", json={"program": PROGRAM_A}, headers=writer)  # has one: 200, no new
    assert again.status_code == 200
    assert client.get("/v1/clients/C-1/enrollments", headers=tokens("admin")).json() == before
    other = client.post("/v1/clients/C-1/enrollments", json={"program": PROGRAM_B, "start_date": "2026-02-01"},
                        headers=writer)
    assert other.status_code == 403  # a scoped token enrolls in its own program alone


def test_enrollments_a_note_for_a_closed_enrollment_is_refused(person, tokens):
    client, writer = person, tokens("ingest", PROGRAM_A)
    enrollment_id = enrollment_ids(client, writer)[PROGRAM_A]
    close = f"/v1/clients/C-1/enrollments/{enrollment_id}/close"
    assert client.post(close, json={"end_date": "2025-12-01"}, headers=writer).status_code == 409  # before start
    closed = client.post(close, json={"end_date": "2026-03-31"}, headers=writer)
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert client.post(close, json={"end_date": "2026-03-31"}, headers=writer).status_code == 409
    refused = client.post("/v1/clients/C-1/notes", json=note("N-A-2", text="Cl moved in."), headers=writer)
    assert refused.status_code == 409 and "closed" in refused.json()["detail"]
    assert client.get("/v1/notes/N-A-2", headers=tokens("admin")).status_code == 404
    replay = client.post("/v1/clients/C-1/notes", json=note("N-A"), headers=writer)
    assert replay.status_code == 200  # a note stored before the closing is still answered from the store
    assert client.get("/v1/notes/N-A", headers=tokens("analyst", PROGRAM_A)).status_code == 200
    # B's enrollment closed from A: 404, as if it did not exist
    b_id = enrollment_ids(client, tokens("admin"))[PROGRAM_B]
    assert client.post(f"/v1/clients/C-1/enrollments/{b_id}/close", json={"end_date": "2026-03-31"},
                       headers=writer).status_code == 404
    # enrolling again opens a new stay that takes notes
    reopened = client.post("/v1/clients/C-1/enrollments", json={"program": PROGRAM_A, "start_date": "2026-04-01"},
                           headers=writer)
    assert reopened.status_code == 201 and reopened.json()["enrollment_id"] != enrollment_id
    assert client.post("/v1/clients/C-1/notes", json=note("N-A-3", text="Cl is back."),
                       headers=writer).status_code == 201


def test_enrollments_an_unscoped_writer_names_the_program_when_there_are_two(person, tokens):
    client, writer = person, tokens("ingest")
    ambiguous = client.post("/v1/clients/C-1/notes", json=note("N-X", text="Cl called."), headers=writer)
    assert ambiguous.status_code == 409
    message = ambiguous.json()["detail"]
    assert "2 active enrollments" in message and PROGRAM_A not in message and PROGRAM_B not in message
    assert client.put("/v1/clients/C-1/plan", json=PLAN_A, headers=writer).status_code == 409
    named = client.post("/v1/clients/C-1/notes", json=note("N-X", PROGRAM_B, "Cl called."), headers=writer)
    assert named.status_code == 201
    assert client.get("/v1/notes/N-X", headers=tokens("analyst", PROGRAM_B)).status_code == 200
    assert client.get("/v1/notes/N-X", headers=tokens("analyst", PROGRAM_A)).status_code == 404
    plan = client.put("/v1/clients/C-1/plan", json={**PLAN_A, "program": PROGRAM_A}, headers=writer)
    assert plan.status_code == 201 and plan.json()["program"] == PROGRAM_A
    scoped_elsewhere = client.post("/v1/clients/C-1/notes", json=note("N-Y", PROGRAM_B, "Cl called."),
                                   headers=tokens("ingest", PROGRAM_A))
    assert scoped_elsewhere.status_code == 403


def test_enrollments_a_scoped_admin_may_not_erase_a_person_of_other_programs_too(person, tokens):
    client = person
    assert client.delete("/v1/clients/C-1", headers=tokens("admin", PROGRAM_B)).status_code == 409
    assert client.get("/v1/notes/N-A", headers=tokens("admin")).status_code == 200
    assert client.delete("/v1/clients/C-1", headers=tokens("admin")).status_code == 204
