"""Scoring for many request threads at once, a batch per pass through the model.

A server scores one note a request. Alone, each would wait for the model in turn; here
the thread that finds the model free scores every note waiting at that moment in one
`Pipeline.read_many` call (one encoder pass across the notes), and the others collect
their results. A lone request is scored at once, as before; under concurrent load the
encoder works on bigger batches, which is where its throughput lies.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from casenotes.pipeline import Pipeline
from casenotes.schema import Note, Plan, ScoredNote

__all__ = ["ScoringQueue"]

DEFAULT_MAX_BATCH = 16


@dataclass(eq=False)
class _Request:
    note: Note
    plan: Plan
    done: threading.Event = field(default_factory=threading.Event)
    scored: ScoredNote | None = None
    error: BaseException | None = None


class ScoringQueue:
    def __init__(self, pipeline: Pipeline, max_batch: int = DEFAULT_MAX_BATCH) -> None:
        self.pipeline = pipeline
        self.max_batch = max(1, max_batch)
        self._model = threading.Lock()  # one batch in the model at a time
        self._queue_lock = threading.Lock()
        self._waiting: list[_Request] = []

    def score(self, note: Note, plan: Plan) -> ScoredNote:
        request = _Request(note, plan)
        with self._queue_lock:
            self._waiting.append(request)
        while not request.done.is_set():
            with self._model:
                if not request.done.is_set():  # nobody took it while we waited: score what is waiting
                    self._score_waiting()
        if request.error is not None:
            raise request.error
        return request.scored

    def _score_waiting(self) -> None:
        with self._queue_lock:
            batch, self._waiting = self._waiting[: self.max_batch], self._waiting[self.max_batch:]
        try:
            for request, scored in zip(batch, self.pipeline.read_many([(r.note, r.plan) for r in batch])):
                request.scored = scored
        except Exception:  # noqa: BLE001 - one bad note must not fail the others: each alone, with its own error
            for request in batch:
                self._score_alone(request)
        finally:
            for request in batch:
                request.done.set()

    def _score_alone(self, request: _Request) -> None:
        try:
            request.scored = self.pipeline.read_many([(request.note, request.plan)])[0]
        except Exception as error:  # noqa: BLE001 - handed to the request's own thread
            request.error = error
