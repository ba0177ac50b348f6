"""Enrollments in the store: one person in many programs, at most one active enrollment per
program, and migration 0008 turning each client's program into its first enrollment with the
same access as before. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from casenotes.errors import Conflict, NotFound
from casenotes.store import make_engine, make_sessionmaker
from casenotes.store.repository import NoteFields, Repository
from casenotes.store.tables import Enrollment
from tests.conftest import PROGRAM_A, PROGRAM_B

CREATED = datetime(2026, 1, 5, 23, 30, tzinfo=UTC)


@pytest.fixture
def sessions(database_url):
    engine = make_engine(database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def test_enrollments_one_person_in_two_programs_is_seen_by_each_through_its_own(sessions):
    with sessions.begin() as session:
        repo = Repository(session)
        _, in_a, made_a = repo.put_client("C-1", PROGRAM_A)
        client, in_b, made_b = repo.put_client("C-1", PROGRAM_B)
        again = repo.put_client("C-1", PROGRAM_B)
        assert made_a and made_b and not again[2] and again[1].id == in_b.id
        repo.add_note(in_a, NoteFields("N-A", date(2026, 2, 1), "Note in A."), None, None, None)
        repo.add_note(in_b, NoteFields("N-B", date(2026, 2, 2), "Note in B."), None, None, None)
    with sessions() as session:
        repo = Repository(session)
        client = repo.client("C-1", PROGRAM_B)
        assert [e.program for e in repo.enrollments(client, PROGRAM_B)] == [PROGRAM_B]
        assert [n.note_id for n, _ in repo.current_revisions(client, PROGRAM_B)] == ["N-B"]
        assert [n.note_id for n, _ in repo.current_revisions(client)] == ["N-A", "N-B"]
        with pytest.raises(NotFound):
            repo.note("N-A", PROGRAM_B)
        assert repo.note("N-A").enrollment.program == PROGRAM_A
        with pytest.raises(NotFound):
            repo.client("C-1", "Another program")


def test_enrollments_overlapping_in_one_program_is_refused_and_changes_nothing(sessions):
    with sessions.begin() as session:
        Repository(session).put_client("C-1", PROGRAM_A, date(2026, 1, 1))
    with sessions() as session, pytest.raises(Conflict, match="already has an active enrollment"):
        repo = Repository(session)
        repo.enroll(repo.client("C-1"), PROGRAM_A, date(2026, 3, 1))
    with sessions() as session:
        rows = session.execute(text("SELECT program, start_date, status FROM enrollment")).all()
        assert [(p, str(d), s) for p, d, s in rows] == [(PROGRAM_A, "2026-01-01", "active")]


def test_enrollments_the_database_itself_refuses_a_second_active_enrollment(sessions):
    """The partial unique index holds even for a writer that skips the check."""
    from sqlalchemy.exc import IntegrityError

    with sessions.begin() as session:
        client, _, _ = Repository(session).put_client("C-1", PROGRAM_A)
        client_pk = client.id
    with sessions() as session, pytest.raises(IntegrityError):
        session.add(Enrollment(client_pk=client_pk, program=PROGRAM_A, start_date=date(2026, 1, 1), status="active"))
        session.flush()
    with sessions.begin() as session:  # a closed one beside the active one is fine
        session.add(Enrollment(client_pk=client_pk, program=PROGRAM_A, start_date=date(2025, 1, 1),
                               end_date=date(2025, 6, 1), status="closed"))


def test_enrollments_closing_then_writing_picks_or_refuses_as_it_should(sessions):
    with sessions.begin() as session:
        repo = Repository(session)
        _, in_a, _ = repo.put_client("C-1", PROGRAM_A, date(2026, 1, 1))
        repo.put_client("C-1", PROGRAM_B, date(2026, 1, 1))
        client = repo.client("C-1")
        with pytest.raises(Conflict, match="has 2 active enrollments"):
            repo.enrollment_for_writing(client, None)
        assert repo.enrollment_for_writing(client, PROGRAM_A).id == in_a.id
        with pytest.raises(Conflict, match="before the enrollment's start_date"):
            repo.close_enrollment(in_a, date(2025, 12, 31))
        repo.close_enrollment(in_a, date(2026, 2, 1))
        with pytest.raises(Conflict, match="closed already"):
            repo.close_enrollment(in_a, date(2026, 2, 1))
        with pytest.raises(Conflict, match="it was closed"):
            repo.enrollment_for_writing(client, PROGRAM_A)
        assert repo.enrollment_for_writing(client, None).program == PROGRAM_B  # the only active one
        again = repo.enroll(client, PROGRAM_A, date(2026, 3, 1))  # a new stay after the closed one
        assert again.id != in_a.id and repo.enrollment_for_writing(client, PROGRAM_A).id == again.id


# -- migration 0008 ----------------------------------------------------------------------------

def _upgrade(engine, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    import casenotes.store.db as db

    config = Config()
    config.set_main_option("script_location", str(Path(db.__file__).parent / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def _fill_a_0007_database(engine) -> None:
    """Client C-A in program A with a plan, a scored note, a flag and an audit row; C-B in program B."""
    statements = [
        ("INSERT INTO client (id, client_id, program, created_at, updated_at) VALUES "
         "(1, 'C-A', :a, :at, :at), (2, 'C-B', :b, :at, :at)"),
        "INSERT INTO plan (id, client_pk, version, rubric, created_at) VALUES (1, 1, 1, 'self-sufficiency', :at)",
        ("INSERT INTO plan_goal (id, plan_pk, position, goal_id, text, domain) "
         "VALUES (1, 1, 0, 'G1', 'Find housing', 'housing')"),
        ("INSERT INTO note (id, note_id, client_pk, note_date, current_revision, created_at) "
         "VALUES (1, 'N-A-1', 1, '2026-01-10', 1, :at), (2, 'N-B-1', 2, '2026-01-11', 1, :at)"),
        ("INSERT INTO note_revision (id, note_pk, revision, text, sha256, plan_pk, created_at, scoring_state, "
         "scoring_attempts) VALUES (1, 1, 1, 'Cl signed a lease.', 'x', 1, :at, 'scored', 0), "
         "(2, 2, 1, 'Cl missed rent.', 'y', NULL, :at, 'scored', 0)"),
        ("INSERT INTO result (id, revision_pk, kind, goal_id, status, score, confidence, citations) "
         "VALUES (1, 1, 'goal', 'G1', 'achieved', 0.9, 0.8, '[[3, 17]]')"),
        ("INSERT INTO flag (id, revision_pk, type, severity, confidence, citations, note_date, status) "
         "VALUES (1, 1, 'housing_loss', 3, 0.7, '[]', '2026-01-10', 'open'), "
         "(2, 2, 'housing_loss', 3, 0.7, '[]', '2026-01-11', 'open')"),
        ("INSERT INTO audit_log (at, actor, role, action, object_type, object_id, client_id, request_id) "
         "VALUES (:at, 'analyst', 'analyst', 'read', 'note', 'N-A-1', 'C-A', 'r1')"),
    ]
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement), {"a": PROGRAM_A, "b": PROGRAM_B, "at": CREATED})
        if engine.dialect.name == "postgresql":  # rows inserted with their ids leave the sequences behind
            for table in ("client", "plan", "plan_goal", "note", "note_revision", "result", "flag"):
                connection.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), 100)"))


def test_enrollments_migration_keeps_a_0007_database_readable_with_the_same_access(empty_database_url):
    engine = make_engine(empty_database_url)
    try:
        _upgrade(engine, "0007")
        _fill_a_0007_database(engine)
        from casenotes.store import migrate

        migrate(engine)
        sessions = make_sessionmaker(engine)
        with sessions() as session:
            repo = Repository(session)
            client = repo.client("C-A", PROGRAM_A)
            [enrollment] = repo.enrollments(client)
            assert (enrollment.program, enrollment.start_date, enrollment.status) == (PROGRAM_A, date(2026, 1, 5),
                                                                                     "active")
            assert repo.current_plan(enrollment).goals[0].goal_id == "G1"
            assert [n.note_id for n, _ in repo.current_revisions(client, PROGRAM_A)] == ["N-A-1"]
            for missing in (lambda: repo.client("C-A", PROGRAM_B), lambda: repo.note("N-A-1", PROGRAM_B),
                            lambda: repo.result(1, PROGRAM_B), lambda: repo.flag(1, PROGRAM_B)):
                with pytest.raises(NotFound):
                    missing()
            assert repo.note("N-B-1", PROGRAM_B).enrollment.program == PROGRAM_B
            assert [f.id for f in repo.flag_queue(programs=PROGRAM_A).flags] == [1]
            assert sorted(f.id for f in repo.flag_queue(programs=None).flags) == [1, 2]
            record = repo.record_data(client, date(2026, 2, 1), PROGRAM_A)
            assert [s.status for s in record.standings] == ["achieved"] and record.goal_keys == ("G1",)
            assert [e.object_id for e in repo.audit_entries(programs=PROGRAM_A)] == ["N-A-1"]
            assert repo.audit_entries(programs=PROGRAM_B) == []
            # new writes work on the migrated rows: a second plan and a note join the enrollment
            plan = repo.store_plan(enrollment, [], "self-sufficiency")
            assert plan.version == 2 and plan.enrollment_pk == enrollment.id
            repo.commit()
    finally:
        engine.dispose()
