"""Case management systems posting typical notes: each user posts test-split notes (new
note ids each time) for one client whose plan it set up at start."""

from __future__ import annotations

import itertools
import json
import os
import uuid
from pathlib import Path

from locust import HttpUser, constant, task

NOTES = [json.loads(line) for line in
         (Path(__file__).parents[1] / "data" / "test.jsonl").read_text(encoding="utf-8").splitlines()]
TOKEN = os.environ["CASENOTES_BENCH_TOKEN"]


class CaseManagementSystem(HttpUser):
    wait_time = constant(0)

    def on_start(self) -> None:
        self.headers = {"Authorization": f"Bearer {TOKEN}"}
        self.client_id = f"B-{uuid.uuid4().hex[:10]}"
        self.notes = itertools.cycle(NOTES)
        first = NOTES[0]
        self.client.put(f"/v1/clients/{self.client_id}", json={"program": first["program"]},
                        headers=self.headers, name="setup")
        self.client.put(f"/v1/clients/{self.client_id}/plan", json={"goals": first["goals"]},
                        headers=self.headers, name="setup")

    @task
    def post_note(self) -> None:
        note = next(self.notes)
        self.client.post(f"/v1/clients/{self.client_id}/notes", headers=self.headers, name="POST note", json={
            "note_id": f"{self.client_id}-{uuid.uuid4().hex[:12]}", "note_date": note["note_date"],
            "note_format": note["note_format"], "text": note["note_text"]})
