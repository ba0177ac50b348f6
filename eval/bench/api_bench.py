"""API latency on loopback under locust: 1, 4 and 16 concurrent clients posting typical
notes to one server on SQLite, with one and with two uvicorn workers; p50/p95/p99, errors, throughput, and the server's RSS.

    python eval/bench/api_bench.py [--seconds 30] [--workers 1,2]
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import httpx

HERE = Path(__file__).parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (the uvicorn workers)."""
    pids = [pid] + [int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                                                   text=True).stdout.split()]
    total = 0
    for p in pids:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def run_locust(base: str, users: int, seconds: int, env: dict, out: Path) -> dict:
    prefix = out / f"u{users}"
    subprocess.run([str(BIN / "locust"), "-f", str(HERE / "locustfile.py"), "--headless", "-u", str(users),
                    "-r", str(users), "-t", f"{seconds}s", "--host", base, "--csv", str(prefix), "--only-summary"],
                   env=env, check=True, capture_output=True)
    with open(f"{prefix}_stats.csv") as stats:
        row = next(r for r in csv.DictReader(stats) if r["Name"] == "POST note")
    return {"users": users, "requests": int(row["Request Count"]), "failures": int(row["Failure Count"]),
            "p50": float(row["50%"]), "p95": float(row["95%"]), "p99": float(row["99%"]),
            "rps": float(row["Requests/s"])}


def serve_and_load(workers: int, users: list[int], seconds: int, env: dict, work: Path) -> tuple[list[dict], float]:
    """Start `casenotes serve --workers N`, run each load, and read the server's memory before stopping it."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([str(BIN / "casenotes"), "serve", "--port", str(port), "--workers", str(workers)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(1)
        time.sleep(5 * workers)
        results = [{**run_locust(base, count, seconds, env, work / f"w{workers}"), "workers": workers}
                   for count in users]
        return results, rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--workers", default="1,2", help="Worker counts to measure, comma-separated.")
    parser.add_argument("--users", default="1,4,16")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS-api.md")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="casenotes-bench-"))
    env = {**os.environ, "CASENOTES_DATA_DIR": str(work / "data"), "HF_HUB_OFFLINE": "1"}
    token = subprocess.run([str(BIN / "casenotes"), "token", "create", "--role", "ingest"], env=env, check=True,
                           capture_output=True, text=True).stdout.strip()
    env["CASENOTES_BENCH_TOKEN"] = token
    rows, memory = [], {}
    for workers in map(int, args.workers.split(",")):
        (work / f"w{workers}").mkdir()
        results, memory[workers] = serve_and_load(workers, list(map(int, args.users.split(","))), args.seconds,
                                                  env, work)
        rows += results
    best_rate = max(r["rps"] for r in rows)
    lines = ["# API latency: POST a typical note, loopback, SQLite", "",
             f"{date.today().isoformat()} · {platform.machine()} · {os.cpu_count()} cores · Python "
             f"{platform.python_version()} · locust on the same cores, {args.seconds} s per row, no think time; "
             "each request scores and stores a test-split note (about 9 segments).", "",
             "| workers | concurrent clients | requests | errors | notes/s | p50 ms | p95 ms | p99 ms |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['workers']} | {r['users']} | {r['requests']} | {r['failures']} | {r['rps']:.1f} | {r['p50']:.0f} "
              f"| {r['p95']:.0f} | {r['p99']:.0f} |" for r in rows]
    lines += ["", "Server RSS after the runs (all processes): "
              + ", ".join(f"{w} worker(s) {mb:.0f} MB" for w, mb in memory.items()) + ".", "",
              f"The floor for 4 clients with no think time is 4 / throughput (Little's law): at the best "
              f"throughput measured here, {best_rate:.1f} notes/s, that is {4000 / best_rate:.0f} ms a request.", "",
              f"Run: `python eval/bench/api_bench.py --workers {args.workers}`."]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
