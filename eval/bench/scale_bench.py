"""How each cost grows with the record: API latency at 1x, 10x and 100x the stored notes.

The record is grown by storing copies of scored demo notes under new clients (scored
once, stored many times: growing the data, not re-measuring the model), then each
request is timed in-process at each size: posting a new note, reading a client's
record, the flag queue's first page, and a search over every segment (the index is
rebuilt at each size, as `casenotes index rebuild` would: flat below 100k segments, IVF above).

    python eval/bench/scale_bench.py [--base 300]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
REQUESTS = 30
CLIENTS: list[str] = []  # the grown clients, for record reads


def grow_to(services, scored, notes_wanted: int, stored: int) -> int:
    from casenotes.store.repository import NoteFields, Repository

    goals = list(scored[0][1].plan.goals)
    while stored < notes_wanted:
        with services.sessions.begin() as session:
            repo = Repository(session)
            client, _ = repo.put_client(f"S-{stored:07d}", f"Program {stored % 7}")
            CLIENTS.append(client.client_id)
            plan = repo.store_plan(client, goals, services.pipeline.rubric.name)
            for result, case in scored[: min(len(scored), notes_wanted - stored)]:
                fields = NoteFields(note_id=f"S-{stored:07d}", note_date=case.note.note_date, text=case.note.text,
                                    note_format=case.note.note_format)
                repo.add_note(client, fields, plan, result, None)
                stored += 1
    return stored


def timed(call, repeat: int = REQUESTS) -> np.ndarray:
    times = []
    for i in range(repeat):
        started = time.perf_counter()
        response = call(i)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code < 400, response.status_code
    return np.array(times)


def measure(client, headers, services, size: int, cases) -> dict:
    from casenotes.service.admin import rebuild_index

    rebuild_index(services)
    case = cases[0]
    client.put("/v1/clients/BENCH", json={"program": "Bench"}, headers=headers)
    client.put("/v1/clients/BENCH/plan", json={"goals": [g.model_dump(mode="json") for g in case.plan.goals]},
               headers=headers)
    post = timed(lambda i: client.post("/v1/clients/BENCH/notes", headers=headers, json={
        "note_id": f"BENCH-{size}-{i}", "note_date": "2026-03-01", "text": cases[i % len(cases)].note.text}))
    record = timed(lambda i: client.get(f"/v1/clients/{CLIENTS[(i * 7919) % len(CLIENTS)]}/record", headers=headers))
    queue = timed(lambda i: client.get("/v1/flags?limit=50", headers=headers))
    search = timed(lambda i: client.get("/v1/search", params={"q": cases[i % len(cases)].note.text[:80], "k": 10},
                                        headers=headers))
    return {"notes": size, "segments": len(services.index), "index": services.index.kind,
            **{name: (np.percentile(t, 50), np.percentile(t, 95))
               for name, t in (("post", post), ("record", record), ("queue", queue), ("search", search))}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", type=int, default=300, help="Notes stored at 1x.")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS-scale.md")
    args = parser.parse_args()
    from fastapi.testclient import TestClient

    from casenotes.service.admin import DEMO_PATH
    from casenotes.service.app import create_app
    from casenotes.service.settings import Settings
    from casenotes.shared_format import iter_cases
    from casenotes.store.credentials import make_token

    work = Path(tempfile.mkdtemp(prefix="casenotes-scale-"))
    settings = Settings(data_dir=work, _env_file=None)
    cases = list(iter_cases(DEMO_PATH))
    rows = []
    with TestClient(create_app(settings)) as client:
        services = client.app.state.services
        headers = {"Authorization": f"Bearer {make_token(services.sessions, 'admin', None, 'bench')}"}
        scored = list(zip(services.pipeline.read_many([(c.note, c.plan) for c in cases]), cases))
        stored = 0
        for factor in (1, 10, 100):
            stored = grow_to(services, scored, args.base * factor, stored)
            rows.append(measure(client, headers, services, args.base * factor, cases))
            print(rows[-1], flush=True)
    write(rows, args)


def write(rows: list[dict], args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = ["# How latency grows with the record", "",
             f"{date.today().isoformat()} · {platform.machine()} · {os.cpu_count()} cores · Python "
             f"{platform.python_version()} · SQLite, in-process client, {REQUESTS} requests per cell; ms p50 / p95.", "",
             "| notes stored | segments | index | POST note | GET record | GET flags | search |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = " | ".join(f"{r[k][0]:.0f} / {r[k][1]:.0f}" for k in ("post", "record", "queue", "search"))
        lines.append(f"| {r['notes']:,} | {r['segments']:,} | {r['index']} | {cells} |")
    lines += ["", "![latency by record size](scale.png)", "", "Run: `python eval/bench/scale_bench.py`."]
    args.out.write_text("\n".join(lines) + "\n")
    figure, axis = plt.subplots(figsize=(6, 4))
    for key, label in (("post", "POST note"), ("record", "GET record"), ("queue", "GET flags"), ("search", "search")):
        axis.plot([r["notes"] for r in rows], [r[key][0] for r in rows], marker="o", label=label)
    axis.set(xscale="log", yscale="log", xlabel="notes stored", ylabel="p50 latency, ms",
             title="casenotes API latency by record size")
    axis.legend()
    figure.tight_layout()
    figure.savefig(args.out.with_name("scale.png"), dpi=100)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
