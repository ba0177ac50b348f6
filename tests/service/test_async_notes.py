"""Accept now, score next, over HTTP: `Prefer: respond-async` answers 202 with a Location that
turns from pending to scored; idempotency holds across the two modes; dead letters are listed
and retried by an admin; subscribed receivers get signed events. On SQLite (the in-process
worker) and on PostgreSQL (a procrastinate worker in the service process)."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from standardwebhooks.webhooks import Webhook

from tests.service.conftest import PROGRAM_A

NOTE = {"note_id": "N-1", "note_date": "2026-03-02", "text": "Cl signed the lease for the apartment today."}
ASYNC = {"Prefer": "respond-async"}


@pytest.fixture
def pipeline(fake_pipeline):
    return fake_pipeline


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"webhook_allow": ["127.0.0.1"], "scoring_workers": 2, "send_webhooks": True})


@pytest.fixture
def admin(tokens):
    return tokens("admin")


@pytest.fixture
def with_client(client, admin):
    assert client.put("/v1/clients/C-1", json={"program": PROGRAM_A}, headers=admin).status_code == 201
    goals = [{"goal_id": "G1", "text": "Sign a lease", "domain": "housing"}]
    assert client.put("/v1/clients/C-1/plan", json={"goals": goals}, headers=admin).status_code == 201
    return client


def _until_scored(client, headers, note_id: str = "N-1", timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/v1/notes/{note_id}", headers=headers).json()
        if body["status"] != "pending":
            return body
        time.sleep(0.1)
    raise AssertionError(f"note {note_id} still pending after {timeout} s")


def test_respond_async_answers_202_pending_then_the_note_is_scored(with_client, tokens, admin):
    posted = with_client.post("/v1/clients/C-1/notes", json=NOTE, headers={**tokens("ingest"), **ASYNC})
    assert posted.status_code == 202
    assert posted.headers["Location"] == "/v1/notes/N-1"
    assert posted.headers["Preference-Applied"] == "respond-async"
    body = posted.json()
    assert body["status"] == "pending" and body["goals"] == [] and body["model_version"] is None
    scored = _until_scored(with_client, admin)
    assert scored["status"] == "scored" and [g["goal_id"] for g in scored["goals"]] == ["G1"]
    assert scored["revisions"][0]["status"] == "scored"


def test_idempotent_on_note_id_across_the_two_modes(with_client, tokens, admin):
    ingest = tokens("ingest")
    assert with_client.post("/v1/clients/C-1/notes", json=NOTE, headers={**ingest, **ASYNC}).status_code == 202
    again = with_client.post("/v1/clients/C-1/notes", json=NOTE, headers=ingest)
    assert again.status_code == 200 and again.json()["note_id"] == "N-1"
    _until_scored(with_client, admin)
    second = {**NOTE, "note_id": "N-2"}
    assert with_client.post("/v1/clients/C-1/notes", json=second, headers=ingest).status_code == 201
    replay = with_client.post("/v1/clients/C-1/notes", json=second, headers={**ingest, **ASYNC})
    assert replay.status_code == 200 and replay.json()["status"] == "scored"
    assert "Location" not in replay.headers
    other_text = with_client.post("/v1/clients/C-1/notes", json={**second, "text": "Another text."},
                                  headers={**ingest, **ASYNC})
    assert other_text.status_code == 409


def test_without_the_header_the_call_answers_scored_as_before(with_client, tokens):
    posted = with_client.post("/v1/clients/C-1/notes", json=NOTE, headers=tokens("ingest"))
    assert posted.status_code == 201 and posted.json()["status"] == "scored" and "Location" not in posted.headers


def test_a_revision_accepted_async_is_scored_next(with_client, tokens, admin):
    ingest = tokens("ingest")
    with_client.post("/v1/clients/C-1/notes", json=NOTE, headers=ingest)
    revised = with_client.put("/v1/notes/N-1", headers={**ingest, **ASYNC},
                              json={"note_date": "2026-03-03", "text": "Cl moved into the apartment."})
    assert revised.status_code == 202 and revised.json()["status"] == "pending" and revised.json()["revision"] == 2
    assert _until_scored(with_client, admin)["revision"] == 2


@pytest.fixture
def quick_retries(monkeypatch):
    """Retries without the backoff waits (set before the service builds its workers)."""
    from casenotes.runtime import inprocess_worker, procrastinate_queue

    monkeypatch.setattr(inprocess_worker, "retry_delay", lambda attempts: inprocess_worker.timedelta(0))
    monkeypatch.setattr(procrastinate_queue, "RETRY_BASE_SECONDS", 0)


def test_dead_letters_are_listed_for_admins_and_retried(quick_retries, with_client, tokens, admin, monkeypatch):
    pipeline = with_client.app.state.services.pipeline
    real = pipeline.read_many

    def broken(pairs):
        raise RuntimeError("Cl signed the lease")  # an error that quotes a note must not be shown

    monkeypatch.setattr(pipeline, "read_many", broken)
    monkeypatch.setattr(pipeline, "read", broken, raising=False)
    with_client.post("/v1/clients/C-1/notes", json=NOTE, headers={**tokens("ingest"), **ASYNC})
    failed = _until_scored(with_client, admin)
    assert failed["status"] == "failed" and failed["error"] == "RuntimeError while scoring"
    jobs = with_client.get("/v1/jobs?state=failed", headers=admin).json()["jobs"]
    assert [(j["note_id"], j["state"]) for j in jobs] == [("N-1", "failed")]
    assert with_client.get("/v1/jobs", headers=tokens("supervisor")).status_code == 403

    monkeypatch.setattr(pipeline, "read_many", real)
    assert with_client.post("/v1/jobs/N-1/retry", headers=admin).status_code == 202
    assert _until_scored(with_client, admin)["status"] == "scored"
    assert with_client.post("/v1/jobs/N-1/retry", headers=admin).status_code == 409


class _Receiver(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 - the http.server name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    _Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def test_a_subscriber_gets_signed_events_without_note_text(with_client, tokens, admin, receiver):
    url = f"http://127.0.0.1:{receiver.server_port}/hook"
    created = with_client.post("/v1/webhooks", headers=admin,
                               json={"program": PROGRAM_A, "url": url, "events": ["note.scored"]})
    assert created.status_code == 201
    secret = created.json()["secret"]
    assert "secret" not in with_client.get("/v1/webhooks", headers=admin).json()["webhooks"][0]
    with_client.post("/v1/clients/C-1/notes", json=NOTE, headers={**tokens("ingest"), **ASYNC})
    deadline = time.monotonic() + 60
    while not _Receiver.received and time.monotonic() < deadline:
        time.sleep(0.1)
    headers, body = _Receiver.received[0]
    event = Webhook(secret).verify(body, {k.lower(): v for k, v in headers.items()})
    assert event["type"] == "note.scored" and event["data"]["note_id"] == "N-1"
    assert NOTE["text"] not in body.decode()
    log = with_client.get(f"/v1/webhooks/{created.json()['id']}/deliveries", headers=admin).json()["deliveries"]
    assert log[0]["state"] == "delivered" and log[0]["event_id"] == headers["webhook-id"]


@pytest.mark.parametrize("url", ["http://10.0.0.1/hook", "http://169.254.169.254/latest", "ftp://example.org/x",
                                 "http://nonexistent.invalid/hook"])
def test_a_webhook_target_inside_or_nowhere_is_refused_with_a_reason(with_client, admin, url):
    refused = with_client.post("/v1/webhooks", headers=admin,
                               json={"program": PROGRAM_A, "url": url, "events": ["flag.raised"]})
    if url.startswith("ftp"):
        assert refused.status_code == 422  # the schema says http(s)
    else:
        assert refused.status_code == 409 and "webhook URL" in refused.json()["detail"]


def test_metrics_show_the_scoring_queue(with_client, admin):
    body = with_client.get("/metrics", headers=admin).text
    assert "casenotes_scoring_jobs_pending" in body and "casenotes_scoring_oldest_pending_seconds" in body


def test_an_admin_rotates_replays_and_ends_a_subscription(with_client, tokens, admin, receiver):
    url = f"http://127.0.0.1:{receiver.server_port}/hook"
    created = with_client.post("/v1/webhooks", headers=admin,
                               json={"program": PROGRAM_A, "url": url, "events": ["note.scored"]}).json()
    rotated = with_client.post(f"/v1/webhooks/{created['id']}/rotate", headers=admin)
    assert rotated.status_code == 200 and rotated.json()["secret"] != created["secret"]
    with_client.post("/v1/clients/C-1/notes", json=NOTE, headers=tokens("ingest"))
    deliveries = f"/v1/webhooks/{created['id']}/deliveries"
    deadline = time.monotonic() + 60
    while with_client.get(deliveries, headers=admin).json()["deliveries"][0]["state"] != "delivered":
        assert time.monotonic() < deadline, "the delivery was never made"
        time.sleep(0.1)
    first = with_client.get(deliveries, headers=admin).json()["deliveries"][0]
    replayed = with_client.post(f"/v1/webhooks/deliveries/{first['id']}/replay", headers=admin).json()
    assert replayed["event_id"] == first["event_id"] and replayed["state"] == "pending"
    for secret in (created["secret"], rotated.json()["secret"]):  # both sign while the old one lasts
        headers, body = _Receiver.received[0]
        assert Webhook(secret).verify(body, {k.lower(): v for k, v in headers.items()})["type"] == "note.scored"
    assert with_client.delete(f"/v1/webhooks/{created['id']}", headers=admin).status_code == 204
    listed = with_client.get("/v1/webhooks", headers=admin).json()["webhooks"]
    assert listed[0]["disabled_at"] is not None
    assert with_client.post(f"/v1/webhooks/{created['id']}/rotate", headers=tokens("supervisor")).status_code == 403


def test_an_accepted_note_and_its_audit_row_are_stored_together_and_a_replay_is_audited_as_a_read(
        with_client, tokens, admin):
    ingest = tokens("ingest")
    posted = with_client.post("/v1/clients/C-1/notes", json=NOTE, headers={**ingest, **ASYNC})
    assert posted.status_code == 202 and posted.json()["sha256"] and posted.json()["plan_version"] == 1
    assert with_client.post("/v1/clients/C-1/notes", json=NOTE, headers={**ingest, **ASYNC}).status_code == 200
    entries = with_client.get("/v1/audit", params={"client_id": "C-1"}, headers=admin).json()["entries"]
    about_note = [(e["action"], e["request_id"]) for e in entries if e["object_id"] == "N-1"]
    assert [action for action, _ in reversed(about_note)] == ["ingest", "read"]
    assert about_note[-1][1] == posted.headers["X-Request-ID"]
