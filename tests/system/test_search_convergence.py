"""Every worker's search index converges to the database, with real worker processes:
notes posted to `casenotes serve --workers 2` on PostgreSQL are found once each by every
search, on either worker, and again after a restart. The in-process cases (workers sharing
one database, commits in any order, erasure, restarts) are in
tests/service/test_search_convergence.py."""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import PROGRAM_A, fresh_postgres_database
from tests.service.test_search_convergence import NOTE_DATE, TOPICS
from tests.system.live import free_port, server_environment

CASENOTES = str(Path(sys.executable).with_name("casenotes"))


@pytest.mark.slow
def test_convergence_serve_with_two_workers_finds_every_note_on_every_search(tmp_path):
    """~30 notes posted from 4 callers to `serve --workers 2` on PostgreSQL: every search, on
    fresh connections (so on either worker), returns each note once; so does one worker after
    a restart."""
    database = fresh_postgres_database()
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = server_environment(tmp_path / "data", CASENOTES_DATABASE_URL=next(database),
                             PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    try:
        ingest, analyst = (subprocess.run([CASENOTES, "token", "create", "--role", role], env=env, check=True,
                                          capture_output=True, text=True).stdout.strip()
                           for role in ("ingest", "analyst"))
        with _serving(env, workers=2) as base:
            _post_notes(base, ingest, count=30)
            for _ in range(8):
                assert _found_notes(base, analyst) == {f"N-{n}" for n in range(30)}
        writers = {p.name.rsplit("_", 1)[-1] for p in metrics_dir.glob("counter_*.db")}
        assert len(writers) == 2, "both workers should have served requests"
        with _serving(env, workers=1) as base:
            assert _found_notes(base, analyst) == {f"N-{n}" for n in range(30)}
    finally:
        next(database, None)


class _serving:  # noqa: N801 - used as a context manager
    def __init__(self, env: dict[str, str], workers: int) -> None:
        self.env, self.workers, self.port = env, workers, free_port()

    def __enter__(self) -> str:
        self.server = subprocess.Popen([CASENOTES, "serve", "--port", str(self.port), "--workers", str(self.workers)],
                                       env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 240
        while time.time() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    time.sleep(15 if self.workers > 1 else 0)  # the second worker loads its model a little later
                    return base
            except httpx.HTTPError:
                pass
            time.sleep(1)
        self.server.kill()
        raise AssertionError("the server did not start")

    def __exit__(self, *exc: object) -> None:
        self.server.terminate()
        self.server.wait(60)


def _post_notes(base: str, token: str, count: int) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    for client in range(4):
        assert httpx.put(f"{base}/v1/clients/C-{client}", headers=headers, json={"program": PROGRAM_A},
                         timeout=30).status_code in (200, 201)

    def post(n: int) -> int:
        with httpx.Client(timeout=120) as fresh_connection:  # either worker may take it
            return fresh_connection.post(f"{base}/v1/clients/C-{n % 4}/notes", headers=headers, json={
                "note_id": f"N-{n}", "note_date": NOTE_DATE.isoformat(),
                "text": f"Cl {TOPICS[n % len(TOPICS)]} on visit {n}."}).status_code

    with ThreadPoolExecutor(4) as pool:
        assert set(pool.map(post, range(count))) == {201}


def _found_notes(base: str, token: str) -> set[str]:
    """The note ids of one search wide enough to return every segment of the notes posted."""
    with httpx.Client(timeout=60) as fresh_connection:
        response = fresh_connection.get(f"{base}/v1/search", params={"q": "client visit", "k": 50},
                                        headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    hits = [(h["note_id"], h["citation"]["start"]) for h in response.json()["hits"]]
    assert len(hits) < 50 and len(set(hits)) == len(hits), "a segment returned twice"
    return {note_id for note_id, _ in hits}
