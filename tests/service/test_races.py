"""Concurrent writes to one note or one client, and reads and writes racing the client's
erasure, each get a defined answer and never a 5xx, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from casenotes.service.api import flags
from casenotes.store.repository import Repository
from casenotes.store.tables import Client, Plan
from tests.service.conftest import PROGRAM_A
from tests.service.test_api import CRISIS_TEXT, NOTE_TEXT, PLAN, make_client, post_note

WRITERS = 6
REVISIONS_EACH = 3
PLAN_WRITERS = 10


@pytest.fixture
def racing_client(app):
    """A client that answers a server error with its 500 rather than raising it in the thread."""
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _all_at_once(calls: list[Callable[[], list[int]]]) -> list[int]:
    """Run each call on its own thread, started together; every status code they saw."""
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], list[int]]) -> list[int]:
        start.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return [status for future in [pool.submit(run, call) for call in calls] for status in future.result()]


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_concurrent_revisions_of_one_note_all_succeed_in_some_order(racing_client, tokens):
    client, ingest = racing_client, tokens("ingest")
    make_client(client, ingest)
    assert post_note(client, ingest).status_code == 201
    texts = [[f"{NOTE_TEXT} Addendum {writer}.{number}: cl called back." for number in range(REVISIONS_EACH)]
             for writer in range(WRITERS)]

    def revise(own_texts: list[str]) -> Callable[[], list[int]]:
        return lambda: [client.put("/v1/notes/N-1", headers=ingest,
                                   json={"note_date": "2026-03-15", "text": text}).status_code for text in own_texts]

    statuses = _all_at_once([revise(own) for own in texts])
    assert statuses == [200] * WRITERS * REVISIONS_EACH
    note = client.get("/v1/notes/N-1", headers=tokens("analyst")).json()
    revisions = note["revisions"]
    assert [r["revision"] for r in revisions] == list(range(1, WRITERS * REVISIONS_EACH + 2))
    sent = {_sha256(text) for own in texts for text in own}
    assert {r["sha256"] for r in revisions[1:]} == sent  # each text stored once, none lost
    assert note["text"] in {text for own in texts for text in own}
    assert note["revision"] == revisions[-1]["revision"] and note["sha256"] == revisions[-1]["sha256"]


def test_concurrent_plan_versions_of_one_client_all_succeed(racing_client, tokens):
    client, ingest = racing_client, tokens("ingest")
    make_client(client, ingest)  # version 1

    def put_plan(writer: int) -> Callable[[], list[int]]:
        plan = {**PLAN, "goals": [{**PLAN["goals"][0], "text": f"Move into permanent housing, draft {writer}"}]}
        return lambda: [client.put("/v1/clients/C-1/plan", headers=ingest, json=plan).status_code]

    assert _all_at_once([put_plan(writer) for writer in range(PLAN_WRITERS)]) == [201] * PLAN_WRITERS
    assert _plan_versions(client) == list(range(1, PLAN_WRITERS + 2))


def _plan_versions(client) -> list[int]:
    with client.app.state.services.sessions() as session:
        return list(session.scalars(select(Plan.version).join(Client).where(Client.client_id == "C-1")
                                    .order_by(Plan.version)))


def test_reads_and_writes_racing_an_erasure_get_404_not_500(racing_client, tokens):
    client, ingest, analyst, supervisor = racing_client, tokens("ingest"), tokens("analyst"), tokens("supervisor")
    for round_number in range(3):
        make_client(client, ingest)
        assert post_note(client, ingest, note_id=f"N-{round_number}-0",
                         text="D: Cl was taken to the ER after an overdose. " + NOTE_TEXT).status_code == 201
        erased = threading.Event()

        def until_erased(request: Callable[[], int]) -> Callable[[], list[int]]:
            def loop() -> list[int]:
                statuses = []
                while not erased.is_set() or len(statuses) < 2:  # keep asking across the erasure
                    statuses.append(request())
                return statuses
            return loop

        def erase() -> list[int]:
            status = client.delete("/v1/clients/C-1", headers=tokens("admin")).status_code
            erased.set()
            return [status]

        note_id = f"N-{round_number}-0"
        calls = [
            erase,
            until_erased(lambda: client.get(f"/v1/notes/{note_id}", headers=analyst).status_code),
            until_erased(lambda: client.get("/v1/clients/C-1/record", headers=supervisor).status_code),
            until_erased(lambda: client.get("/v1/flags?status=any", headers=supervisor).status_code),
            until_erased(lambda: client.put("/v1/clients/C-1/plan", headers=ingest, json=PLAN).status_code),
            lambda: [post_note(client, ingest, note_id=f"N-{round_number}-1").status_code],
            lambda: [client.put(f"/v1/notes/{note_id}", headers=ingest,
                                json={"note_date": "2026-03-15", "text": NOTE_TEXT + " Revised."}).status_code],
        ]
        statuses = _all_at_once(calls)
        assert all(200 <= status < 300 or status == 404 for status in statuses), statuses
        assert client.get("/v1/clients/C-1/record", headers=supervisor).status_code == 404


def test_a_revision_whose_client_is_erased_while_it_is_scored_is_404(racing_client, tokens, monkeypatch):
    client, ingest = racing_client, tokens("ingest")
    make_client(client, ingest)
    post_note(client, ingest)
    ingestor = client.app.state.services.ingestor
    score = ingestor._score

    def erase_then_score(*args, **kwargs):
        assert client.delete("/v1/clients/C-1", headers=tokens("admin")).status_code == 204
        return score(*args, **kwargs)

    monkeypatch.setattr(ingestor, "_score", erase_then_score)
    response = client.put("/v1/notes/N-1", headers=ingest, json={"note_date": "2026-03-15", "text": "D: revised."})
    assert response.status_code == 404


# Each request, with the client erased (by another connection) just before the named step.
VANISHING = {
    "a note read, between the note and its revision": (
        Repository, "current_revision", "GET", "/v1/notes/N-1", None, 404),
    "a plan write, before the version is numbered": (
        Repository, "store_plan", "PUT", "/v1/clients/C-1/plan", PLAN, 404),
    "a flag review, before the flag is changed": (
        Repository, "review_flag", "POST", "/v1/flags/{flag_id}/review", {"decision": "confirmed"}, 404),
    "a result review, before the review is stored": (
        Repository, "review_result", "POST", "/v1/results/{result_id}/review", {"decision": "accepted"}, 404),
    "a second erasure, after the first read the client": (
        Repository, "delete_client", "DELETE", "/v1/clients/C-1", None, 404),
    "the flag queue, between the flags and their notes": (  # the flags as they were when read
        flags, "queue_flag_out", "GET", "/v1/flags?status=any", None, 200),
}


@pytest.mark.parametrize("case", list(VANISHING))
def test_a_client_erased_in_the_middle_of_a_request_is_404_not_500(racing_client, tokens, monkeypatch, case):
    """The gaps between one request's statements: on PostgreSQL each statement sees the newest
    commits. (SQLite's transactions hold the write lock from their start, so nothing vanishes.)"""
    client = racing_client
    engine = client.app.state.services.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("on SQLite no other connection can erase during a transaction")
    owner, step, method, path, body, expected = VANISHING[case]
    make_client(client, tokens("ingest"))
    stored = post_note(client, tokens("ingest"), text=CRISIS_TEXT).json()
    path = path.format(flag_id=stored["flags"][0]["flag_id"], result_id=stored["goals"][0]["result_id"])
    original = getattr(owner, step)

    def erase_first(*args, **kwargs):
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM client WHERE client_id = 'C-1'"))
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, step, erase_first)
    assert client.request(method, path, json=body, headers=tokens("admin")).status_code == expected


class _Deadlock(Exception):
    sqlstate = "40P01"


class _Busy(Exception):
    sqlite_errorname = "SQLITE_BUSY"


@pytest.mark.parametrize("cause", [_Deadlock, _Busy])
def test_a_write_the_database_asks_to_retry_is_503_with_retry_after(racing_client, tokens, monkeypatch, cause):
    from sqlalchemy.exc import OperationalError

    make_client(racing_client, tokens("ingest"))

    def give_up(*args, **kwargs):
        raise OperationalError("UPDATE client SET program = ?", None, cause())

    monkeypatch.setattr(Repository, "store_plan", give_up)
    response = racing_client.put("/v1/clients/C-1/plan", headers=tokens("ingest"), json=PLAN)
    assert (response.status_code, response.headers["retry-after"]) == (503, "1")
    assert response.headers["x-request-id"]


def test_races_concurrent_creation_of_one_client_makes_one(client, tokens):
    """Ten PUTs of one new client at once: one 201, the rest 200, never a 500."""
    ingest = tokens("ingest")
    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(lambda _: client.put("/v1/clients/C-NEW", json={"program": PROGRAM_A},
                                                      headers=ingest).status_code, range(10)))
    assert sorted(statuses) == [200] * 9 + [201]
