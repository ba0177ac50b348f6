"""Milliseconds a note, in process, note by note: the pipeline as it ships, any other trained
model (`--variant name=model.json[@goal-reader-folder]`), and (with --baseline-ref) the pipeline
of an earlier commit, in one run on the same notes.

Each variant runs in its own process, one after the other, so none shares a cache with
another. A variant scores every `--every`-th note of the file once as a warm-up (it loads
the models and embeds the plans' goals, as a service does once per plan), then again timed,
note by note; figures are the p50 and p95 of those times.

    python eval/bench/latency_bench.py [--data eval/data/by-writer/test.jsonl] [--every 4]
        [--variant "heads + goal reader=out/heads-reader.json@out/goal-reader"]
        [--baseline-ref f065bb1] [--out eval/bench/RESULTS-latency.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Commits before the staged layout kept these folders at the top of the repository and mapped
# them in as casenotes.<name>; a bare checkout of such a commit needs links to them.
MAPPED_FOLDERS = ("models", "rubrics", "service")


def time_notes(data: Path, every: int, model: str | None) -> dict:
    """In this process: p50 and p95 ms a note of the pipeline over every `every`-th note."""
    from casenotes.pipeline import Pipeline
    from casenotes.training.harness import read_gold

    _, cases = read_gold(data)
    cases = cases[::every]
    pipeline = Pipeline.load(model_path=model)
    for case in cases:
        pipeline.score(case.note.text, case.plan)
    times = []
    for case in cases:
        started = time.perf_counter()
        pipeline.score(case.note.text, case.plan)
        times.append((time.perf_counter() - started) * 1000)
    quantiles = statistics.quantiles(times, n=20)
    return {"notes": len(cases), "p50": statistics.median(times), "p95": quantiles[18],
            "model": pipeline.model_version}


def run_variant(data: Path, every: int, variant: str | None = None, checkout: Path | None = None) -> dict:
    """Time one variant in a process of its own: `variant` is `model.json[@goal-reader-folder]`."""
    environment = {**os.environ, "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, __file__, "--child", "--data", str(data), "--every", str(every)]
    if variant:
        model, _, reader = variant.partition("@")
        command += ["--model", str(Path(model).resolve())]
        if reader:
            environment["CASENOTES_GOAL_READER"] = str(Path(reader).resolve())
    if checkout:
        environment["PYTHONPATH"] = str(checkout)
    output = subprocess.run(command, env=environment, check=True, capture_output=True, text=True, cwd=REPO)
    return json.loads(output.stdout.strip().splitlines()[-1])


def baseline_checkout(ref: str, folder: Path) -> Path:
    """A bare checkout of `ref` under `folder`, its mapped folders linked inside the package."""
    target = folder / "baseline"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-f", str(target), ref],
                   check=True, capture_output=True)
    for name in MAPPED_FOLDERS:
        if (target / name).is_dir() and not (target / "casenotes" / name).exists():
            (target / "casenotes" / name).symlink_to(target / name)
    return target


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=REPO / "eval/data/by-writer/test.jsonl")
    parser.add_argument("--every", type=int, default=4)
    parser.add_argument("--variant", action="append", default=[], help="name=model.json[@goal-reader-folder]")
    parser.add_argument("--model", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--baseline-ref", default=None, help="A commit whose pipeline is timed beside today's.")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(time_notes(args.data, args.every, args.model)))
        return
    rows = [("shipped pipeline", run_variant(args.data, args.every))]
    for variant in args.variant:
        name, _, spec = variant.rpartition("=")  # the name may hold "=", a path seldom does
        rows.append((name, run_variant(args.data, args.every, spec)))
    if args.baseline_ref:
        with tempfile.TemporaryDirectory() as folder:
            checkout = baseline_checkout(args.baseline_ref, Path(folder))
            try:
                rows.append((f"pipeline at {args.baseline_ref}", run_variant(args.data, args.every, checkout=checkout)))
            finally:
                subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(checkout)],
                               check=False, capture_output=True)
    lines = ["# Milliseconds a note, in process\n",
             f"{date.today()} · {platform.machine()} · {os.cpu_count()} cores · Python {platform.python_version()} · "
             f"every {args.every}th note of {args.data.resolve().relative_to(REPO)}, note by note after a warm-up pass.\n",
             "| pipeline | model | notes | p50 ms | p95 ms |", "|---|---|---:|---:|---:|"]
    lines += [f"| {name} | `{row['model']}` | {row['notes']} | {row['p50']:.0f} | {row['p95']:.0f} |" for name, row in rows]
    options = [f"--every {args.every}", *(f'--variant "{v}"' for v in args.variant)]
    options += [f"--baseline-ref {args.baseline_ref}"] if args.baseline_ref else []
    lines.append(f"\nRun: `python eval/bench/latency_bench.py {' '.join(options)}`")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
