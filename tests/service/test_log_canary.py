"""Note text never reaches a log line or an error body: a note holding a canary string is sent
down every error path, with every logger capturing at DEBUG (SQLAlchemy's included), on SQLite
and PostgreSQL, and the canary must appear nowhere but in the answers that return the note.
Parameters holding NUL, which PostgreSQL refuses (its error once logged the statement's
parameters), are refused before any route runs."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from casenotes.store.repository import Repository
from tests.service.conftest import PROGRAM_A
from tests.service.test_api import NOTE_TEXT, PLAN

CANARY = "Quillfeather-Zephyrine-40417"
CANARY_NOTE = f"D: Cl reported that {CANARY} called about the lease. " + NOTE_TEXT
LOGGERS = ("", "sqlalchemy", "sqlalchemy.engine", "sqlalchemy.pool", "uvicorn", "uvicorn.error", "uvicorn.access",
           "casenotes", "fastapi", "starlette", "psycopg")
CLIENT_SIDE_LOGGERS = ("httpx", "httpcore")  # the test's own HTTP client, which logs the URLs it requests


@pytest.fixture
def pipeline(fake_pipeline):
    """The fake one: no test here checks what a note says, so none loads the real model."""
    return fake_pipeline


def note(note_id: str = "N-1", words: str = CANARY_NOTE, **extra) -> dict:
    return {"note_id": note_id, "note_date": "2026-03-14", "note_format": "DAP", "text": words, **extra}


def test_canary_text_is_in_no_log_line_and_no_error_body(client, tokens, caplog, capfd, monkeypatch):
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    ingest, seen = tokens("ingest"), []

    def send(method: str, path: str, expected: int | tuple[int, ...], **kwargs) -> None:
        response = client.request(method, path, **kwargs)
        assert response.status_code in (expected if isinstance(expected, tuple) else (expected,)), (method, path)
        seen.append((response.status_code, response.text))

    send("PUT", "/v1/clients/C-1", 201, json={"program": PROGRAM_A}, headers=ingest)
    send("PUT", "/v1/clients/C-1/plan", 201, json=PLAN, headers=ingest)
    send("POST", "/v1/clients/C-1/notes", 201, json=note(), headers=ingest)
    # Refusals: a conflict, a note too large, invalid fields, no token, the wrong role, no such client.
    send("POST", "/v1/clients/C-1/notes", 409, json=note(words=CANARY_NOTE + " Other text."), headers=ingest)
    send("POST", "/v1/clients/C-1/notes", 413, json=note("N-2", CANARY_NOTE * 600), headers=ingest)
    send("POST", "/v1/clients/C-1/notes", 422, json=note("N-3", note_date=CANARY), headers=ingest)
    send("POST", "/v1/clients/C-1/notes", 422, json=note("N-3", colour=CANARY), headers=ingest)
    send("POST", "/v1/clients/C-1/notes", 422, json=note("N-3", CANARY_NOTE + "\x00"), headers=ingest)
    send("PUT", "/v1/clients/C-1/plan", (409, 422), headers=ingest,  # a goal id twice
         json={"goals": [{"goal_id": "G1", "text": CANARY, "domain": "housing"}] * 2})
    send("POST", "/v1/clients/C-1/notes", 401, json=note("N-3"))
    send("POST", "/v1/clients/C-1/notes", 403, json=note("N-3"), headers=tokens("analyst"))
    send("POST", "/v1/clients/C-404/notes", 404, json=note("N-3"), headers=ingest)
    send("PUT", "/v1/notes/N-404", 404, json={"note_date": "2026-03-15", "text": CANARY_NOTE}, headers=ingest)
    # NUL in query and path parameters, on the API and the review pages.
    supervisor, analyst = tokens("supervisor"), tokens("analyst")
    send("GET", "/v1/flags", 422, params={"program": f"{CANARY}\x00"}, headers=supervisor)
    send("GET", "/v1/search", 422, params={"q": f"{CANARY}\x00"}, headers=analyst)
    send("GET", f"/v1/clients/{CANARY}%00/record", 422, headers=supervisor)
    send("POST", "/ui/login", 303, data={"token": supervisor["Authorization"].removeprefix("Bearer ")},
         follow_redirects=False)
    send("GET", "/ui/flags", 400, params={"program": f"{CANARY}\x00"})
    client.cookies.clear()
    # The revision race, then database errors forced mid-request.
    _revise_concurrently(client, ingest)
    _force_database_errors(monkeypatch)
    send("POST", "/v1/clients/C-1/notes", 500, json=note("N-5"), headers=ingest)
    send("POST", "/v1/clients/C-1/notes", 500, json=note("N-6"), headers=ingest)
    send("POST", "/v1/clients/C-1/notes", 500, json=note("N-7"), headers=ingest)

    logged = _captured_log(caplog) + "".join(capfd.readouterr())
    assert CANARY not in logged
    assert "parameters hidden due to hide_parameters=True" in logged   # SQLAlchemy's statements were captured
    assert logged.count("POST /v1/clients/{client_id}/notes failed") == 3
    assert not [body for status, body in seen if status >= 400 and CANARY in body]


def _revise_concurrently(client, ingest: dict[str, str], writers: int = 6) -> None:
    start = threading.Barrier(writers)

    def revise(writer: int) -> int:
        start.wait()
        return client.put("/v1/notes/N-1", headers=ingest,
                          json={"note_date": "2026-03-15", "text": f"{CANARY_NOTE} Addendum {writer}."}).status_code

    with ThreadPoolExecutor(writers) as pool:
        assert list(pool.map(revise, range(writers))) == [200] * writers


def _force_database_errors(monkeypatch) -> None:
    """Make the next three note writes fail in the database, each with the note's text in it: as
    a statement parameter, in the row a constraint quotes (PostgreSQL's 'Failing row contains
    (...)'), and in an exception's own message."""
    failures = iter([
        lambda session, words: session.execute(text("SELECT * FROM no_such_table WHERE x = :t"), {"t": words}),
        lambda session, words: session.execute(text("INSERT INTO client (client_id, created_at) VALUES (:t, NULL)"),
                                               {"t": words[:100]}),
        _refuse_in_message,
    ])

    def add_note(self, client, fields, *args, **kwargs):
        next(failures)(self.session, fields.text)

    monkeypatch.setattr(Repository, "add_note", add_note)


def _refuse_in_message(session, words: str) -> None:
    raise ValueError(f"cannot store {words!r}")


def _captured_log(caplog: pytest.LogCaptureFixture) -> str:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(record) for record in caplog.records
                     if not record.name.startswith(CLIENT_SIDE_LOGGERS))


@pytest.mark.parametrize("path, role, field", [
    ("/v1/flags?program=a%00b", "supervisor", ["query", "program"]),
    ("/v1/flags?type=legal&status=open&cursor=a%00b", "supervisor", ["query", "cursor"]),
    ("/v1/search?q=a%00b", "analyst", ["query", "q"]),
    ("/v1/audit?client_id=C-1%00", "admin", ["query", "client_id"]),
    ("/v1/clients/C-1%00/record", "supervisor", ["path", "client_id"]),
    ("/v1/notes/N-1%00", "analyst", ["path", "note_id"]),
    ("/v1/flags?a%00b=1", "supervisor", ["query"]),
])
def test_nul_in_any_parameter_is_refused_before_the_database(client, tokens, path, role, field):
    response = client.get(path, headers=tokens(role))
    assert response.status_code == 422
    assert response.json()["detail"] == [{"loc": field, "type": "value_error",
                                          "msg": "contains an unstorable character (NUL or unpaired surrogate)"}]


@pytest.mark.parametrize("path", ["/ui/flags?program=a%00b", "/ui/flags?status=open&type=a%00b",
                                  "/ui/clients/C-1%00", "/ui/notes/N-1%00"])
def test_nul_in_a_review_page_parameter_is_refused(client, tokens, path):
    token = tokens("supervisor")["Authorization"].removeprefix("Bearer ")
    assert client.post("/ui/login", data={"token": token}, follow_redirects=False).status_code == 303
    response = client.get(path, headers={"Accept": "application/json"})
    assert response.status_code == 400 and response.json()["detail"]
