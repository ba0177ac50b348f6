"""A crash mid-burst loses nothing it acknowledged and stores nothing twice.

The real server (`casenotes serve`, SQLite in a fresh data directory) takes a burst of note
ingests from a few threads and is killed with SIGKILL once some of them were acknowledged.
Restarted on the same data directory, it is sent every note it had not acknowledged again,
and some it had. Then: every acknowledged note is there with all its results, as
acknowledged; resent acknowledged notes come back 200 with the same result; every note is
stored once, with one revision; and SQLite's integrity check passes.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.system.live import free_port, server_environment, wait_until_healthy

pytestmark = [pytest.mark.slow, pytest.mark.system]

NOTES = 40
THREADS = 4
KILL_AFTER_ACKS = 10
CLIENT = "C-crash-1"
GOALS = [
    {"goal_id": "G1", "text": "Sign a lease for a 2BR unit using RRH rental assistance by 11/30/25",
     "domain": "housing"},
    {"goal_id": "G2", "text": "Obtain employment of at least 25 hrs/week by 1/31/26", "domain": "employment"},
    {"goal_id": "G3", "text": "Enroll both children in subsidized childcare (CCAP) by 12/15/25",
     "domain": "childcare"},
]
_OPENINGS = ["Home visit w/ cl at the shelter.", "Phone call w/ cl, 10:15am.", "Office visit, cl came in on time.",
             "Met cl at the library.", "Text exchange w/ cl this morning."]
_MIDDLES = ["Cl viewed the 2BR at {n} Poplar Ave and turned in the application; landlord to call back Fri.",
            "Cl started a part-time job at the grocery, {n} hrs/wk, and likes the morning shift.",
            "Cl turned in the CCAP application at the county office; case # pending, kids on waitlist spot {n}.",
            "Cl missed the {n}th appt at the housing authority and has not returned calls about the lease.",
            "Cl says she is behind on rent by ${n}0 and got a notice from the old landlord last week."]
_CLOSINGS = ["Cl denies SI/HI.", "CM to follow up Monday.", "Next visit in two weeks.",
             "CM sent landlord list by email.", "Cl in good spirits, kids doing ok."]


def _note(i: int) -> dict:
    text = " ".join([_OPENINGS[i % 5], _MIDDLES[(i // 5) % 5].format(n=400 + i), _CLOSINGS[(i * 3) % 5]])
    return {"note_id": f"N-crash-{i:03d}", "note_date": f"2025-10-{1 + i % 28:02d}", "note_format": "narrative",
            "author": "J. Rivera", "text": text}


def _environment(data_dir: Path) -> dict[str, str]:
    return server_environment(data_dir, PYTHONUNBUFFERED="1")


def _casenotes(*args: str) -> list[str]:
    return [sys.executable, "-m", "casenotes", *args]


def _make_token(role: str, env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(_casenotes("token", "create", "--role", role, "--name", f"crash-{role}"), env=env,
                          cwd=cwd, capture_output=True, text=True, timeout=300, check=True)
    token = done.stdout.strip()
    assert token.startswith("cn_") and "\n" not in token, done.stdout
    return token


class Server:
    """`casenotes serve` in its own process group, so a kill reaches uvicorn and anything it started."""

    def __init__(self, port: int, env: dict[str, str], cwd: Path, log: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self._log = log.open("ab")
        self.process = subprocess.Popen(_casenotes("serve", "--host", "127.0.0.1", "--port", str(port)), env=env,
                                        cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self) -> None:
        wait_until_healthy(self.url, self.process)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no lifespan exit, nothing flushed."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM and wait (uvicorn shuts down cleanly); SIGKILL if it hangs."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()

    def close(self) -> None:
        try:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        except ProcessLookupError:
            pass
        finally:
            self._log.close()


def _burst(url: str, headers: dict[str, str], notes: list[dict], server: Server) -> dict[str, dict]:
    """POST the notes from THREADS threads; SIGKILL the server after KILL_AFTER_ACKS acknowledgements.
    Returns the acknowledged notes' response bodies by note_id."""
    acked: dict[str, dict] = {}
    refused: list[str] = []
    lock = threading.Lock()
    enough = threading.Event()
    pending = list(notes)

    def worker() -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
            while True:
                with lock:
                    if not pending:
                        return
                    note = pending.pop(0)
                try:
                    answer = http.post(f"/v1/clients/{CLIENT}/notes", json=note)
                except httpx.TransportError:
                    continue  # killed mid-request, or refused after the kill: not acknowledged
                if answer.status_code in (200, 201):
                    with lock:
                        acked[note["note_id"]] = answer.json()
                        if len(acked) >= KILL_AFTER_ACKS:
                            enough.set()
                else:
                    with lock:
                        refused.append(f"{note['note_id']}: {answer.status_code} {answer.text}")
                    enough.set()

    with ThreadPoolExecutor(THREADS) as pool:
        futures = [pool.submit(worker) for _ in range(THREADS)]
        enough.wait(timeout=600)
        server.kill()
        for future in futures:
            future.result()
    assert not refused, refused
    assert len(acked) >= KILL_AFTER_ACKS, f"only {len(acked)} notes were acknowledged"
    return acked


