"""Accept now, score next (issue 15), on loopback: the 202 accept path under locust (API alone,
then beside a `casenotes worker`), scoring throughput of 1 and 2 worker processes against the
batch pipeline on the same notes, time from 202 to scored at a steady arrival rate, the
synchronous path beside it, and the SQLite default. Writes eval/bench/RESULTS-async.md.

    python eval/bench/async_bench.py [--seconds 30] [--notes 300] [--steady-seconds 60] [--no-sqlite]

Each PostgreSQL run gets a fresh database (dropped at the end) on postgresql://root@127.0.0.1:5432.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import httpx
import psycopg

HERE = Path(__file__).parent
BIN = Path(sys.executable).parent
PG = "postgresql://root@127.0.0.1:5432"
NOTES = [json.loads(line) for line in (HERE.parent / "data" / "test.jsonl").read_text(encoding="utf-8").splitlines()]
CORES = os.cpu_count() or 1


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile; nan for no values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))] if ordered else float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_query(dbname: str, sql: str, params=None) -> list[tuple]:
    with psycopg.connect(f"{PG}/{dbname}", autocommit=True) as conn:
        cursor = conn.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


class Stack:
    """The processes and databases this run made; `close` stops and drops them all."""

    def __init__(self, work: Path) -> None:
        self.work, self.procs, self.dbs = work, [], []

    def deployment(self, tag: str, postgres: bool = True) -> dict:
        env = {**os.environ, "CASENOTES_DATA_DIR": str(self.work / tag), "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
        env.pop("CASENOTES_DATABASE_URL", None)
        if postgres:
            name = f"casenotes_async_{tag}_{os.getpid()}"
            pg_query("test", f'CREATE DATABASE "{name}"')
            self.dbs.append(name)
            env["CASENOTES_DATABASE_URL"] = f"postgresql+psycopg://root@127.0.0.1:5432/{name}"
            env["BENCH_DB"] = name
        return env

    def start(self, name: str, args: list[str], env: dict) -> subprocess.Popen:
        log = open(self.work / f"{name}.log", "w")
        proc = subprocess.Popen([str(BIN / "casenotes"), *args], env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        proc.log_path = log.name
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen) -> None:
        """SIGTERM to the process group, SIGKILL after 20 s."""
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        if proc in self.procs:
            self.procs.remove(proc)

    def serve(self, name: str, env: dict, *flags: str) -> tuple[subprocess.Popen, str]:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = self.start(name, ["serve", "--port", str(port), *flags], env)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    return proc, base
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"{name} did not come up; see {proc.log_path}")

    def worker(self, name: str, env: dict, concurrency: int, threads: int | None = None) -> subprocess.Popen:
        env = {**env, "CASENOTES_ENCODER_THREADS": str(threads)} if threads else env
        return self.start(name, ["worker", "--concurrency", str(concurrency)], env)

    def close(self) -> None:
        for proc in list(self.procs):
            self.stop(proc)
        for name in self.dbs:
            pg_query("test", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def wait_ready(workers: list[subprocess.Popen], timeout: float = 180) -> float:
    """Monotonic time at which every worker has built its pipeline (it prints `scoring worker:`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all("scoring worker:" in Path(w.log_path).read_text() for w in workers):
            return time.monotonic()
        if any(w.poll() is not None for w in workers):
            break
        time.sleep(0.05)
    raise RuntimeError("worker did not start; see " + ", ".join(w.log_path for w in workers))


def token(env: dict) -> str:
    return subprocess.run([str(BIN / "casenotes"), "token", "create", "--role", "admin", "--name", "bench"], env=env,
                          check=True, capture_output=True, text=True).stdout.strip()


def states(env: dict) -> dict[str, int]:
    """Revisions by scoring state, on the deployment's database."""
    sql = "SELECT scoring_state, count(*) FROM note_revision GROUP BY scoring_state"
    if "BENCH_DB" in env:
        return dict(pg_query(env["BENCH_DB"], sql))
    with sqlite3.connect(Path(env["CASENOTES_DATA_DIR"]) / "casenotes.db") as conn:
        return dict(conn.execute(sql).fetchall())


def run_locust(base: str, users: int, seconds: int, env: dict, prefix: Path, respond_async: bool,
               pacing: float = 0.0) -> dict:
    """One headless locust row. Its final --json-file stats are read (the --csv file is a snapshot
    taken up to a second before the end), percentiles computed as locust does."""
    env = {**env, "CASENOTES_BENCH_ASYNC": "1" if respond_async else "0", "CASENOTES_BENCH_PACING": str(pacing)}
    subprocess.run([str(BIN / "locust"), "-f", str(HERE / "async_locustfile.py"), "--headless", "-u", str(users),
                    "-r", str(users), "-t", f"{seconds}s", "--host", base, "--json-file", str(prefix)],
                   env=env, capture_output=True)  # exits 1 when a request failed; the table says so
    entry = next(e for e in json.loads(Path(f"{prefix}.json").read_text()) if e["name"] == "POST note")
    times = {int(ms): count for ms, count in entry["response_times"].items()}

    def percentile(q: float) -> int:
        below = 0
        for ms in sorted(times):
            below += times[ms]
            if below >= q * sum(times.values()):
                return ms
        return 0

    span = (entry["last_request_timestamp"] or entry["start_time"]) - entry["start_time"]
    return {"users": users, "pacing": pacing, "requests": entry["num_requests"], "failures": entry["num_failures"],
            "p50": percentile(0.50), "p95": percentile(0.95), "p99": percentile(0.99),
            "rps": entry["num_requests"] / span if span else 0.0}


def load_rows(stack: Stack, label: str, env: dict, base: str, users: list[int], seconds: int,
              respond_async: bool = True, pacing: float = 0.0) -> list[dict]:
    out = stack.work / f"{label.replace(' ', '_')}-{pacing}"
    out.mkdir()
    env = {**env, "CASENOTES_BENCH_TOKEN": token(env)}
    rows = [{**run_locust(base, n, seconds, env, out / f"u{n}", respond_async, pacing), "setup": label}
            for n in users]
    rows[-1]["states"] = states(env)
    return rows


def accept_path(stack: Stack, users: list[int], seconds: int, concurrency: int, pacing: float) -> list[dict]:
    """Locust rows against `serve --no-worker`, then against it with one `casenotes worker` beside:
    clients back to back, then each posting once every `pacing` seconds."""
    env = stack.deployment("accept")
    api, base = stack.serve("serve-accept", env, "--no-worker")
    rows = load_rows(stack, "API alone (serve --no-worker)", env, base, users, seconds)
    rows += load_rows(stack, "API alone (serve --no-worker)", env, base, users, seconds, pacing=pacing)
    stack.stop(api)
    env = stack.deployment("contend")
    api, base = stack.serve("serve-contend", env, "--no-worker")
    worker = stack.worker("worker-contend", env, concurrency)
    wait_ready([worker])
    label = f"API + 1 worker process (concurrency {concurrency})"
    rows += load_rows(stack, label, env, base, users, seconds)
    rows += load_rows(stack, label, env, base, users, seconds, pacing=pacing)
    stack.stop(worker)
    stack.stop(api)
    return rows


def bench_cases(count: int) -> list[dict]:
    """`count` test-split notes, cycled, each with a unique id and a client of its own."""
    cases = []
    for i in range(count):
        note = NOTES[i % len(NOTES)]
        note_id = f"T{i:04d}-{note['note_id']}"
        cases.append({**note, "id": note_id, "note_id": note_id, "client_id": f"T{i:04d}-{note['client_id']}"})
    return cases


def preload(base: str, tok: str, cases: list[dict]) -> None:
    """Post every case with `Prefer: respond-async` to its own client with its plan; all must be 202."""
    headers = {"Authorization": f"Bearer {tok}", "Prefer": "respond-async"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
        for case in cases:
            http.put(f"/v1/clients/{case['client_id']}", json={"program": case["program"]}).raise_for_status()
            http.put(f"/v1/clients/{case['client_id']}/plan", json={"goals": case["goals"]}).raise_for_status()
            answer = http.post(f"/v1/clients/{case['client_id']}/notes", json={
                "note_id": case["note_id"], "note_date": case["note_date"], "note_format": case["note_format"],
                "text": case["note_text"]})
            if answer.status_code != 202:
                raise RuntimeError(f"preload: {answer.status_code} {answer.text[:200]}")


def worker_throughput(stack: Stack, processes: int, concurrency: int, cases: list[dict]) -> dict:
    """Pre-load the cases as pending, start the workers, time from all ready to all scored."""
    env = stack.deployment(f"tp{processes}")
    api, base = stack.serve(f"serve-tp{processes}", env, "--no-worker")
    preload(base, token(env), cases)
    stack.stop(api)
    threads = max(1, CORES // processes)
    launched = time.monotonic()
    workers = [stack.worker(f"worker-tp{processes}-{k}", env, concurrency, threads) for k in range(processes)]
    ready = wait_ready(workers)
    deadline, done = ready + 900, 0
    while done < len(cases) and time.monotonic() < deadline:
        time.sleep(0.1)
        done = pg_query(env["BENCH_DB"], "SELECT count(*) FROM note_revision WHERE scoring_state <> 'pending'")[0][0]
    finished = time.monotonic()
    for worker in workers:
        stack.stop(worker)
    seconds = finished - ready
    return {"processes": processes, "concurrency": concurrency, "threads": threads, "notes": len(cases),
            "load": ready - launched, "seconds": seconds, "rate": len(cases) / seconds, "states": states(env)}


def batch_child(path: Path, workers: int) -> None:
    """In a fresh process: the batch pipeline's ScoringPool on the file, timed after load and a warm-up."""
    from casenotes.runtime.batch import DEFAULT_BATCH_NOTES, ScoringPool
    from casenotes.shared_format import iter_cases

    cases = list(iter_cases(path))
    started = time.monotonic()
    with ScoringPool(workers) as pool:
        list(pool.score([cases[i:i + 1] for i in range(2 * workers)]))
        loaded = time.monotonic()
        batches = [cases[i:i + DEFAULT_BATCH_NOTES] for i in range(0, len(cases), DEFAULT_BATCH_NOTES)]
        scored = sum(len(rows) for rows in pool.score(batches))
        seconds = time.monotonic() - loaded
    print(json.dumps({"workers": workers, "notes": scored, "load": loaded - started, "seconds": seconds,
                      "rate": scored / seconds}))


def batch_throughput(stack: Stack, cases: list[dict], workers: int) -> dict:
    """The batch pipeline on the same notes: timed in-process without load, and `casenotes batch` wall time."""
    path = stack.work / "batch-in.jsonl"
    path.write_text("".join(json.dumps({k: v for k, v in c.items() if k != "labels"}) + "\n" for c in cases))
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    child = subprocess.run([sys.executable, __file__, "--batch-child", str(path), "--batch-workers", str(workers)],
                           env=env, check=True, capture_output=True, text=True)
    result = json.loads(child.stdout.strip().splitlines()[-1])
    out = stack.work / f"batch-out-{workers}.jsonl"
    started = time.monotonic()
    subprocess.run([str(BIN / "casenotes"), "batch", str(path), "--out", str(out), "--workers", str(workers)],
                   env=env, check=True, capture_output=True)
    result["cli_wall"] = time.monotonic() - started
    result["cli_rows"] = sum(1 for _ in out.open())
    return result


def steady_arrivals(stack: Stack, rate: float, seconds: int, concurrency: int) -> dict:
    """Post at fixed intervals (open loop) beside one worker; poll the database every 50 ms for
    each accepted note's state; also read the server's own times (revision created_at to the
    job's `succeeded` event)."""
    env = stack.deployment("steady")
    api, base = stack.serve("serve-steady", env, "--no-worker")
    worker = stack.worker("worker-steady", env, concurrency)
    wait_ready([worker])
    headers = {"Authorization": f"Bearer {token(env)}", "Prefer": "respond-async"}
    client_id, first = f"S-{uuid.uuid4().hex[:8]}", NOTES[0]
    httpx.put(f"{base}/v1/clients/{client_id}", json={"program": first["program"]}, headers=headers).raise_for_status()
    httpx.put(f"{base}/v1/clients/{client_id}/plan", json={"goals": first["goals"]}, headers=headers).raise_for_status()
    accepted, settled, errors, local = {}, {}, [], threading.local()

    def post(i: int) -> None:
        if not hasattr(local, "http"):
            local.http = httpx.Client(timeout=30)
        http = local.http
        note, note_id = NOTES[i % len(NOTES)], f"{client_id}-{i:05d}"
        sent = time.time()
        answer = http.post(f"{base}/v1/clients/{client_id}/notes", headers=headers, json={
            "note_id": note_id, "note_date": note["note_date"], "note_format": note["note_format"],
            "text": note["note_text"]})
        if answer.status_code == 202:
            accepted[note_id] = (sent, time.time())
        else:
            errors.append(answer.status_code)

    posting = threading.Event()
    posting.set()
    poller = threading.Thread(target=poll_settled, args=(env["BENCH_DB"], accepted, settled, posting))
    poller.start()
    count = int(rate * seconds)
    with ThreadPoolExecutor(32) as pool:
        start = time.monotonic()
        for i in range(count):
            time.sleep(max(0.0, start + i / rate - time.monotonic()))
            pool.submit(post, i)
    posting.clear()
    poller.join()
    server = pg_query(env["BENCH_DB"], """
        SELECT EXTRACT(EPOCH FROM (e.at - r.created_at)) FROM procrastinate_events e
        JOIN procrastinate_jobs j ON j.id = e.job_id
        JOIN note_revision r ON r.id = (j.args->>'revision_pk')::int
        WHERE e.type = 'succeeded' AND j.task_name = 'casenotes.score_revision'""")
    stack.stop(worker)
    stack.stop(api)
    to_scored = [settled[n][0] - accepted[n][1] for n in settled if settled[n][1] == "scored"]
    return {"rate": rate, "seconds": seconds, "posted": count, "accepted": len(accepted), "errors": errors,
            "accept_ms": [1000 * (b - a) for a, b in accepted.values()], "to_scored": to_scored,
            "server": [float(s) for (s,) in server], "unsettled": len(accepted) - len(settled), "states": states(env)}


def poll_settled(dbname: str, accepted: dict, settled: dict, posting: threading.Event, grace: float = 120) -> None:
    """Every 50 ms, note the time each accepted note is first seen scored or failed."""
    deadline = None
    with psycopg.connect(f"{PG}/{dbname}", autocommit=True) as conn:
        while True:
            waiting = [n for n in list(accepted) if n not in settled]
            if waiting:
                rows = conn.execute("""SELECT n.note_id, r.scoring_state FROM note n JOIN note_revision r
                    ON r.note_pk = n.id WHERE n.note_id = ANY(%s) AND r.scoring_state <> 'pending'""",
                                    (waiting,)).fetchall()
                now = time.time()
                settled.update({note_id: (now, state) for note_id, state in rows})
            if not posting.is_set():
                deadline = deadline or time.monotonic() + grace
                if len(settled) >= len(accepted) or time.monotonic() > deadline:
                    return
            time.sleep(0.05)


def sync_path(stack: Stack, users: list[int], seconds: int) -> list[dict]:
    env = stack.deployment("sync")
    api, base = stack.serve("serve-sync", env)
    rows = load_rows(stack, "PostgreSQL, serve (201)", env, base, users, seconds, respond_async=False)
    stack.stop(api)
    return rows


def sqlite_accept(stack: Stack, users: list[int], seconds: int) -> list[dict]:
    env = stack.deployment("sqlite", postgres=False)
    api, base = stack.serve("serve-sqlite", env)
    rows = load_rows(stack, "SQLite, serve with in-process workers", env, base, users, seconds)
    stack.stop(api)
    return rows


def log_problems(work: Path) -> list[str]:
    """Lines in the service and worker logs that look like trouble."""
    found = []
    for log in sorted(work.glob("*.log")):
        bad = [line for line in log.read_text(errors="replace").splitlines()
               if any(word in line for word in ("Traceback", "ERROR", "Error", "WARNING", "failed"))]
        if bad:
            found.append(f"{log.name}: {len(bad)} line(s), first: `{bad[0].strip()[:160]}`")
    return found


def fmt_states(counts: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"


def load_table(rows: list[dict], first: str) -> list[str]:
    lines = [f"| {first} | clients | each posts | requests | errors | req/s | p50 ms | p95 ms | p99 ms "
             "| revisions at the end |", "|---|---|---|---|---|---|---|---|---|---|"]
    return lines + [f"| {r['setup']} | {r['users']} | {_pace(r.get('pacing', 0.0))} | {r['requests']} | {r['failures']} | {r['rps']:.1f} | {r['p50']:.0f} "
                    f"| {r['p95']:.0f} | {r['p99']:.0f} | {fmt_states(r.get('states', {})) if 'states' in r else ''} |"
                    for r in rows]


def _pace(pacing: float) -> str:
    return f"every {pacing:g} s" if pacing else "back to back"


def target_lines(rows: list[dict]) -> list[str]:
    out = []
    for r in rows:
        if r["users"] == 16:
            met = r["p50"] <= 15 and r["p99"] <= 60 and r["failures"] == 0
            out.append(f"- {r['setup']}, 16 clients {_pace(r.get('pacing', 0.0))}: p50 {r['p50']:.0f} ms, p99 {r['p99']:.0f} ms, {r['failures']} "
                       f"errors: target (p50 ≤ 15, p99 ≤ 60, 0 errors) **{'met' if met else 'not met'}**.")
    return out


def report(args, accept, workers, batches, steady, sync, sqlite, problems) -> str:
    best = max(batches, key=lambda b: b["rate"])
    lines = ["# Accept now, score next: accept latency, worker throughput, time to scored (issue 15)", "",
             f"{date.today().isoformat()} · {platform.machine()} · {CORES} cores · Python {platform.python_version()} · "
             f"PostgreSQL 15 on the same machine · locust on the same cores, {args.seconds} s per row; clients post back "
             f"to back (no think time: the service's capacity) or each once every {args.pacing:g} s (a case management "
             "system posting its users' notes as they are saved); "
             "typical test-split notes (eval/data/test.jsonl, unique note ids).", "",
             "## 1. Accept latency, `Prefer: respond-async` (202), PostgreSQL", ""]
    lines += load_table(accept, "setup") + [""] + target_lines(accept)
    lines += ["", "The worker beside the API has an ever-growing backlog (accepting is far faster than scoring), so it "
              "is busy for every row: this is the contended case.", "",
              f"## 2. Scoring throughput, {args.notes} notes pre-loaded pending", "",
              "Timed from the moment every worker process printed that its pipeline was built (model load excluded) to "
              "the moment the database counted no pending revision (polled every 100 ms).", "",
              "| worker processes | concurrency each | encoder threads each | model load s | scoring s | notes/s "
              "| share of batch (best) | revisions at the end |", "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {w['processes']} | {w['concurrency']} | {w['threads']} | {w['load']:.1f} | {w['seconds']:.1f} "
              f"| {w['rate']:.1f} | {w['rate'] / best['rate']:.2f} | {fmt_states(w['states'])} |" for w in workers]
    lines += ["", "Batch pipeline, same notes, same run (`casenotes.runtime.batch.ScoringPool`, batches of 32 notes, in "
              "a fresh process, timed after the pipeline(s) loaded and a warm-up of one note per process; the file "
              "writing of `run_batch` is left out). `casenotes batch` wall time includes interpreter start and model load.", "",
              "| batch processes | notes | load + warm-up s | scoring s | notes/s | `casenotes batch` wall s |",
              "|---|---|---|---|---|---|"]
    lines += [f"| {b['workers']} | {b['notes']} | {b['load']:.1f} | {b['seconds']:.1f} | {b['rate']:.1f} "
              f"| {b['cli_wall']:.1f} ({b['cli_rows']} rows) |" for b in batches]
    lines += ["", f"Share = worker notes/s over the batch pipeline's faster arrangement ({best['rate']:.1f} notes/s); "
              "target ≥ 0.85: " + ", ".join(f"{w['processes']} process(es) {w['rate'] / best['rate']:.2f} "
                                            f"(**{'met' if w['rate'] / best['rate'] >= 0.85 else 'not met'}**)"
                                            for w in workers) + ".", ""]
    s = steady
    lines += [f"## 3. Time from 202 to scored at {s['rate']:.1f} notes/s (half the 1-process throughput)", "",
              f"Open loop: a note posted every {1000 / s['rate']:.0f} ms for {s['seconds']} s to `serve --no-worker`, "
              f"with one `casenotes worker --concurrency {args.concurrency}` beside it. *Seen by a caller*: from the "
              "202 arriving to the database first showing the revision scored (polled every 50 ms). *Server*: from "
              "the revision's created_at to the procrastinate job's `succeeded` event.", "",
              "| posted | 202s | errors | 202 p50 ms | 202 p99 ms | caller p50 s | caller p99 s | server p50 s "
              "| server p99 s | unsettled | revisions at the end |", "|---|---|---|---|---|---|---|---|---|---|---|",
              f"| {s['posted']} | {s['accepted']} | {len(s['errors'])} | {pct(s['accept_ms'], 50):.0f} "
              f"| {pct(s['accept_ms'], 99):.0f} | {pct(s['to_scored'], 50):.2f} | {pct(s['to_scored'], 99):.2f} "
              f"| {pct(s['server'], 50):.2f} | {pct(s['server'], 99):.2f} | {s['unsettled']} | {fmt_states(s['states'])} |",
              "", "## 4. The synchronous path beside it (no `Prefer`, 201), PostgreSQL", ""]
    lines += load_table(sync, "setup")
    if sqlite:
        lines += ["", "## 5. The SQLite default, accept path (202), `serve` with its in-process workers", ""]
        lines += load_table(sqlite, "setup") + [""] + target_lines(sqlite)
    lines += ["", "## Log lines that looked wrong", ""] + ([f"- {p}" for p in problems] or ["- none"])
    lines += ["", f"Run: `{' '.join(['python', 'eval/bench/async_bench.py', *sys.argv[1:]])}`."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--users", default="1,4,16")
    parser.add_argument("--notes", type=int, default=300, help="Notes pre-loaded for the throughput runs.")
    parser.add_argument("--concurrency", type=int, default=4, help="casenotes worker --concurrency.")
    parser.add_argument("--steady-seconds", type=int, default=60)
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--pacing", type=float, default=1.0, help="Seconds between one client's notes, paced rows.")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS-async.md")
    parser.add_argument("--batch-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--batch-workers", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.batch_child:
        return batch_child(args.batch_child, args.batch_workers)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    users = list(map(int, args.users.split(",")))
    work = Path(tempfile.mkdtemp(prefix="casenotes-async-bench-"))
    print(f"work dir {work}", flush=True)
    stack = Stack(work)
    try:
        accept = accept_path(stack, users, args.seconds, args.concurrency, args.pacing)
        print("accept done", flush=True)
        cases = bench_cases(args.notes)
        workers = [worker_throughput(stack, n, args.concurrency, cases) for n in (1, 2)]
        batches = [batch_throughput(stack, cases, n) for n in (1, 2)]
        print("throughput done", flush=True)
        steady = steady_arrivals(stack, workers[0]["rate"] / 2, args.steady_seconds, args.concurrency)
        print("steady done", flush=True)
        sync = sync_path(stack, users, args.seconds)
        sqlite = [] if args.no_sqlite else sqlite_accept(stack, users, args.seconds)
    finally:
        stack.close()
    text = report(args, accept, workers, batches, steady, sync, sqlite, log_problems(work))
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
