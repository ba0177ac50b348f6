"""Accepted is scored, exactly once, whatever is killed: the API right after a burst of 202s,
a scoring worker in the middle of a job. Real processes (`casenotes serve`, `casenotes worker`)
with the packaged model; a webhook receiver on loopback counts the `note.scored` events.

On SQLite the API scores in its own process: killed with notes pending, it scores them when it
starts again. On PostgreSQL the API runs no worker (`--no-worker`) and `casenotes worker`
processes score; one is killed mid-job, and the next takes its stalled jobs over; one stopped
mid-job (SIGTERM) finishes the jobs in hand and leaves the rest queued for the next.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import httpx
import psycopg
import pytest
from standardwebhooks.webhooks import Webhook

from casenotes.runtime.procrastinate_queue import TASK, conninfo
from tests.conftest import fresh_postgres_database
from tests.system.live import CasenotesProcess, free_port, make_token, server_environment

pytestmark = [pytest.mark.slow, pytest.mark.system]

NOTES = 24
CLIENT = "C-async-1"
GOALS = [{"goal_id": "G1", "text": "Sign a lease for a 2BR unit by 11/30", "domain": "housing"},
         {"goal_id": "G2", "text": "Obtain employment of at least 25 hrs/week", "domain": "employment"}]
ASYNC = {"Prefer": "respond-async"}
SCORED_WITHIN_SECONDS = 300


def _note(i: int) -> dict:
    middle = ["Cl viewed the 2BR at {n} Poplar Ave and turned in the application.",
              "Cl started a part-time job at the grocery, {n} hrs/wk.",
              "Cl got a notice from the landlord about ${n} in back rent."][i % 3].format(n=20 + i)
    return {"note_id": f"N-async-{i:03d}", "note_date": f"2025-10-{1 + i % 28:02d}",
            "text": f"Home visit w/ cl. {middle} CM to follow up Monday."}


class _Receiver(BaseHTTPRequestHandler):
    """Verifies each event's signature as it arrives (a receiver must: signatures carry a timestamp)."""

    secret = ""
    events: list = []  # (webhook-id, event)
    lock = threading.Lock()

    def do_POST(self):  # noqa: N802 - the http.server name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        headers = {k.lower(): v for k, v in self.headers.items()}
        event = Webhook(self.secret).verify(body, headers)
        with self.lock:
            self.events.append((headers["webhook-id"], event))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    _Receiver.events = []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def _set_up(url: str, admin: dict, receiver: HTTPServer) -> None:
    assert httpx.put(f"{url}/v1/clients/{CLIENT}", json={"program": "Rapid Re-Housing"}, headers=admin).status_code == 201
    assert httpx.put(f"{url}/v1/clients/{CLIENT}/plan", json={"goals": GOALS}, headers=admin).status_code == 201
    hook = httpx.post(f"{url}/v1/webhooks", headers=admin, json={
        "program": "Rapid Re-Housing", "url": f"http://127.0.0.1:{receiver.server_port}/hook",
        "events": ["note.scored"]})
    assert hook.status_code == 201, hook.text
    _Receiver.secret = hook.json()["secret"]


def _burst(url: str, ingest: dict, notes: int = NOTES) -> list[str]:
    """Post `notes` notes with `Prefer: respond-async` from four threads; the ids answered 202."""
    def post(note: dict) -> str:
        answer = httpx.post(f"{url}/v1/clients/{CLIENT}/notes", json=note, headers={**ingest, **ASYNC}, timeout=60)
        assert answer.status_code == 202, answer.text
        return note["note_id"]

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(post, [_note(i) for i in range(notes)]))


def _until_all_scored(url: str, admin: dict, note_ids: list[str]) -> dict[str, dict]:
    deadline = time.monotonic() + SCORED_WITHIN_SECONDS
    while True:
        notes = {n: httpx.get(f"{url}/v1/notes/{n}", headers=admin, timeout=30).json() for n in note_ids}
        if all(body["status"] == "scored" for body in notes.values()) or time.monotonic() > deadline:
            return notes
        time.sleep(1)


def _check_scored_once(notes: dict[str, dict]) -> None:
    for note_id, body in notes.items():
        assert body["status"] == "scored", note_id
        assert sorted(g["goal_id"] for g in body["goals"]) == ["G1", "G2"], note_id  # once each, not twice
        assert len(body["revisions"]) == 1, note_id


def _check_events(note_ids: list[str]) -> None:
    """Every note's `note.scored` arrived, signed; repeats of one event carry one webhook-id."""
    deadline = time.monotonic() + 60
    while len({event["data"]["note_id"] for _, event in _Receiver.events}) < len(note_ids):
        assert time.monotonic() < deadline, "some note.scored events never arrived"
        time.sleep(0.5)
    ids_by_note = defaultdict(set)
    for webhook_id, event in _Receiver.events:
        ids_by_note[event["data"]["note_id"]].add(webhook_id)
    assert set(ids_by_note) == set(note_ids)
    assert all(len(ids) == 1 for ids in ids_by_note.values())


