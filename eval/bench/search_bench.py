"""Search at a million segments: flat against IVF (sqrt(n) and 4·sqrt(n) lists), on vectors grown from real segment embeddings.

The eval notes give a few thousand real segment embeddings; a million are grown from
them by mixing two real segments and adding a little noise (then normalising), so the
vectors keep the real clusters of case-note language. Queries are real segments of
the test split as they are, and perturbed the same way. Measures build time, memory, p50/p95 query
latency, recall@10 against exact search, and erasing one client's worth of vectors.

    python eval/bench/search_bench.py [--n 1000000] [--queries 200]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

from casenotes.runtime.search import DEFAULT_NPROBE, LISTS_PER_SQRT_N, SegmentIndex

HERE = Path(__file__).parent
DATA = HERE.parent / "data"


def real_segment_vectors() -> tuple[np.ndarray, np.ndarray]:
    from casenotes.embed.encoder import default_encoder
    from casenotes.text.segment import Segmenter

    segmenter, texts, test_texts = Segmenter(), [], []
    for split in ("train", "dev", "test"):
        for line in (DATA / f"{split}.jsonl").read_text(encoding="utf-8").splitlines():
            segments = [s.text for s in segmenter.segment(json.loads(line)["note_text"])]
            (test_texts if split == "test" else texts).extend(segments)
    encoder = default_encoder()
    return encoder.encode(texts), encoder.encode(test_texts)


def grow(real: np.ndarray, n: int, rng: np.random.Generator, noise: float = 0.008) -> np.ndarray:
    out = np.empty((n, real.shape[1]), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        a, b = real[rng.integers(0, len(real), m)], real[rng.integers(0, len(real), m)]
        weight = rng.uniform(0.6, 1.0, (m, 1)).astype(np.float32)
        mixed = weight * a + (1 - weight) * b + noise * rng.normal(size=a.shape).astype(np.float32)
        out[start:start + m] = mixed / np.linalg.norm(mixed, axis=1, keepdims=True)
    return out


def timed_queries(index: SegmentIndex, queries: np.ndarray, k: int = 10) -> tuple[list[list[int]], np.ndarray]:
    found, times = [], []
    for q in queries:
        started = time.perf_counter()
        found.append([i for i, _ in index.search(q, k)])
        times.append((time.perf_counter() - started) * 1000)
    return found, np.array(times)


def recall_at_10(exact: list[list[int]], found: list[list[int]]) -> float:
    return float(np.mean([len(set(e) & set(f)) / 10 for e, f in zip(exact, found)]))


def index_mb(index: SegmentIndex) -> float:
    """The index as saved on disk, which is also about its size in memory."""
    with tempfile.TemporaryDirectory() as folder:
        index.path = Path(folder) / "segments.faiss"
        index.save()
        size = index.path.stat().st_size
    index.path = None
    return size / 2**20


def measure(index: SegmentIndex, query_sets: dict[str, np.ndarray], exact: dict[str, list[list[int]]]) -> dict:
    row = {}
    for name, queries in query_sets.items():
        found, times = timed_queries(index, queries)
        row[name] = (np.percentile(times, 50), np.percentile(times, 95), recall_at_10(exact[name], found))
    return row


def erase_one_client(index: SegmentIndex, ids: np.ndarray, queries: np.ndarray, rng: np.random.Generator) -> str:
    client_ids = [int(i) for i in rng.choice(ids, 2_000, replace=False)]
    started = time.perf_counter()
    removed = index.remove(client_ids)
    erase_ms = (time.perf_counter() - started) * 1000
    leaked = sum(len(set(client_ids) & {i for i, _ in index.search(q, 50)}) for q in queries)
    return (f"{removed:,} removed in {erase_ms:.0f} ms; {leaked} of them found again by {len(queries)} "
            "top-50 searches afterwards")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS-search.md")
    args = parser.parse_args()
    import faiss

    rng = np.random.default_rng(7)
    real, real_test = real_segment_vectors()
    vectors = grow(real, args.n, rng)
    query_sets = {"real": real_test[: args.queries], "grown": grow(real_test, args.queries, rng)}
    ids = np.arange(1, args.n + 1, dtype=np.int64)

    faiss.omp_set_num_threads(1)  # one query at a time: OpenMP's spinning threads only add latency
    flat = SegmentIndex(vectors.shape[1], ivf_from=args.n + 1)
    started = time.perf_counter()
    flat.replace_all(ids, vectors)
    rows = [("flat (exact)", time.perf_counter() - started, index_mb(flat))]
    exact = {name: timed_queries(flat, queries)[0] for name, queries in query_sets.items()}
    rows[0] += (measure(flat, query_sets, exact),)
    del flat

    erasure = ""
    for lists_per_sqrt_n, probes in ((1, (16, 32)), (LISTS_PER_SQRT_N, (16, 32, 64))):
        faiss.omp_set_num_threads(os.cpu_count() or 1)  # training and adding use both cores
        index = SegmentIndex(vectors.shape[1], ivf_from=1, lists_per_sqrt_n=lists_per_sqrt_n)
        started = time.perf_counter()
        index.replace_all(ids, vectors)
        build, memory, lists = time.perf_counter() - started, index_mb(index), index.lists
        faiss.omp_set_num_threads(1)
        for nprobe in probes:
            index.nprobe = nprobe
            default = " (default)" if lists_per_sqrt_n > 1 and nprobe == DEFAULT_NPROBE else ""
            rows.append((f"IVF{lists:,}, nprobe {nprobe}{default}", build, memory,
                         measure(index, query_sets, exact)))
            if default:
                erasure = erase_one_client(index, ids, query_sets["real"], rng)
        del index

    lines = [
        f"# Search at {args.n:,} segments", "",
        f"{date.today().isoformat()} · {platform.processor() or platform.machine()} · {os.cpu_count()} cores · "
        f"Python {platform.python_version()} · faiss {faiss.__version__} · one query at a time, one thread", "",
        f"The corpus: {len(real):,} real segment embeddings of the train and dev notes, grown to {args.n:,} by "
        "mixing two and adding noise (σ 0.008 a dimension, about 0.16 in norm), so the vectors keep the tight "
        "clusters of case-note language. Queries: *real*, the first "
        f"{args.queries} embeddings of the {len(real_test):,} test-split segments (never in the corpus) as they "
        f"are; *grown*, {args.queries} made from them the same way as the corpus. recall@10 is against the exact "
        "(flat) top 10. Build includes k-means training on 40 vectors a list, on both cores.", "",
        "| index | build s | index MB | p50 ms real | p95 ms real | recall@10 real | p50 ms grown "
        "| recall@10 grown |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, build, memory, row in rows:
        r, g = row["real"], row["grown"]
        lines.append(f"| {name} | {build:.1f} | {memory:,.0f} | {r[0]:.2f} | {r[1]:.2f} | {r[2]:.3f} | {g[0]:.2f} "
                     f"| {g[2]:.3f} |")
    lines += ["", f"Erasing a client (2,000 vectors) from the default IVF index: {erasure}.",
              "", "Run: `python eval/bench/search_bench.py`."]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
