"""Scoring jobs on PostgreSQL, with procrastinate: a job is deferred on the connection of the
transaction that stores the note, so the two commit together; workers on any machine that
reaches the database fetch jobs with SKIP LOCKED, retry a failed one with exponential backoff,
and leave one that failed `MAX_ATTEMPTS` times `failed` (the dead letters an admin retries).

A worker killed mid-job leaves its job `doing` with a heartbeat that stops; every worker
re-queues such stalled jobs when it starts and once a minute after.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import procrastinate
from procrastinate import JobContext, RetryStrategy
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from casenotes.runtime.scoring_jobs import MAX_ATTEMPTS, RevisionScorer

__all__ = ["QUEUE", "TASK", "ProcrastinateQueue", "WorkerSettings", "conninfo", "requeue_stalled_jobs", "run_worker",
           "work", "worker_app"]

log = logging.getLogger(__name__)
QUEUE = "scoring"
TASK = "casenotes.score_revision"
RETRY_BASE_SECONDS = 2  # retries wait 2, 4, 8, 16 s


def conninfo(database_url: str) -> str:
    """The libpq address of an SQLAlchemy PostgreSQL URL."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class ProcrastinateQueue:
    """Defers scoring jobs in the caller's transaction; runs none (see `worker_app`)."""

    def __init__(self, database_url: str) -> None:
        self.app = procrastinate.App(connector=procrastinate.SyncPsycopgConnector(conninfo=conninfo(database_url)))

    def enqueue(self, session: Session, revision_pk: int) -> None:
        connection = session.connection().connection.dbapi_connection
        self.app.configure_task(TASK, queue=QUEUE, connection=connection).defer(revision_pk=revision_pk)


@dataclass(frozen=True)
class WorkerSettings:
    heartbeat_seconds: float = 10.0
    stalled_after_seconds: float = 30.0  # a worker silent this long is gone; its jobs go back in the queue
    # New jobs wake a worker at once (LISTEN/NOTIFY); a retry that comes due is found by this poll.
    poll_seconds: float = 1.0

    @classmethod
    def stalled_after(cls, seconds: float) -> WorkerSettings:
        """Settings under which a worker silent `seconds` is gone: it beats three times in that span."""
        return cls(heartbeat_seconds=min(cls.heartbeat_seconds, seconds / 3), stalled_after_seconds=seconds)


def worker_app(database_url: str, scorer: RevisionScorer, settings: WorkerSettings | None = None) -> procrastinate.App:
    """A procrastinate app whose worker scores revisions with `scorer`."""
    settings = settings or WorkerSettings()
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=conninfo(database_url)),
        worker_defaults={"update_heartbeat_interval": settings.heartbeat_seconds,
                         "stalled_worker_timeout": settings.stalled_after_seconds,
                         "fetch_job_polling_interval": settings.poll_seconds},
    )

    retry = RetryStrategy(max_attempts=MAX_ATTEMPTS - 1, exponential_wait=RETRY_BASE_SECONDS)  # after the first run

    @app.task(name=TASK, queue=QUEUE, retry=retry, pass_context=True)
    def score_revision(context: JobContext, revision_pk: int) -> str:
        try:
            return scorer.score(revision_pk)
        except Exception as error:
            if context.job.attempts + 1 >= MAX_ATTEMPTS:
                scorer.fail(revision_pk, error)
            log.warning("scoring job %s: revision %d failed (%s), attempt %d of %d", context.job.id, revision_pk,
                        type(error).__name__, context.job.attempts + 1, MAX_ATTEMPTS)
            raise

    @app.periodic(cron="* * * * *", periodic_id="requeue-stalled")
    @app.task(name="casenotes.requeue_stalled", queue=QUEUE, pass_context=True)
    async def requeue_stalled(context: JobContext, timestamp: int) -> int:
        return await requeue_stalled_jobs(context.app, settings.stalled_after_seconds)

    return app


async def requeue_stalled_jobs(app: procrastinate.App, stalled_after_seconds: float) -> int:
    """Put the jobs of workers that stopped beating back in the queue; how many."""
    stalled = list(await app.job_manager.get_stalled_jobs(task_name=TASK, seconds_since_heartbeat=stalled_after_seconds))
    for job in stalled:
        await app.job_manager.retry_job(job)
    if stalled:
        log.warning("scoring: %d stalled job(s) put back in the queue", len(stalled))
    return len(stalled)


async def work(app: procrastinate.App, *, concurrency: int, stalled_after_seconds: float,
               install_signal_handlers: bool = True, wait: bool = True) -> None:
    """Re-queue stalled jobs, then work until SIGINT/SIGTERM, cancellation or (with `wait` False)
    an empty queue; the jobs in hand finish first."""
    # procrastinate runs a sync task on the loop's default executor, which Python sizes by the
    # core count (6 threads on 2 cores): with `concurrency` above that, jobs would sit waiting
    # for a thread instead of joining the model's next batch.
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="casenotes-scoring"))
    async with app.open_async():
        await requeue_stalled_jobs(app, stalled_after_seconds)
        await app.run_worker_async(queues=[QUEUE], concurrency=concurrency, wait=wait,
                                   install_signal_handlers=install_signal_handlers)


def run_worker(app: procrastinate.App, **options) -> None:
    """`work` on a new event loop, until it ends."""
    asyncio.run(work(app, **options))
