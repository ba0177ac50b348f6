"""The embedded default's scoring worker: threads in the service process that score the
revisions waiting in the SQLite database.

The pending revision is the job: stored in the note's own transaction, it is found again after
a crash or restart. A thread claims a revision by leasing it (`polling.lease_due`), so two
processes on one database do not score it at once, and a process that dies mid-job leaves a
lease that runs out. A failure waits `retry_delay` before the next attempt;
after `MAX_ATTEMPTS` the revision is `failed`, where an admin sees it and can retry it.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from sqlalchemy import or_
from sqlalchemy.orm import Session, sessionmaker

from casenotes.runtime.polling import PooledPoller, lease_due
from casenotes.runtime.scoring_jobs import MAX_ATTEMPTS, RevisionScorer, retry_delay
from casenotes.store.tables import NoteRevision, utcnow

__all__ = ["InProcessWorker"]

log = logging.getLogger(__name__)
# Longer than scoring the largest note takes; after a crash, what the dead process had claimed
# waits this long before another takes it.
LEASE = timedelta(seconds=60)


class InProcessWorker(PooledPoller):
    def __init__(self, sessions: sessionmaker[Session], scorer: RevisionScorer, *, concurrency: int = 2,
                 poll_seconds: float = 1.0) -> None:
        self.sessions = sessions
        self.scorer = scorer
        self.concurrency = max(1, concurrency)
        super().__init__("casenotes-scoring", poll_seconds, self.concurrency)
        self._in_flight: set[int] = set()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)

    def enqueue(self, session: Session, revision_pk: int) -> None:
        """The pending revision is the job already; wake the worker once the caller commits."""
        self._poller.wake_after_commit(session)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no job is in hand; False if `timeout` seconds passed first."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._in_flight, timeout)

    def run_once(self) -> int:
        """Claim what is due, up to the free threads, and start scoring it; how many were started."""
        with self._lock:
            free = self.concurrency - len(self._in_flight)
        claimed = self._claim(free) if free > 0 else []
        for revision_pk in claimed:
            with self._lock:
                self._in_flight.add(revision_pk)
            self._pool.submit(self._run, revision_pk)
        return len(claimed)

    def _claim(self, limit: int) -> list[int]:
        now = utcnow()
        due = [NoteRevision.scoring_state == "pending",
               or_(NoteRevision.next_attempt_at.is_(None), NoteRevision.next_attempt_at <= now)]
        return lease_due(self.sessions, NoteRevision, due, NoteRevision.next_attempt_at, [NoteRevision.id], limit,
                         until=now + LEASE)

    def _run(self, revision_pk: int) -> None:
        try:
            self.scorer.score(revision_pk)
        except Exception as error:  # noqa: BLE001 - a failed job is retried later or dead-lettered, never lost
            self._after_failure(revision_pk, error)
        finally:
            with self._idle:
                self._in_flight.discard(revision_pk)
                self._idle.notify_all()
            self._poller.wake()

    def _after_failure(self, revision_pk: int, error: BaseException) -> None:
        with self.sessions.begin() as session:
            revision = session.get(NoteRevision, revision_pk)
            if revision is None or revision.scoring_state != "pending":
                return
            revision.scoring_attempts += 1
            attempts = revision.scoring_attempts
            revision.next_attempt_at = utcnow() + retry_delay(attempts)
        log.warning("scoring worker: revision %d failed (%s), attempt %d of %d", revision_pk,
                    type(error).__name__, attempts, MAX_ATTEMPTS)
        if attempts >= MAX_ATTEMPTS:
            self.scorer.fail(revision_pk, error)
