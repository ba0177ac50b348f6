"""Request bodies against a real `casenotes serve` (SQLite): no body is read for a caller
without a credential, a body is refused the moment it passes the limit however it is sent,
and a body that stops arriving is answered and its connection closed, so none of them can
make the server hold memory or a connection. Bodies go through a raw socket, the way an
attacker would send them: chunked, or with a Content-Length the sender does not keep to.
"""

from __future__ import annotations

import select
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.system.live import free_port, server_environment, wait_until_healthy

MAX_NOTE_CHARS = 20_000
BODY_LIMIT = MAX_NOTE_CHARS * 4 + 64 * 1024     # as casenotes/service/app.py derives it
STALL_SECONDS = 1
HUGE = 300 * 2**20
RSS_GROWTH_MB = 20
CLIENT = "C-limits-1"
NOTES = f"/v1/clients/{CLIENT}/notes"


@dataclass
class Live:
    port: int
    pid: int
    token: str

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_mb(self) -> float:
        status = Path(f"/proc/{self.pid}/status").read_text()
        kilobytes = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
        return kilobytes / 1024


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    work = tmp_path_factory.mktemp("body-limits")
    env = server_environment(work / "data", CASENOTES_BODY_STALL_SECONDS=str(STALL_SECONDS),
                             CASENOTES_MAX_NOTE_CHARS=str(MAX_NOTE_CHARS))
    casenotes = [sys.executable, "-m", "casenotes"]
    token = subprocess.run([*casenotes, "token", "create", "--role", "ingest"], env=env, cwd=work, check=True,
                           capture_output=True, text=True, timeout=300).stdout.strip()
    port = free_port()
    with (work / "server.log").open("wb") as log:
        server = subprocess.Popen([*casenotes, "serve", "--port", str(port)], env=env, cwd=work, stdout=log,
                                  stderr=subprocess.STDOUT)
    try:
        server_is_up = Live(port, server.pid, token)
        wait_until_healthy(server_is_up.base)
        headers = {"Authorization": f"Bearer {token}"}
        httpx.put(f"{server_is_up.base}/v1/clients/{CLIENT}", json={"program": "Rapid Re-Housing"},
                  headers=headers).raise_for_status()
        httpx.put(f"{server_is_up.base}/v1/clients/{CLIENT}/plan", headers=headers, json={"goals": [
            {"goal_id": "G1", "text": "Move into permanent housing", "domain": "housing"}]}).raise_for_status()
        yield server_is_up
    finally:
        server.terminate()
        server.wait(30)



def _head(path: str, token: str | None, *lines: str) -> bytes:
    headers = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json", *lines]
    if token:
        headers.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(headers) + "\r\n\r\n").encode()


def _send_chunked(live: Live, path: str, token: str | None, total: int) -> tuple[int, bytes]:
    """Send up to `total` bytes of chunked body, stopping when the server answers or hangs up;
    the bytes sent and the response as far as it came."""
    chunk = b"x" * 65536
    frame = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    sent = 0
    with socket.create_connection(("127.0.0.1", live.port), timeout=60) as connection:
        connection.sendall(_head(path, token, "Transfer-Encoding: chunked"))
        while sent < total and not select.select([connection], [], [], 0)[0]:
            try:
                connection.sendall(frame)
            except OSError:  # the server closed the connection, as it should
                break
            sent += len(chunk)
        return sent, _read_all(connection)


def _read_all(connection: socket.socket) -> bytes:
    response = b""
    while True:
        try:
            data = connection.recv(65536)
        except ConnectionResetError:
            return response
        if not data:
            return response
        response += data


def test_an_unauthenticated_chunked_body_is_refused_unread(live):
    assert _send_chunked(live, NOTES, None, 2**20)[1].startswith(b"HTTP/1.1 401")   # warm up this path
    before = live.rss_mb()
    sent, response = _send_chunked(live, NOTES, None, HUGE)
    assert response.startswith(b"HTTP/1.1 401 ")
    assert b'{"detail":"a valid bearer token is required"}' in response
    assert b"connection: close" in response.lower()
    assert sent < HUGE                    # the server hung up rather than read on
    assert live.rss_mb() - before < RSS_GROWTH_MB


def test_a_bad_token_is_refused_before_the_body_too(live):
    sent, response = _send_chunked(live, NOTES, "cn_not-a-token", HUGE)
    assert response.startswith(b"HTTP/1.1 401 ") and sent < HUGE


def test_a_chunked_body_over_the_limit_is_refused_as_it_streams(live):
    assert _send_chunked(live, NOTES, live.token, 2**20)[1].startswith(b"HTTP/1.1 413")   # warm up this path
    before = live.rss_mb()
    sent, response = _send_chunked(live, NOTES, live.token, HUGE)
    assert response.startswith(b"HTTP/1.1 413 ")
    assert f'{{"detail":"request body over {BODY_LIMIT} bytes"}}'.encode() in response
    assert sent < HUGE
    assert live.rss_mb() - before < RSS_GROWTH_MB


def test_a_declared_length_over_the_limit_is_refused_before_any_body(live):
    with socket.create_connection(("127.0.0.1", live.port), timeout=30) as connection:
        connection.sendall(_head(NOTES, live.token, f"Content-Length: {HUGE}"))
        response = _read_all(connection)
    assert response.startswith(b"HTTP/1.1 413 ")


def test_the_sign_in_form_takes_a_small_body_only(live):
    form = {"token": "cn_" + "x" * 20_000}
    response = httpx.post(f"{live.base}/ui/login", data=form, headers={"Accept": "application/json"})
    assert response.status_code == 413
    assert response.json() == {"detail": "request body over 16384 bytes"}
    assert httpx.post(f"{live.base}/ui/login", data={"token": "cn_wrong"}).status_code == 401


def test_a_review_page_post_without_a_session_goes_to_sign_in_unread(live):
    sent, response = _send_chunked(live, "/ui/flags/1/review", None, HUGE)
    assert response.startswith(b"HTTP/1.1 303 ") and b"location: /ui/login" in response.lower()
    assert sent < HUGE


@pytest.mark.slow
def test_a_body_shorter_than_its_content_length_times_out_promptly(live):
    with socket.create_connection(("127.0.0.1", live.port), timeout=30) as connection:
        started = time.monotonic()
        connection.sendall(_head(NOTES, live.token, "Content-Length: 1000") + b'{"note_id"')
        response = _read_all(connection)       # returns once the server has closed the connection
        waited = time.monotonic() - started
    assert response.startswith(b"HTTP/1.1 408 ")
    assert STALL_SECONDS <= waited < STALL_SECONDS + 5


def test_a_short_body_without_a_token_is_refused_at_once(live):
    with socket.create_connection(("127.0.0.1", live.port), timeout=30) as connection:
        connection.sendall(_head(NOTES, None, "Content-Length: 1000") + b'{"note_id"')
        assert _read_all(connection).startswith(b"HTTP/1.1 401 ")


def test_an_ordinary_note_is_stored_with_its_request_id(live):
    note = {"note_id": "N-limits-1", "note_date": "2026-03-14", "note_format": "DAP",
            "text": "D: Cl signed a lease for a 1BR on Elm St today. P: f/u on deposit."}
    response = httpx.post(f"{live.base}{NOTES}", json=note, timeout=60,
                          headers={"Authorization": f"Bearer {live.token}", "X-Request-ID": "limits-42"})
    assert response.status_code == 201, response.text
    assert response.headers["x-request-id"] == "limits-42"
    assert response.json()["goals"][0]["goal_id"] == "G1"
