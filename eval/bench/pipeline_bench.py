"""Pipeline batch throughput as a ratio of the encoder's limit, on the same notes in one run.

The limit: the encoder alone embedding every segment of the eval notes, in its faster
arrangement on this machine: one process on every core, or one single-threaded process
a core, each taking a share of the segments. The pipeline: the same notes scored into
prediction rows in batches (segmentation, context, one encoder pass a batch across notes,
heads, decisions), in both arrangements (`casenotes batch --workers 1|N`). Each figure is
the median of `--rounds` timed passes after a warm-up pass.

    python eval/bench/pipeline_bench.py [--backends torch,onnx-fp32,onnx-int8] [--batch 32]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import statistics
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).parent
DATA = HERE.parent / "data"

_encoder = None


def _load_encoder(backend: str) -> None:
    global _encoder
    from casenotes.embed.encoder import make_encoder

    _encoder = make_encoder(backend, threads=1).inner  # the bare encoder: no cache between passes


def _encode_share(texts: list[str]) -> int:
    return len(_encoder.encode(texts))


def median_seconds(run, rounds: int) -> float:
    run()  # warm-up
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def encoder_limits(backend: str, segments: list[str], workers: int, rounds: int) -> tuple[float, float]:
    """Segments a second: the encoder in one process on every core, and in `workers` processes of one thread."""
    from casenotes.embed.encoder import make_encoder

    encoder = make_encoder(backend).inner
    one = len(segments) / median_seconds(lambda: encoder.encode(segments), rounds)
    shares = [segments[i::workers] for i in range(workers)]
    with multiprocessing.get_context("spawn").Pool(workers, initializer=_load_encoder, initargs=(backend,)) as pool:
        many = len(segments) / median_seconds(lambda: pool.map(_encode_share, shares, chunksize=1), rounds)
    return one, many


def pipeline_rates(batches: list, segment_count: int, workers: int, rounds: int) -> tuple[float, float]:
    """Segments a second through the whole pipeline, with one worker and with `workers`."""
    from casenotes.runtime.batch import ScoringPool

    rates = []
    for count in (1, workers):
        with ScoringPool(count) as pool:
            seconds = median_seconds(lambda: sum(len(rows) for rows in pool.score(batches)), rounds)
        rates.append(segment_count / seconds)
    return rates[0], rates[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backends", default="torch,onnx-fp32,onnx-int8")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS-pipeline.md")
    args = parser.parse_args()
    from casenotes.pipeline import _embedding_input
    from casenotes.shared_format import iter_cases
    from casenotes.text.segment import Segmenter

    cases = [c for split in ("train", "dev", "test") for c in iter_cases(DATA / f"{split}.jsonl")]
    segmenter = Segmenter()
    segments = [_embedding_input(s.text) for c in cases for s in segmenter.segment(c.note.text)]
    batches = [cases[i:i + args.batch] for i in range(0, len(cases), args.batch)]
    rows = []
    for backend in args.backends.split(","):
        os.environ["CASENOTES_ENCODER"] = backend  # for the scoring workers
        one, many = encoder_limits(backend, segments, args.workers, args.rounds)
        single, pooled = pipeline_rates(batches, len(segments), args.workers, args.rounds)
        rows.append((backend, one, many, single, pooled))
        print(rows[-1], flush=True)
    lines = ["# Pipeline batch throughput against the encoder's limit", "",
             f"{date.today().isoformat()} · {platform.machine()} · {os.cpu_count()} cores · Python "
             f"{platform.python_version()} · {len(cases)} eval notes, {len(segments):,} segments, batches of "
             f"{args.batch} notes; segments/s, median of {args.rounds} passes after a warm-up.", "",
             f"*1×all*: one process using every core; *{args.workers}×1*: {args.workers} processes of one thread "
             "each. The limit is the encoder's faster arrangement; the ratio is the pipeline's faster arrangement "
             "over it.", "",
             f"| encoder | encoder 1×all | encoder {args.workers}×1 | pipeline 1×all | pipeline {args.workers}×1 "
             "| pipeline notes/s | ratio |",
             "|---|---|---|---|---|---|---|"]
    per_note = len(segments) / len(cases)
    for backend, one, many, single, pooled in rows:
        best = max(single, pooled)
        lines.append(f"| {backend} | {one:.0f} | {many:.0f} | {single:.0f} | {pooled:.0f} | {best / per_note:.1f} "
                     f"| {best / max(one, many):.2f} |")
    lines += ["", "Run: `python eval/bench/pipeline_bench.py`."]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
