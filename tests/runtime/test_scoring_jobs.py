"""Accept now, score next: a note and its job commit together, a job scores its revision once,
a failing job is retried and then dead-lettered, and an erased note's job ends quietly."""

from __future__ import annotations

import datetime
import threading
import time

import pytest
from sqlalchemy import select

from casenotes.errors import ModelError
from casenotes.runtime.ingest import NoteIngestor
from casenotes.runtime.inprocess_worker import InProcessWorker
from casenotes.runtime.scoring_jobs import MAX_ATTEMPTS, RevisionScorer
from casenotes.store.repository import NoteFields, Repository
from casenotes.store.tables import NoteRevision, Result

NOTE = "Cl signed a lease for a one-bedroom apartment today. She reports no drinking since last visit."



@pytest.fixture(autouse=True)
def plan(sessions):
    with sessions.begin() as session:
        repo = Repository(session)
        [enrollment] = repo.enrollments(repo.client("client-1"))
        repo.store_plan(enrollment, [_goal()], "self-sufficiency")


def _goal():
    from casenotes.schema import Goal

    return Goal(goal_id="G1", text="Client will obtain stable housing.", domain="housing")


def _fields(note_id: str = "n-1", text: str = NOTE) -> NoteFields:
    return NoteFields(note_id=note_id, note_date=datetime.date(2026, 11, 2), text=text)


class _RecordingQueue:
    def __init__(self) -> None:
        self.enqueued: list[int] = []

    def enqueue(self, session, revision_pk: int) -> None:
        self.enqueued.append(revision_pk)


def _state(sessions, note_id: str = "n-1") -> NoteRevision:
    with sessions() as session:
        return session.scalar(select(NoteRevision).join(NoteRevision.note).where(NoteRevision.note.has(note_id=note_id)))


def test_an_accepted_note_waits_pending_with_its_job_then_scores_once(sessions, fake_pipeline):
    queue = _RecordingQueue()
    ingestor = NoteIngestor(sessions, fake_pipeline, None, jobs=queue)
    arrival = ingestor.accept("client-1", _fields())
    pending = _state(sessions)
    assert arrival.created and pending.scoring_state == "pending" and pending.model_version is None
    assert queue.enqueued == [pending.id]

    scorer = RevisionScorer(sessions, fake_pipeline)
    assert scorer.score(pending.id) == "scored"
    assert scorer.score(pending.id) == "already-scored"  # at-least-once delivery: the second run stores nothing
    with sessions() as session:
        results = session.scalars(select(Result).where(Result.revision_pk == pending.id)).all()
    assert _state(sessions).scoring_state == "scored"
    assert [r.goal_id for r in results if r.kind == "goal"] == ["G1"]  # once, not twice


def test_the_same_note_accepted_twice_is_stored_once_and_gets_one_job(sessions, fake_pipeline):
    queue = _RecordingQueue()
    ingestor = NoteIngestor(sessions, fake_pipeline, None, jobs=queue)
    assert ingestor.accept("client-1", _fields()).created
    assert not ingestor.accept("client-1", _fields()).created
    assert len(queue.enqueued) == 1


def test_a_job_whose_note_was_erased_ends_without_scoring_or_error(sessions, fake_pipeline):
    NoteIngestor(sessions, fake_pipeline, None, jobs=_RecordingQueue()).accept("client-1", _fields())
    revision_pk = _state(sessions).id
    with sessions.begin() as session:
        repo = Repository(session)
        repo.delete_client(repo.client("client-1"))
    assert RevisionScorer(sessions, fake_pipeline).score(revision_pk) == "erased"


class _BrokenPipeline:
    """A pipeline whose model fails every time, as a corrupt artifact would."""

    def __init__(self, pipeline) -> None:
        self._pipeline = pipeline
        self.max_note_chars = pipeline.max_note_chars

    def read_many(self, pairs):
        raise ModelError("the goal head is missing")


def test_the_in_process_worker_scores_what_is_pending(sessions, fake_pipeline):
    worker = InProcessWorker(sessions, RevisionScorer(sessions, fake_pipeline), concurrency=2)
    ingestor = NoteIngestor(sessions, fake_pipeline, None, jobs=worker)
    for i in range(3):
        ingestor.accept("client-1", _fields(f"n-{i}", f"{NOTE} Visit {i}."))
    assert worker.run_once() == 2  # as many as it has threads
    assert worker.wait_idle(timeout=30)
    assert worker.run_once() == 1
    worker.stop()
    assert {_state(sessions, f"n-{i}").scoring_state for i in range(3)} == {"scored"}


def test_a_failing_job_is_retried_with_backoff_then_dead_lettered_with_a_reason(sessions, fake_pipeline):
    broken = _BrokenPipeline(fake_pipeline)
    scorer = RevisionScorer(sessions, broken)
    NoteIngestor(sessions, fake_pipeline, None, jobs=_RecordingQueue()).accept("client-1", _fields())
    revision_pk = _state(sessions).id
    worker = InProcessWorker(sessions, scorer, concurrency=1)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        with sessions.begin() as session:  # the backoff has passed
            session.get(NoteRevision, revision_pk).next_attempt_at = None
        assert worker.run_once() == 1
        assert worker.wait_idle(timeout=30)
        revision = _state(sessions)
        assert revision.scoring_attempts == attempt
    assert revision.scoring_state == "failed"
    assert revision.scoring_error == "ModelError: [E020] the goal head is missing"
    assert NOTE[:20] not in revision.scoring_error
    assert worker.run_once() == 0  # a dead letter is not picked up again

    ingestor = NoteIngestor(sessions, fake_pipeline, None, jobs=worker)
    assert ingestor.retry("n-1")  # an admin's retry
    assert not ingestor.retry("n-1")  # pending again, not failed
    worker.scorer = RevisionScorer(sessions, fake_pipeline)  # the model is fixed
    assert worker.run_once() == 1 and worker.wait_idle(timeout=30)
    assert _state(sessions).scoring_state == "scored" and _state(sessions).scoring_error is None
    worker.stop()


class _SlowPipeline:
    """The fake pipeline, a second slower: long enough for a shutdown to come mid-job."""

    def __init__(self, pipeline) -> None:
        self._pipeline = pipeline
        self.max_note_chars = pipeline.max_note_chars
        self.started = threading.Event()

    def read_many(self, pairs):
        self.started.set()
        time.sleep(1.0)
        return self._pipeline.read_many(pairs)


def test_a_stopping_worker_finishes_the_job_in_hand_and_claims_no_more(sessions, fake_pipeline):
    slow = _SlowPipeline(fake_pipeline)
    worker = InProcessWorker(sessions, RevisionScorer(sessions, slow), concurrency=1, poll_seconds=0.05)
    ingestor = NoteIngestor(sessions, fake_pipeline, None, jobs=worker)
    ingestor.accept("client-1", _fields("n-1"))
    worker.start()
    assert slow.started.wait(timeout=30)
    ingestor.accept("client-1", _fields("n-2", f"{NOTE} Second visit."))
    worker.stop()  # mid-job
    assert _state(sessions, "n-1").scoring_state == "scored"
    assert _state(sessions, "n-2").scoring_state == "pending"  # left for the next worker, not lost