def test_sqlite_an_api_killed_after_a_burst_of_202s_scores_every_note_once_when_it_starts_again(tmp_path, receiver):
    env = server_environment(tmp_path / "data", CASENOTES_WEBHOOK_ALLOW='["127.0.0.1"]', PYTHONUNBUFFERED="1")
    admin = {"Authorization": f"Bearer {make_token('admin', env, tmp_path)}"}
    ingest = {"Authorization": f"Bearer {make_token('ingest', env, tmp_path)}"}
    port = free_port()
    api = CasenotesProcess(["serve", "--port", str(port)], env, tmp_path, tmp_path / "serve.log")
    try:
        url = f"http://127.0.0.1:{port}"
        api.wait_ready(url)
        _set_up(url, admin, receiver)
        accepted = _burst(url, ingest)
        api.kill()  # at once: most notes are still pending
        api = CasenotesProcess(["serve", "--port", str(port)], env, tmp_path, tmp_path / "serve.log")
        api.wait_ready(url)
        _check_scored_once(_until_all_scored(url, admin, accepted))
        _check_events(accepted)
    finally:
        api.close()


@pytest.fixture
def postgres_url():
    yield from fresh_postgres_database()


@dataclass
class _PostgresDeployment:
    """An API without a worker (`serve --no-worker`) on a fresh PostgreSQL, and scoring workers
    started beside it; the headers of an admin and an ingest token."""

    tmp_path: Path
    env: dict[str, str]
    admin: dict[str, str]
    ingest: dict[str, str]
    port: int

    @classmethod
    def make(cls, tmp_path: Path, postgres_url: str, stalled_seconds: int) -> _PostgresDeployment:
        env = server_environment(tmp_path / "data", CASENOTES_DATABASE_URL=postgres_url, PYTHONUNBUFFERED="1",
                                 CASENOTES_WEBHOOK_ALLOW='["127.0.0.1"]',
                                 CASENOTES_WORKER_STALLED_SECONDS=str(stalled_seconds))

        def bearer(role: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {make_token(role, env, tmp_path)}"}

        return cls(tmp_path, env, bearer("admin"), bearer("ingest"), free_port())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def serve(self) -> CasenotesProcess:
        api = CasenotesProcess(["serve", "--port", str(self.port), "--no-worker"], self.env, self.tmp_path,
                               self.tmp_path / "serve.log")
        api.wait_ready(self.url)
        return api

    def worker(self, number: int) -> CasenotesProcess:
        return CasenotesProcess(["worker", "--concurrency", "2"], self.env, self.tmp_path,
                                self.tmp_path / f"worker-{number}.log")


def test_postgresql_killed_api_and_killed_worker_lose_no_note_and_score_none_twice(tmp_path, receiver, postgres_url):
    stack = _PostgresDeployment.make(tmp_path, postgres_url, stalled_seconds=6)
    api = stack.serve()
    worker = None
    try:
        _set_up(stack.url, stack.admin, receiver)
        accepted = _burst(stack.url, stack.ingest, notes=60)  # enough that a worker is caught mid-queue
        api.kill()
        api = stack.serve()
        assert all(httpx.get(f"{stack.url}/v1/notes/{n}", headers=stack.admin).json()["status"] == "pending"
                   for n in accepted)

        worker = stack.worker(1)
        _wait_until_mid_job(postgres_url, len(accepted))
        worker.kill()  # mid-job: its jobs in hand stay `doing` until the next worker finds them stalled
        worker = stack.worker(2)
        _check_scored_once(_until_all_scored(stack.url, stack.admin, accepted))
        _check_events(accepted)
    finally:
        api.close()
        if worker is not None:
            worker.close()


def test_postgresql_a_worker_stopped_mid_job_finishes_what_it_holds_and_leaves_the_rest_queued(
        tmp_path, receiver, postgres_url):
    # Stalled jobs are taken over only after 10 minutes here: a job the stopped worker left
    # `doing` would keep its note pending past the deadline, so every note scored means the
    # stop released nothing half done.
    stack = _PostgresDeployment.make(tmp_path, postgres_url, stalled_seconds=600)
    api = stack.serve()
    worker = None
    try:
        _set_up(stack.url, stack.admin, receiver)
        accepted = _burst(stack.url, stack.ingest, notes=60)
        worker = stack.worker(1)
        _wait_until_mid_job(postgres_url, len(accepted))
        assert worker.stop() == 0
        assert _jobs_by_status(postgres_url).get("doing", 0) == 0  # nothing left half done
        worker = stack.worker(2)
        _check_scored_once(_until_all_scored(stack.url, stack.admin, accepted))
        _check_events(accepted)
    finally:
        api.close()
        if worker is not None:
            worker.close()


def _jobs_by_status(postgres_url: str) -> dict[str, int]:
    with psycopg.connect(conninfo(postgres_url), autocommit=True) as connection:
        return dict(connection.execute("SELECT status, count(*) FROM procrastinate_jobs WHERE task_name = %s "
                                       "GROUP BY status", [TASK]).fetchall())


def _wait_until_mid_job(postgres_url: str, total: int) -> None:
    """Until the worker has scored some notes and holds a job in hand (read from the database:
    quick enough to catch the moment)."""
    deadline = time.monotonic() + SCORED_WITHIN_SECONDS
    with psycopg.connect(conninfo(postgres_url), autocommit=True) as connection:
        while time.monotonic() < deadline:
            scored = connection.execute("SELECT count(*) FROM note_revision WHERE scoring_state = 'scored'"
                                        ).fetchone()[0]
            doing = connection.execute("SELECT count(*) FROM procrastinate_jobs WHERE status = 'doing' "
                                       "AND task_name = %s", [TASK]).fetchone()[0]
            if scored and doing:
                return
            assert scored < total, "the worker scored every note before it could be killed"
            time.sleep(0.02)
    raise AssertionError("the worker scored nothing")
