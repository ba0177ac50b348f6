"""How long the commands that need no model take to answer, each in a fresh process.

    python eval/bench/cli_startup_bench.py [--runs 7] [--casenotes name=path/to/bin/casenotes ...] [--out FILE]

Times `casenotes --help` and `casenotes token create --role admin` (on a fresh SQLite file,
migrated first so the timing is the command's own) wall-clock, median and worst of --runs
runs. Pass another checkout's `casenotes` executable to time it beside this one in the same
run. The budget (issue 14) is under 1 s for both on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

COMMANDS = {"--help": ["--help"], "token create": ["token", "create", "--role", "admin", "--name", "bench"]}


def time_command(executable: str, arguments: list[str], environment: dict[str, str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([executable, *arguments], env=environment, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return times


def measure(name: str, executable: str, runs: int) -> list[tuple[str, str, float, float]]:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        environment = {**os.environ, "HF_HUB_OFFLINE": "1",
                       "CASENOTES_DATABASE_URL": f"sqlite:///{Path(folder) / 'bench.db'}"}
        subprocess.run([executable, "db", "upgrade"], env=environment, check=True, capture_output=True)
        for label, arguments in COMMANDS.items():
            time_command(executable, arguments, environment, 1)  # warm the file cache
            times = time_command(executable, arguments, environment, runs)
            rows.append((name, label, statistics.median(times), max(times)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--casenotes", action="append", default=[], help="name=path of another casenotes executable")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    own = shutil.which("casenotes", path=str(Path(sys.executable).parent)) or "casenotes"
    targets = [("this checkout", own)] + [tuple(spec.split("=", 1)) for spec in args.casenotes]
    rows = [row for name, executable in targets for row in measure(name, executable, args.runs)]
    lines = [f"# `casenotes` start-up: commands that need no model ({date.today().isoformat()})", "",
             f"- machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
             f"- command: `python eval/bench/cli_startup_bench.py --runs {args.runs}"
             + "".join(f" --casenotes {spec.split('=', 1)[0]}=..." for spec in args.casenotes) + "`",
             f"- wall clock of a fresh process, median and worst of {args.runs} runs after one warm-up", "",
             "| casenotes | command | median s | worst s |", "|---|---|---|---|"]
    lines += [f"| {name} | `casenotes {label}` | {median:.2f} | {worst:.2f} |" for name, label, median, worst in rows]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        args.out.write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
