"""Every worker's search index converges to the database through its ordered change log, on
SQLite and PostgreSQL: no segment skipped when workers commit in any order, none held twice,
an erased client's vectors gone after catch-up and never returned before it, and a restart
resuming from the saved position in the log."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import MetaData, text

from tests.service.conftest import PROGRAM_A

NOTE_DATE = date(2026, 3, 14)
TOPICS = ["signed a lease on a one-bedroom apartment", "started a forklift certification course",
          "attended an AA meeting and has a sponsor", "applied for SNAP benefits at the county office",
          "enrolled the children in the after-school program", "met the landlord about the repair list",
          "reported sleeping well on the new medication", "opened a savings account at the credit union"]


@pytest.fixture
def pipeline(fake_pipeline):
    """The fake one: no test here checks what a note says, so none loads the real model."""
    return fake_pipeline


@dataclass
class Worker:
    """What one `serve` worker process holds: its own index, and an ingestor feeding it."""

    index: object
    ingestor: object


@pytest.fixture
def sessions(database_url):
    from casenotes.store import make_engine, make_sessionmaker, migrate

    engine = make_engine(database_url)
    migrate(engine)
    yield make_sessionmaker(engine)
    engine.dispose()


def start_worker(sessions, pipeline, path: Path | None = None) -> Worker:
    from casenotes.runtime.ingest import NoteIngestor
    from casenotes.runtime.search import SegmentIndex
    from casenotes.store.repository import SegmentChangeLog

    index = SegmentIndex(pipeline.encoder.dimension, path, log=SegmentChangeLog(sessions))
    index.catch_up()  # what build_services does at startup
    return Worker(index, NoteIngestor(sessions, pipeline, index))


def put_client(sessions, client_id: str) -> None:
    from casenotes.store.repository import Repository

    with sessions.begin() as session:
        Repository(session).put_client(client_id, PROGRAM_A)


def fields(n: int, revision: int = 1):
    from casenotes.store.repository import NoteFields

    topic = TOPICS[(n + revision) % len(TOPICS)]
    return NoteFields(note_id=f"N-{n}", note_date=NOTE_DATE,
                      text=f"D: Cl {topic} (visit {n}.{revision}). P: f/u next week on the plan.")


def current_segments(sessions) -> list[int]:
    from casenotes.store.repository import Repository

    with sessions() as session:
        return sorted(Repository(session).segment_vectors()[0].tolist())


def entries(index) -> list[int]:
    """Every id the faiss index holds, once per entry: a duplicate would show twice."""
    return sorted(i for i, _ in index.search(np.ones(index.dimension, np.float32), len(index) + 5))


def log_length(sessions) -> int:
    with sessions() as session:
        return session.scalar(text("SELECT count(*) FROM segment_change"))


def last_seq(sessions) -> int:
    with sessions() as session:
        return session.scalar(text("SELECT max(seq) FROM segment_change"))


def test_convergence_workers_ingesting_in_turn_both_hold_every_segment_once(sessions, pipeline):
    put_client(sessions, "C-1")
    first, second = start_worker(sessions, pipeline), start_worker(sessions, pipeline)
    for n in range(8):
        worker = (first, second)[n % 2]
        worker.ingestor.arrive("C-1", fields(n))
        assert entries(worker.index) == current_segments(sessions), "the ingesting worker is current at once"
    second.ingestor.revise("N-0", fields(0, revision=2))
    first.ingestor.revise("N-3", fields(3, revision=2))
    for worker in (first, second):
        worker.index.catch_up()
    segments = current_segments(sessions)
    assert entries(first.index) == entries(second.index) == segments
    assert len(first.index) == len(segments) and first.index.applied_seq == second.index.applied_seq


def test_convergence_a_later_writer_cannot_commit_its_changes_before_an_open_one(sessions, pipeline):
    """Two sessions: A has stored its note but not committed; B stores another and commits.
    Were B's changes visible first, a catch-up in between would pass A's smaller seqs for good."""
    from casenotes.schema import Note as NoteSpec
    from casenotes.schema import Plan as PlanSpec
    from casenotes.store.repository import Repository

    put_client(sessions, "C-1")
    worker = start_worker(sessions, pipeline)
    scored = {n: pipeline.read_many([(NoteSpec(text=fields(n).text, note_id=f"N-{n}", client_id="C-1",
                                               note_date=NOTE_DATE), PlanSpec())])[0] for n in (1, 2)}

    def store(session, n: int) -> None:
        repo = Repository(session)
        [enrollment] = repo.enrollments(repo.client("C-1"))
        repo.add_note(enrollment, fields(n), None, scored[n], None)

    b_committed = threading.Event()

    def writer_b() -> None:
        with sessions.begin() as session:
            store(session, 2)
        b_committed.set()

    with sessions.begin() as session_a:
        store(session_a, 1)
        thread = threading.Thread(target=writer_b)
        thread.start()
        b_committed.wait(2)  # it cannot commit while A is open; the check after the commit shows why
        if session_a.get_bind().dialect.name != "sqlite":  # on SQLite every transaction waits for A
            worker.index.catch_up()
    thread.join(30)
    assert b_committed.is_set()
    worker.index.catch_up()
    assert entries(worker.index) == current_segments(sessions)


def test_convergence_a_restart_resumes_from_the_saved_seq(sessions, pipeline, tmp_path):
    from casenotes.runtime.search import SegmentIndex
    from casenotes.store.repository import SegmentChangeLog

    put_client(sessions, "C-1")
    path = tmp_path / "search" / "segments.faiss"
    first, second = start_worker(sessions, pipeline, path), start_worker(sessions, pipeline)
    for n in range(3):
        first.ingestor.arrive("C-1", fields(n))
    first.index.save()
    saved, saved_entries, logged = first.index.applied_seq, entries(first.index), log_length(sessions)
    assert saved == last_seq(sessions)
    second.ingestor.arrive("C-1", fields(3))
    second.ingestor.revise("N-1", fields(1, revision=2))
    restarted = SegmentIndex(pipeline.encoder.dimension, path, log=SegmentChangeLog(sessions))
    assert restarted.applied_seq == saved and entries(restarted) == saved_entries
    assert restarted.catch_up() == log_length(sessions) - logged, "only the changes after the saved seq"
    assert entries(restarted) == current_segments(sessions) and restarted.applied_seq == last_seq(sessions)


def test_convergence_catch_up_racing_ingest_adds_nothing_twice(sessions, pipeline):
    for client_id in ("C-1", "C-2"):
        put_client(sessions, client_id)
    worker = start_worker(sessions, pipeline)
    applied: list[int] = []
    stop = threading.Event()

    def search_loop() -> None:  # each search catches up first
        while not stop.is_set():
            applied.append(worker.index.catch_up())

    searchers = [threading.Thread(target=search_loop) for _ in range(4)]
    for thread in searchers:
        thread.start()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda n: worker.ingestor.arrive(f"C-{n % 2 + 1}", fields(n)), range(12)))
    stop.set()
    for thread in searchers:
        thread.join()
    applied.append(worker.index.catch_up())
    segments = current_segments(sessions)
    assert entries(worker.index) == segments and len(worker.index) == len(segments)
    assert sum(applied) <= log_length(sessions), "no change applied twice"


def test_convergence_erased_vectors_leave_both_indexes_and_are_never_found_before(sessions, pipeline, tmp_path):
    from casenotes.store.repository import Repository

    for client_id in ("C-1", "C-2"):
        put_client(sessions, client_id)
    path = tmp_path / "search" / "segments.faiss"
    erasing, other = start_worker(sessions, pipeline, path), start_worker(sessions, pipeline, path)
    for n in range(6):
        (erasing, other)[n % 2].ingestor.arrive(f"C-{n % 3 // 2 + 1}", fields(n))
    other.index.catch_up()
    with sessions.begin() as session:  # DELETE /v1/clients/C-1
        repo = Repository(session)
        erased = repo.delete_client(repo.client("C-1"))
    erasing.index.save()  # what the route does before answering: applies the log, then saves
    assert erased and not set(erased) & set(entries(erasing.index))
    assert set(erased) <= set(entries(other.index)), "the other worker has not caught up yet"
    query = pipeline.embed_query(fields(0).text)
    found = [i for i, _ in other.index.search(query, len(other.index))]
    with sessions() as session:
        live = Repository(session).search_hits(found, programs=None)
    assert set(erased) & set(found) and not set(erased) & set(live), "the database filters what the index holds"
    other.index.save()  # a lagging worker's save applies the log first: no erased vector reaches the file
    from casenotes.runtime.search import SegmentIndex

    assert not set(erased) & set(entries(SegmentIndex(pipeline.encoder.dimension, path)))
    other.index.catch_up()
    assert entries(other.index) == entries(erasing.index) == current_segments(sessions)


def test_convergence_an_index_saved_before_the_log_is_rebuilt(sessions, pipeline, tmp_path):
    import json

    put_client(sessions, "C-1")
    path = tmp_path / "search" / "segments.faiss"
    worker = start_worker(sessions, pipeline, path)
    for n in range(3):
        worker.ingestor.arrive("C-1", fields(n))
    worker.index.add(np.array([999]), np.ones((1, worker.index.dimension), np.float32))  # stale junk
    worker.index.save()
    path.with_suffix(".json").write_text(json.dumps({"newest_id": 999}))  # the old metadata
    restarted = start_worker(sessions, pipeline, path)
    assert entries(restarted.index) == current_segments(sessions)
    assert restarted.index.applied_seq == last_seq(sessions)


def test_convergence_the_migration_logs_an_add_for_every_current_segment(empty_database_url):
    """A database at 0001 with a revised note: upgrading writes adds for the current revision only."""
    from alembic import command
    from alembic.config import Config

    from casenotes.store import make_engine
    from casenotes.store.tables import Client, Note, NoteRevision, SegmentRow

    engine = make_engine(empty_database_url)
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parents[2] / "casenotes/store/migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    now = datetime(2026, 3, 14, tzinfo=UTC)
    revision = dict(note_pk=1, text="t", sha256="0" * 64, model_version="m", rubric_name="r", rubric_version="1",
                    rubric_hash="0" * 64, created_at=now)
    segment = dict(start=0, end=1, negated=False, hypothetical=False, historical=False, other_experiencer=False,
                   vector=b"\0" * 16)
    with engine.begin() as connection:
        # The tables as 0001 made them (reflected): today's models may hold columns added since.
        at_0001 = MetaData()
        at_0001.reflect(connection, only=[model.__tablename__ for model in (Client, Note, NoteRevision, SegmentRow)])
        client, note, note_revision, segment_row = (at_0001.tables[model.__tablename__]
                                                    for model in (Client, Note, NoteRevision, SegmentRow))
        connection.execute(client.insert(), [dict(id=1, client_id="C-1", program=PROGRAM_A,
                                                  created_at=now, updated_at=now)])
        connection.execute(note.insert(), [dict(id=1, note_id="N-1", client_pk=1, note_date=NOTE_DATE,
                                                current_revision=2, created_at=now)])
        connection.execute(note_revision.insert(), [dict(revision, id=1, revision=1),
                                                    dict(revision, id=2, revision=2)])
        connection.execute(segment_row.insert(), [dict(segment, id=i, revision_pk=1 if i < 3 else 2)
                                                  for i in range(1, 6)])
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT segment_id, op FROM segment_change ORDER BY seq")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [(3, "add"), (4, "add"), (5, "add")]
