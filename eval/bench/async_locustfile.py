"""Case management systems posting typical notes, as eval/bench/locustfile.py, with
`Prefer: respond-async` (202 expected) unless CASENOTES_BENCH_ASYNC=0 (201 expected);
any other status counts as an error. With CASENOTES_BENCH_PACING=S each client posts one note
every S seconds (a system saving its users' notes as they come); without it, back to back."""

from __future__ import annotations

import itertools
import json
import os
import random
import time
import uuid
from pathlib import Path

from locust import HttpUser, constant_pacing, task

NOTES = [json.loads(line) for line in
         (Path(__file__).parents[1] / "data" / "test.jsonl").read_text(encoding="utf-8").splitlines()]
TOKEN = os.environ["CASENOTES_BENCH_TOKEN"]
ASYNC = os.environ.get("CASENOTES_BENCH_ASYNC", "1") == "1"
EXPECTED = 202 if ASYNC else 201
PACING = float(os.environ.get("CASENOTES_BENCH_PACING", "0"))


class CaseManagementSystem(HttpUser):
    wait_time = constant_pacing(PACING)

    def on_start(self) -> None:
        self.headers = {"Authorization": f"Bearer {TOKEN}"}
        if ASYNC:
            self.headers["Prefer"] = "respond-async"
        self.client_id = f"A-{uuid.uuid4().hex[:10]}"
        self.notes = itertools.cycle(NOTES)
        first = NOTES[0]
        self.client.put(f"/v1/clients/{self.client_id}", json={"program": first["program"]},
                        headers=self.headers, name="setup")
        self.client.put(f"/v1/clients/{self.client_id}/plan", json={"goals": first["goals"]},
                        headers=self.headers, name="setup")
        if PACING:  # paced clients start at random moments, as real users save when they finish
            time.sleep(random.uniform(0, PACING))

    @task
    def post_note(self) -> None:
        note = next(self.notes)
        body = {"note_id": f"{self.client_id}-{uuid.uuid4().hex[:12]}", "note_date": note["note_date"],
                "note_format": note["note_format"], "text": note["note_text"]}
        with self.client.post(f"/v1/clients/{self.client_id}/notes", headers=self.headers, name="POST note",
                              json=body, catch_response=True) as response:
            if response.status_code != EXPECTED:
                response.failure(f"status {response.status_code}, expected {EXPECTED}")
