"""Batch scoring of a shared-format file: the encoder batched across notes, N worker
processes, and a resumable output.

The output is appended a batch at a time and flushed to disk; on a rerun the ids already
in it are skipped (a torn last line from an interruption is cut off first), so no note's
prediction is ever written twice.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from casenotes.shared_format import LabeledCase, iter_cases, prediction_json

__all__ = ["BatchSummary", "ScoringPool", "done_ids", "run_batch"]

DEFAULT_BATCH_NOTES = 32


@dataclass(frozen=True)
class BatchSummary:
    scored: int
    skipped: int


def done_ids(out_path: Path) -> set[str]:
    """Ids already written to `out_path`, after cutting off a torn last line."""
    if not out_path.exists():
        return set()
    _cut_torn_tail(out_path)
    with out_path.open(encoding="utf-8") as lines:
        return {json.loads(line)["id"] for line in lines if line.strip()}


def run_batch(in_path: Path, out_path: Path, *, workers: int = 1, batch_notes: int = DEFAULT_BATCH_NOTES,
              model_path: str | None = None, rubric: str = "self-sufficiency", pipeline=None,
              on_progress: Callable[[int], None] | None = None, total: Callable[[int], None] | None = None
              ) -> BatchSummary:
    """Score every case of `in_path` not yet in `out_path`, appending predictions to it.
    With one worker, a `pipeline` already built is used instead of loading another."""
    finished = done_ids(out_path)
    pending = [case for case in iter_cases(in_path) if case.id not in finished]
    _refuse_duplicate_ids(pending)
    if total:
        total(len(pending))
    batches = [pending[i:i + batch_notes] for i in range(0, len(pending), batch_notes)]
    with out_path.open("a", encoding="utf-8") as sink:
        for rows in _scored_batches(batches, workers, model_path, rubric, pipeline):
            sink.write("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
            sink.flush()
            os.fsync(sink.fileno())
            if on_progress:
                on_progress(len(rows))
    return BatchSummary(scored=len(pending), skipped=len(finished))


def _scored_batches(batches: list[list[LabeledCase]], workers: int, model_path: str | None,
                    rubric: str, pipeline) -> Iterator[list[dict]]:
    with ScoringPool(workers if len(batches) > 1 else 1, model_path, rubric, pipeline) as pool:
        yield from pool.score(batches)


class ScoringPool:
    """Pipelines that score batches of cases into prediction rows: this process's own with one
    worker, else `workers` spawned processes of one thread each (two single-threaded processes
    beat one two-threaded one: the encoder gains little from a second thread)."""

    def __init__(self, workers: int = 1, model_path: str | None = None, rubric: str = "self-sufficiency",
                 pipeline=None) -> None:
        self.workers, self.model_path, self.rubric, self.pipeline = max(1, workers), model_path, rubric, pipeline
        self._pool = None

    def __enter__(self) -> ScoringPool:
        global _worker_pipeline
        if self.workers == 1:
            _worker_pipeline = self.pipeline or _load_pipeline(self.model_path, self.rubric, threads=None)
        else:
            import multiprocessing

            context = multiprocessing.get_context("spawn")  # torch and fork do not mix
            self._pool = context.Pool(self.workers, initializer=_load_worker,
                                      initargs=(self.model_path, self.rubric, 1))
        return self

    def __exit__(self, *exc_info) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()

    def score(self, batches: Sequence[Sequence[LabeledCase]]) -> Iterator[list[dict]]:
        """Prediction rows a batch at a time, in the order batches finish."""
        if self._pool is None:
            return map(_score_batch, batches)
        return self._pool.imap_unordered(_score_batch, batches)


_worker_pipeline = None


def _load_pipeline(model_path: str | None, rubric: str, threads: int | None):
    from casenotes.runtime.factory import PipelineSpec, build_pipeline

    return build_pipeline(PipelineSpec(model_path=model_path, rubric=rubric, threads=threads))


def _load_worker(model_path: str | None, rubric: str, threads: int | None) -> None:
    """Build this worker process's pipeline once."""
    global _worker_pipeline
    _worker_pipeline = _load_pipeline(model_path, rubric, threads)


def _score_batch(cases: Sequence[LabeledCase]) -> list[dict]:
    results = _worker_pipeline.score_many([(c.note, c.plan) for c in cases])
    return [prediction_json(c.id, r) for c, r in zip(cases, results)]


def _refuse_duplicate_ids(cases: list[LabeledCase]) -> None:
    from casenotes.errors import InvalidInput

    seen: set[str] = set()
    for case in cases:
        if case.id in seen:
            raise InvalidInput(f"id {case.id!r} appears twice in the input; ids must be unique to resume safely")
        seen.add(case.id)


def _cut_torn_tail(path: Path) -> None:
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as handle:
            handle.truncate(data.rfind(b"\n") + 1)
