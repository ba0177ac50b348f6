"""Scoring jobs on PostgreSQL with procrastinate: the job commits or rolls back with its note,
a worker scores it, and a job left `doing` by a dead worker goes back in the queue."""

from __future__ import annotations

import asyncio
import datetime

import psycopg
import pytest
from sqlalchemy import select

from casenotes.runtime.ingest import NoteIngestor
from casenotes.runtime.procrastinate_queue import (
    TASK,
    ProcrastinateQueue,
    conninfo,
    requeue_stalled_jobs,
    run_worker,
    worker_app,
)
from casenotes.runtime.scoring_jobs import RevisionScorer
from casenotes.store.repository import NoteFields, Repository
from casenotes.store.tables import Note, NoteRevision
from tests.conftest import fresh_postgres_database

NOTE = "Cl signed a lease for a one-bedroom apartment today."


@pytest.fixture
def database_url():  # procrastinate is the queue on PostgreSQL only
    yield from fresh_postgres_database()



def _jobs(database_url: str) -> list[tuple]:
    with psycopg.connect(conninfo(database_url)) as connection:
        return connection.execute("SELECT task_name, status::text, args FROM procrastinate_jobs "
                                  "WHERE task_name = %s ORDER BY id", [TASK]).fetchall()


def _fields(note_id: str) -> NoteFields:
    return NoteFields(note_id=note_id, note_date=datetime.date(2026, 11, 2), text=NOTE)


def test_a_note_and_its_job_commit_together_or_not_at_all(database_url, sessions, fake_pipeline):
    queue = ProcrastinateQueue(database_url)
    NoteIngestor(sessions, fake_pipeline, None, jobs=queue).accept("client-1", _fields("n-1"))
    with sessions() as session:
        revision_pk = session.scalar(select(NoteRevision.id))
    assert _jobs(database_url) == [(TASK, "todo", {"revision_pk": revision_pk})]

    with pytest.raises(RuntimeError), sessions.begin() as session:
        repo = Repository(session)
        [enrollment] = repo.enrollments(repo.client("client-1"))
        revision = repo.add_note(enrollment, _fields("n-2"), None, None, None)
        queue.enqueue(session, revision.id)
        raise RuntimeError("the request failed after the job was deferred")
    with sessions() as session:
        assert session.scalar(select(Note).where(Note.note_id == "n-2")) is None
    assert len(_jobs(database_url)) == 1


def test_a_worker_scores_the_queued_notes_and_stops_when_the_queue_is_empty(database_url, sessions, fake_pipeline):
    ingestor = NoteIngestor(sessions, fake_pipeline, None, jobs=ProcrastinateQueue(database_url))
    for i in range(3):
        ingestor.accept("client-1", _fields(f"n-{i}"))
    app = worker_app(database_url, RevisionScorer(sessions, fake_pipeline))
    run_worker(app, concurrency=2, stalled_after_seconds=30, install_signal_handlers=False, wait=False)
    with sessions() as session:
        assert set(session.scalars(select(NoteRevision.scoring_state))) == {"scored"}
    assert [status for _, status, _ in _jobs(database_url)] == ["succeeded"] * 3


def test_a_job_left_doing_by_a_dead_worker_goes_back_in_the_queue(database_url, sessions, fake_pipeline):
    NoteIngestor(sessions, fake_pipeline, None, jobs=ProcrastinateQueue(database_url)).accept(
        "client-1", _fields("n-1"))
    with psycopg.connect(conninfo(database_url), autocommit=True) as connection:  # a worker took it, then died
        connection.execute("UPDATE procrastinate_jobs SET status = 'doing', worker_id = NULL")
    app = worker_app(database_url, RevisionScorer(sessions, fake_pipeline))

    async def requeue() -> int:
        async with app.open_async():
            return await requeue_stalled_jobs(app, stalled_after_seconds=1)

    assert asyncio.run(requeue()) == 1
    assert [status for _, status, _ in _jobs(database_url)] == ["todo"]
    run_worker(app, concurrency=1, stalled_after_seconds=30, install_signal_handlers=False, wait=False)
    assert [status for _, status, _ in _jobs(database_url)] == ["succeeded"]