def _results(body: dict) -> dict:
    """What a note's answer says was scored: the same for its first answer and any later read."""
    return {key: body[key] for key in ("note_id", "client_id", "note_date", "revision", "sha256", "plan_version",
                                       "model_version", "rubric_hash", "goals", "domains", "flags")}


def test_sigkill_during_a_burst_loses_no_acknowledged_note_and_stores_none_twice(tmp_path):
    data_dir = tmp_path / "data"
    env = _environment(data_dir)
    port = free_port()
    log = tmp_path / "server.log"
    notes = [_note(i) for i in range(NOTES)]
    servers: list[Server] = []
    try:
        ingest = {"Authorization": f"Bearer {_make_token('ingest', env, tmp_path)}"}
        admin = {"Authorization": f"Bearer {_make_token('admin', env, tmp_path)}"}

        servers.append(Server(port, env, tmp_path, log))
        servers[-1].wait_ready()
        url = servers[-1].url
        with httpx.Client(base_url=url, headers=ingest, timeout=60) as http:
            assert http.put(f"/v1/clients/{CLIENT}", json={"program": "Rapid Re-Housing"}).status_code == 201
            assert http.put(f"/v1/clients/{CLIENT}/plan", json={"goals": GOALS}).status_code == 201

        acked = _burst(url, ingest, notes, servers[-1])
        assert servers[-1].process.returncode == -signal.SIGKILL
        assert KILL_AFTER_ACKS <= len(acked) < NOTES, "the kill should land in the middle of the burst"

        servers.append(Server(port, env, tmp_path, log))
        servers[-1].wait_ready()
        resent_acked = sorted(acked)[::3]
        resent = {200: 0, 201: 0}
        with httpx.Client(base_url=url, headers=ingest, timeout=120) as http:
            for note in notes:
                if note["note_id"] in acked:
                    continue
                # 201, or 200 when the note was stored but the server died before answering
                answer = http.post(f"/v1/clients/{CLIENT}/notes", json=note)
                assert answer.status_code in resent, f"{note['note_id']}: {answer.status_code} {answer.text}"
                resent[answer.status_code] += 1
            for note_id in resent_acked:
                answer = http.post(f"/v1/clients/{CLIENT}/notes", json=notes[int(note_id[-3:])])
                assert answer.status_code == 200, f"{note_id} again: {answer.status_code} {answer.text}"
                assert _results(answer.json()) == _results(acked[note_id])

        goal_ids = {g["goal_id"] for g in GOALS}
        with httpx.Client(base_url=url, headers=admin, timeout=60) as http:
            for note in notes:
                answer = http.get(f"/v1/notes/{note['note_id']}")
                assert answer.status_code == 200, f"{note['note_id']}: {answer.status_code} {answer.text}"
                body = answer.json()
                assert body["text"] == note["text"]
                assert {g["goal_id"] for g in body["goals"]} == goal_ids, note["note_id"]
                assert len(body["goals"]) == len(goal_ids), note["note_id"]
                assert [r["revision"] for r in body["revisions"]] == [1]
                if note["note_id"] in acked:
                    assert _results(body) == _results(acked[note["note_id"]]), note["note_id"]
        servers[-1].stop()
        print(f"{len(acked)} of {NOTES} acknowledged before the kill; of the rest, {resent[200]} were stored "
              f"unacknowledged and {resent[201]} not stored; {len(resent_acked)} acknowledged ones resent")

        database = sqlite3.connect(data_dir / "casenotes.db")
        try:
            stored = dict(database.execute("SELECT note_id, id FROM note").fetchall())
            assert database.execute("SELECT COUNT(*) FROM note").fetchone()[0] == len(stored) == NOTES
            assert set(stored) == {n["note_id"] for n in notes}
            revisions = dict(database.execute("SELECT note_pk, COUNT(*) FROM note_revision GROUP BY note_pk"))
            assert revisions == {pk: 1 for pk in stored.values()}
            goal_results = database.execute(
                "SELECT revision_pk, COUNT(DISTINCT goal_id), COUNT(*) FROM result WHERE kind = 'goal' "
                "GROUP BY revision_pk").fetchall()
            assert len(goal_results) == NOTES
            assert all(distinct == total == len(GOALS) for _, distinct, total in goal_results)
            assert database.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert database.execute("PRAGMA foreign_key_check").fetchall() == []
        finally:
            database.close()
    finally:
        for server in servers:
            server.close()
