"""Pipeline batch throughput as a ratio of the encoder's limit, on the same notes in one run.

The limit: the encoder alone embedding every segment of the eval notes (sentences/s).
The pipeline: `score_many` over the same notes in batches (segmentation, context,
one encoder pass per batch across notes, heads, decisions), in segments/s.

    python eval/bench/pipeline_bench.py [--backends torch,onnx-int8] [--batch 32]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).parent
DATA = HERE.parent / "data"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backends", default="torch,onnx-int8")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS-pipeline.md")
    args = parser.parse_args()
    from casenotes.dataset import iter_cases
    from casenotes.embed import make_encoder
    from casenotes.pipeline import Pipeline, _embedding_input

    cases = [c for split in ("train", "dev", "test") for c in iter_cases(DATA / f"{split}.jsonl")]
    rows = []
    for backend in args.backends.split(","):
        pipeline = Pipeline.load(encoder=make_encoder(backend))
        segments = [_embedding_input(s.text) for c in cases for s in pipeline.segmenter.segment(c.note.text)]
        pipeline.encoder.inner.encode(segments[:64])  # warm-up
        started = time.perf_counter()
        pipeline.encoder.inner.encode(segments)
        limit = len(segments) / (time.perf_counter() - started)
        pipeline.score_many([(c.note, c.plan) for c in cases[:8]])  # warm-up
        started = time.perf_counter()
        for i in range(0, len(cases), args.batch):
            pipeline.score_many([(c.note, c.plan) for c in cases[i:i + args.batch]])
        elapsed = time.perf_counter() - started
        rows.append((backend, limit, len(segments) / elapsed, len(cases) / elapsed))
        print(rows[-1], flush=True)
    lines = ["# Pipeline batch throughput against the encoder's limit", "",
             f"{date.today().isoformat()} · {platform.machine()} · {os.cpu_count()} cores · Python "
             f"{platform.python_version()} · {len(cases)} eval notes, {len(segments):,} segments, batches of "
             f"{args.batch} notes.", "",
             "| encoder | encoder alone, segments/s | pipeline, segments/s | pipeline, notes/s | ratio |",
             "|---|---|---|---|---|"]
    lines += [f"| {b} | {lim:.0f} | {seg:.0f} | {notes:.1f} | {seg / lim:.2f} |" for b, lim, seg, notes in rows]
    lines += ["", "Run: `python eval/bench/pipeline_bench.py`."]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
