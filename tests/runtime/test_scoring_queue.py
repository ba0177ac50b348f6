"""Concurrent requests share passes through the model, and each gets its own note's result."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from casenotes.errors import InvalidInput
from casenotes.runtime.scoring_queue import ScoringQueue
from casenotes.shared_format import case_from_json


class RecordingPipeline:
    """The real pipeline, recording each batch's size; the first pass is slowed so that the
    other requests are already waiting when it ends (as they would be behind a real one)."""

    def __init__(self, pipeline) -> None:
        self.inner = pipeline
        self.batch_sizes: list[int] = []
        self._first = threading.Event()

    def read_many(self, items):
        self.batch_sizes.append(len(items))
        if not self._first.is_set():
            self._first.set()
            time.sleep(0.5)
        return self.inner.read_many(items)


def _summary(result):
    return ([(g.goal_id, g.status, [(c.start, c.end) for c in g.citations]) for g in result.goals],
            [(d.domain, d.level) for d in result.domains], [(f.type, f.severity) for f in result.flags])


def test_waiting_requests_are_scored_together_each_with_its_own_result(pipeline, test_split):
    cases = [case_from_json(row, f"test line {i}") for i, row in enumerate(test_split[:8])]
    recording = RecordingPipeline(pipeline)
    queue = ScoringQueue(recording, max_batch=4)
    with ThreadPoolExecutor(len(cases)) as threads:
        futures = []
        for case in cases:
            futures.append(threads.submit(queue.score, case.note, case.plan))
            time.sleep(0.02)  # the first request reaches the model before the others arrive
        together = [future.result(timeout=120) for future in futures]
    assert recording.batch_sizes[0] == 1 and max(recording.batch_sizes) == 4
    assert sum(recording.batch_sizes) == len(cases) and len(recording.batch_sizes) < len(cases)
    for case, scored in zip(cases, together):
        assert _summary(scored.result) == _summary(pipeline.read_many([(case.note, case.plan)])[0].result)


def test_a_bad_note_fails_alone(pipeline, test_split):
    good = case_from_json(test_split[0], "test line 0")
    queue = ScoringQueue(RecordingPipeline(pipeline))
    with ThreadPoolExecutor(3) as threads:
        first = threads.submit(queue.score, good.note, good.plan)
        time.sleep(0.05)
        bad = threads.submit(queue.score, good.note.model_copy(update={"text": "a lone \ud800 surrogate"}), good.plan)
        other = threads.submit(queue.score, good.note, good.plan)
        assert first.result(timeout=120).result.goals and other.result(timeout=120).result.goals
        with pytest.raises(InvalidInput):
            bad.result(timeout=120)
