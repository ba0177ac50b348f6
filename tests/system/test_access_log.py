"""Search text stays out of a real server's logs: uvicorn's access log, as `casenotes serve`
writes it, never prints a query string. The API side (search by POST, the access logger's
filter however the server is configured) is in tests/service/test_access_log.py."""

from __future__ import annotations

import subprocess
import sys

import httpx

from tests.service.test_access_log import CANARY, QUERY
from tests.system.live import free_port, server_environment, wait_until_healthy


def test_no_query_string_reaches_the_access_log(tmp_path):
    """A real `casenotes serve` with its access log on: search by GET and POST, a review page with
    a query string and the UI's search form all carry the canary; no line the server writes does."""
    env = server_environment(tmp_path / "data", CASENOTES_SECURE_COOKIES="false", PYTHONUNBUFFERED="1")
    casenotes = [sys.executable, "-m", "casenotes"]
    token = subprocess.run([*casenotes, "token", "create", "--role", "analyst"], env=env, cwd=tmp_path,
                           check=True, capture_output=True, text=True, timeout=300).stdout.strip()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen([*casenotes, "serve", "--port", str(port)], env=env, cwd=tmp_path, stdout=log,
                                  stderr=subprocess.STDOUT)
    try:
        wait_until_healthy(base)
        _search_everywhere(base, token)
    finally:
        server.terminate()
        server.wait(30)
    lines = log_path.read_text().splitlines()
    for request in ('"GET /v1/search HTTP/1.1" 200', '"POST /v1/search HTTP/1.1" 200',
                    '"GET /ui/flags HTTP/1.1" 200', '"POST /ui/search HTTP/1.1" 200'):
        assert any(request in line for line in lines), f"no access log line for {request}"
    assert not [line for line in lines if CANARY in line]


def _search_everywhere(base: str, token: str) -> None:
    api = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{base}/v1/search", params={"q": QUERY}, headers=api, timeout=60).status_code == 200
    assert httpx.post(f"{base}/v1/search", json={"q": QUERY}, headers=api, timeout=60).status_code == 200
    with httpx.Client(base_url=base, timeout=60) as browser:
        assert browser.post("/ui/login", data={"token": token}).status_code == 303
        page = browser.get("/ui/flags", params={"program": CANARY, "status": "any"})
        assert page.status_code == 200
        csrf = page.text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
        assert browser.post("/ui/search", data={"q": QUERY, "csrf_token": csrf}).status_code == 200
