"""While a pathological note is being scored, the real server still answers /healthz promptly.

`casenotes serve` (SQLite in a fresh data directory) is sent a note of 100,000 "!" (the
longest note the default size limit allows, and the kind that once froze every endpoint
for minutes) and, while that POST is in flight, /healthz is asked again and again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.system.live import free_port, server_environment, wait_until_healthy

pytestmark = [pytest.mark.slow, pytest.mark.system]

HEALTHZ_BOUND_SECONDS = 1.0  # the issue asks for 100 ms; generous for a shared test machine
CLIENT = "C-responsive-1"
PATHOLOGICAL_NOTE = "!" * 100_000


def _casenotes(*args: str) -> list[str]:
    return [sys.executable, "-m", "casenotes", *args]


@pytest.fixture
def server(tmp_path: Path):
    env = server_environment(tmp_path / "data", PYTHONUNBUFFERED="1")
    token = subprocess.run(_casenotes("token", "create", "--role", "ingest", "--name", "responsive"), env=env,
                           cwd=tmp_path, capture_output=True, text=True, timeout=300, check=True).stdout.strip()
    url = f"http://127.0.0.1:{free_port()}"
    with (tmp_path / "server.log").open("ab") as log:
        process = subprocess.Popen(_casenotes("serve", "--host", "127.0.0.1", "--port", url.rsplit(":", 1)[1]),
                                   env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        wait_until_healthy(url, process)
        yield url, {"Authorization": f"Bearer {token}"}
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)



def test_healthz_answers_while_a_pathological_note_is_scored(server):
    url, headers = server
    with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
        assert http.put(f"/v1/clients/{CLIENT}", json={"program": "Rapid Re-Housing"}).status_code in (200, 201)
        plan = {"goals": [{"goal_id": "G1", "text": "Move into permanent housing by June 30", "domain": "housing"},
                          {"goal_id": "G2", "text": "Save $500 for a deposit", "domain": "income"}]}
        assert http.put(f"/v1/clients/{CLIENT}/plan", json=plan).status_code in (200, 201)

    answers: list[httpx.Response] = []

    def post_note() -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
            answers.append(http.post(f"/v1/clients/{CLIENT}/notes", json={
                "note_id": "N-responsive-1", "note_date": "2026-03-14", "note_format": "narrative",
                "text": PATHOLOGICAL_NOTE}))

    posting = threading.Thread(target=post_note)
    latencies: list[float] = []
    with httpx.Client(base_url=url, timeout=120) as probe:
        posting.start()
        time.sleep(0.2)  # the note is on its way before the first probe
        while posting.is_alive():
            started = time.perf_counter()
            assert probe.get("/healthz").status_code == 200
            latencies.append(time.perf_counter() - started)
            time.sleep(0.05)
    posting.join()

    assert answers and answers[0].status_code == 201, answers and answers[0].text[:200]
    assert [goal["goal_id"] for goal in answers[0].json()["goals"]] == ["G1", "G2"]
    assert len(latencies) >= 3, f"scoring ended before /healthz was asked often enough: {latencies}"
    print(f"/healthz while scoring: {len(latencies)} probes, slowest {max(latencies) * 1000:.0f} ms, "
          f"median {sorted(latencies)[len(latencies) // 2] * 1000:.0f} ms")
    assert max(latencies) < HEALTHZ_BOUND_SECONDS, latencies
