"""The scoring job queue of the configured database, and the scoring workers of this process.

SQLite (the embedded default): the pending revisions are the queue, and in-process threads
score them. PostgreSQL: procrastinate is the queue; this process runs a procrastinate worker
in a thread unless told not to (`serve --no-worker`), and `casenotes worker` runs more of
them, here or on any machine that reaches the database.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from casenotes.runtime.ingest import JobQueue
from casenotes.runtime.inprocess_worker import InProcessWorker
from casenotes.runtime.scoring_jobs import RevisionScorer
from casenotes.store.tables import NoteRevision, utcnow

__all__ = ["QueueDepth", "ScoringWorkers", "job_queue", "queue_depth"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueueDepth:
    pending: int
    failed: int
    oldest_pending_seconds: float


def queue_depth(sessions: sessionmaker[Session]) -> QueueDepth:
    """How many revisions wait for scoring, how many are dead letters, and how long the oldest has waited."""
    with sessions() as session:
        counts = dict(session.execute(select(NoteRevision.scoring_state, func.count())
                                      .where(NoteRevision.scoring_state != "scored")
                                      .group_by(NoteRevision.scoring_state)).all())
        oldest = session.scalar(select(func.min(NoteRevision.created_at))
                                .where(NoteRevision.scoring_state == "pending"))
    age = (utcnow() - oldest).total_seconds() if oldest is not None else 0.0
    return QueueDepth(pending=counts.get("pending", 0), failed=counts.get("failed", 0),
                      oldest_pending_seconds=max(0.0, age))


def job_queue(database_url: str, sessions: sessionmaker[Session]) -> JobQueue:
    """Where to put scoring jobs, running none: procrastinate on PostgreSQL, the pending rows on SQLite."""
    if database_url.startswith("postgresql"):
        from casenotes.runtime.procrastinate_queue import ProcrastinateQueue

        return ProcrastinateQueue(database_url)
    return _PendingRows()


class _PendingRows:
    """SQLite's queue when no worker runs here: the pending revision is the job already."""

    def enqueue(self, session: Session, revision_pk: int) -> None:
        pass


class ScoringWorkers:
    def __init__(self, database_url: str, sessions: sessionmaker[Session], scorer: RevisionScorer, *,
                 run_workers: bool = True, concurrency: int = 2, stalled_after_seconds: float = 30.0) -> None:
        self._started = False
        if database_url.startswith("postgresql"):
            self.queue: JobQueue = job_queue(database_url, sessions)
            self._worker = (_ProcrastinateThread(database_url, scorer, concurrency, stalled_after_seconds)
                            if run_workers else None)
        else:
            in_process = InProcessWorker(sessions, scorer, concurrency=concurrency)
            self.queue = in_process
            self._worker = in_process if run_workers else None

    def start(self) -> None:
        if self._worker is not None:
            self._worker.start()
            self._started = True

    def stop(self) -> None:
        """Take no more jobs and finish the jobs in hand."""
        if self._worker is not None and self._started:
            self._worker.stop()


class _ProcrastinateThread:
    """A procrastinate worker on its own event loop in a thread of the service process."""

    def __init__(self, database_url: str, scorer: RevisionScorer, concurrency: int, stalled_after_seconds: float):
        from casenotes.runtime.procrastinate_queue import WorkerSettings, worker_app

        self.settings = WorkerSettings.stalled_after(stalled_after_seconds)
        self.app = worker_app(database_url, scorer, self.settings)
        self.concurrency = concurrency
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="casenotes-procrastinate", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(timeout=30)

    def stop(self) -> None:
        if self._loop is not None and self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(timeout=60)

    def _run(self) -> None:
        from casenotes.runtime.procrastinate_queue import work

        async def main() -> None:
            self._task = asyncio.current_task()
            self._ready.set()
            try:
                await work(self.app, concurrency=self.concurrency, install_signal_handlers=False,
                           stalled_after_seconds=self.settings.stalled_after_seconds)
            except asyncio.CancelledError:
                log.info("scoring worker stopped")

        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(main())
        finally:
            self._ready.set()
            self._loop.close()
