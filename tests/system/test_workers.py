"""Two uvicorn workers on PostgreSQL: metrics and rate limits hold across workers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import fresh_postgres_database
from tests.system.live import free_port

pytestmark = [pytest.mark.slow, pytest.mark.system]
CASENOTES = str(Path(sys.executable).with_name("casenotes"))
LIMIT = 40
METRICS_TOKEN = "scraper-" + "m" * 24


@pytest.fixture
def two_workers(tmp_path):
    import redis
    redis_url = "redis://127.0.0.1:6379/15"
    redis.Redis.from_url(redis_url).flushdb()
    database = fresh_postgres_database()
    url = next(database)
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = {**os.environ, "CASENOTES_DATABASE_URL": url, "CASENOTES_DATA_DIR": str(tmp_path / "data"),
           "CASENOTES_REDIS_URL": redis_url, "CASENOTES_RATE_LIMIT_PER_MINUTE": str(LIMIT),
           "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "HF_HUB_OFFLINE": "1",
           "CASENOTES_METRICS_TOKEN": METRICS_TOKEN}
    token = subprocess.run([CASENOTES, "token", "create", "--role", "analyst"], env=env, check=True,
                           capture_output=True, text=True).stdout.strip()
    port = free_port()
    server = subprocess.Popen([CASENOTES, "serve", "--port", str(port), "--workers", "2"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_both_workers_answer(base)
        yield base, token, metrics_dir
    finally:
        server.terminate()
        server.wait(30)
        next(database, None)


def _wait_until_both_workers_answer(base: str) -> None:
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                time.sleep(15)  # the second worker loads its model a little later
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise AssertionError("the server did not start")


def test_workers_share_metrics_and_the_rate_limit(two_workers):
    base, token, metrics_dir = two_workers
    headers = {"Authorization": f"Bearer {token}"}
    time.sleep(60 - time.time() % 60 + 0.5)  # the burst starts a fresh one-minute window
    statuses = []
    for _ in range(LIMIT + 5):
        with httpx.Client() as fresh_connection:  # a new connection each time, so either worker may answer
            statuses.append(fresh_connection.get(f"{base}/v1/flags", headers=headers).status_code)
    assert statuses.count(200) == LIMIT and statuses.count(429) == 5
    assert statuses[:LIMIT] == [200] * LIMIT
    assert httpx.get(f"{base}/metrics").status_code == 401
    metrics = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
    assert f'casenotes_http_requests_total{{method="GET",route="/v1/flags",status="200"}} {float(LIMIT)}' in metrics
    assert 'casenotes_http_requests_total{method="GET",route="/v1/flags",status="429"} 5.0' in metrics
    writers = {p.name.rsplit("_", 1)[-1] for p in metrics_dir.glob("counter_*.db")}
    assert len(writers) == 2, "both workers should have served requests"
