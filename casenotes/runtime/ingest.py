"""A note's arrival: score it against the client's current plan and record everything in
one transaction, once per `note_id`, then index its segments for search. Or accept it now
and score it next: the note and its scoring job commit in one transaction (`accept`).

The transaction also logs the segments it adds (and, for a revision, the ones it replaces) in
the database's change log; the index then catches up with that log, so a note's segments
enter every worker's index by one path, exactly once.

Scoring runs outside any transaction (it is the slow part); the write that follows
re-checks for a note of the same id, so two concurrent arrivals of one note record it
once and both callers get the stored result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from casenotes.errors import Conflict, InvalidInput
from casenotes.pipeline import Pipeline, check_note_text
from casenotes.runtime.events import announce_scored
from casenotes.runtime.scoring_queue import ScoringQueue
from casenotes.runtime.search import SegmentIndex
from casenotes.schema import Note as NoteSpec
from casenotes.schema import Plan as PlanSpec
from casenotes.store.repository import NoteFields, Repository, plan_spec, text_sha256
from casenotes.store.scope import visible
from casenotes.store.tables import Client, Enrollment, Note, NoteRevision

__all__ = ["Arrival", "JobQueue", "NoteIngestor", "PendingRevision", "note_id_taken", "retry_failed"]


@dataclass(frozen=True)
class PendingRevision:
    """What `accept` stored, enough to answer the caller without reading the note back."""

    client_id: str
    note_date: date
    revision: int
    sha256: str
    plan_version: int | None


@dataclass(frozen=True)
class Arrival:
    note_id: str
    created: bool
    pending: PendingRevision | None = None


class JobQueue(Protocol):
    """Where a revision stored for later scoring gets its job, in the caller's transaction."""

    def enqueue(self, session: Session, revision_pk: int) -> None: ...


class NoteIngestor:
    def __init__(self, sessions: sessionmaker[Session], pipeline: Pipeline, index: SegmentIndex | None,
                 jobs: JobQueue | None = None, scoring: ScoringQueue | None = None) -> None:
        self.sessions = sessions
        self.pipeline = pipeline
        self.index = index
        self.jobs = jobs
        self._scoring = scoring or ScoringQueue(pipeline)  # concurrent arrivals share one pass through the model

    def accept(self, client_id: str, fields: NoteFields, *, programs: str | None = None, program: str | None = None,
               ingested_by: int | None = None, also: Callable[[Repository, str], None] | None = None) -> Arrival:
        """Store a new note to be scored next, with its scoring job, in one transaction; or find it
        stored already (same text, scored or not); `Conflict` for another text. The note joins the
        active enrollment `Repository.enrollment_for_writing` picks from `programs` and `program`.
        `also` writes more in the same transaction when the note is new (the service's audit row), given
        the repository and the enrollment's program."""
        check_note_text(fields.text, self.pipeline.max_note_chars, allow_blank=False)
        def store(repo: Repository, client: Client) -> PendingRevision:
            enrollment = repo.enrollment_for_writing(client, programs, program)
            plan = repo.current_plan(enrollment)
            revision = repo.add_note(enrollment, fields, plan, None, ingested_by)
            self._job_queue().enqueue(repo.session, revision.id)
            if also is not None:
                also(repo, enrollment.program)
            return PendingRevision(client_id=client.client_id, note_date=fields.note_date, revision=revision.revision,
                                   sha256=revision.sha256, plan_version=plan.version if plan else None)

        return self._store_once(client_id, fields, programs, store)

    def accept_revision(self, note_id: str, fields: NoteFields, *, programs: str | None = None) -> int:
        """Store a new text of a stored note to be scored next, with its job; its revision number."""
        check_note_text(fields.text, self.pipeline.max_note_chars, allow_blank=False)
        with self.sessions.begin() as session:
            repo = Repository(session)
            note = repo.note(note_id, programs, lock=True)
            revision = repo.revise_note(note, fields, repo.current_plan(note.enrollment), None)
            self._job_queue().enqueue(session, revision.id)
            return revision.revision

    def retry(self, note_id: str, programs: str | None = None) -> bool:
        """Score a dead-lettered note again (see `retry_failed`)."""
        return retry_failed(self.sessions, self._job_queue(), note_id, programs)

    def _job_queue(self) -> JobQueue:
        if self.jobs is None:
            raise InvalidInput("this service scores on arrival only: it has no scoring queue")
        return self.jobs

    def arrive(self, client_id: str, fields: NoteFields, *, programs: str | None = None, program: str | None = None,
               ingested_by: int | None = None, plan_version: int | None = None) -> Arrival:
        """Record a new note, or find it stored already (same text); `Conflict` for another text.
        The note joins the active enrollment `Repository.enrollment_for_writing` picks from
        `programs` and `program`, and is scored against its current plan, or the given `plan_version`
        (a backfill scores old notes against the plan in force when they were written)."""
        check_note_text(fields.text, self.pipeline.max_note_chars, allow_blank=False)
        with self.sessions.begin() as session:
            repo = Repository(session)
            client = repo.client(client_id, programs)
            if _stored_same(session, client, fields, programs):
                return Arrival(fields.note_id, created=False)
            enrollment_pk = repo.enrollment_for_writing(client, programs, program).id
            plan_pk, plan = _plan_of(session, repo.enrollment(client, enrollment_pk), plan_version)
        scored = self._score(fields, client_id, plan)

        def store(repo: Repository, client: Client) -> None:
            enrollment = repo.enrollment_for_writing(client, programs, program)
            if enrollment.id != enrollment_pk:  # closed, and another opened, while the note was scored
                raise Conflict("the client's enrollment changed while the note was scored: send it again")
            revision = repo.add_note(enrollment, fields, repo.plan_by_pk(plan_pk), scored, ingested_by)
            announce_scored(repo.session, revision)

        arrival = self._store_once(client_id, fields, programs, store)
        if arrival.created:
            self._catch_up_index()
        return arrival

    def _store_once(self, client_id: str, fields: NoteFields, programs: str | None,
                    store: Callable[[Repository, Client], PendingRevision | None]) -> Arrival:
        """Run `store` in a transaction unless the note is stored already; a concurrent arrival of
        the same note that commits first makes this one find it stored."""
        try:
            with self.sessions.begin() as session:
                repo = Repository(session)
                client = repo.client(client_id, programs)
                if _stored_same(session, client, fields, programs):
                    return Arrival(fields.note_id, created=False)
                pending = store(repo, client)
        except IntegrityError:
            with self.sessions.begin() as session:
                if _stored_same(session, Repository(session).client(client_id, programs), fields, programs):
                    return Arrival(fields.note_id, created=False)
            raise
        return Arrival(fields.note_id, created=True, pending=pending)

    def revise(self, note_id: str, fields: NoteFields, *, programs: str | None = None) -> int:
        """Store a new text of a stored note, rescored against the current plan; its revision number."""
        check_note_text(fields.text, self.pipeline.max_note_chars, allow_blank=False)
        with self.sessions.begin() as session:
            note = Repository(session).note(note_id, programs)
            client_id = note.client.client_id
            plan_pk, plan = _plan_of(session, note.enrollment)
        scored = self._score(fields, client_id, plan)
        with self.sessions.begin() as session:
            repo = Repository(session)
            note = repo.note(note_id, programs, lock=True)  # concurrent revisions queue here
            revision = repo.revise_note(note, fields, repo.plan_by_pk(plan_pk), scored)
            announce_scored(session, revision)
            number = revision.revision
        self._catch_up_index()
        return number

    def _score(self, fields: NoteFields, client_id: str, plan: PlanSpec):
        note = NoteSpec(text=fields.text, note_id=fields.note_id, client_id=client_id, note_date=fields.note_date,
                        note_format=fields.note_format)
        return self._scoring.score(note, plan)

    def _catch_up_index(self) -> None:
        if self.index is not None:
            self.index.catch_up()


def retry_failed(sessions: sessionmaker[Session], jobs: JobQueue, note_id: str, programs: str | None = None) -> bool:
    """Score a dead-lettered note again: its current revision waits for scoring with a new job.
    False if that revision has not failed."""
    with sessions.begin() as session:
        repo = Repository(session)
        note = repo.note(note_id, programs, lock=True)
        revision = repo.current_revision(note)
        if revision.scoring_state != "failed":
            return False
        revision.scoring_state, revision.scoring_error = "pending", None
        revision.scoring_attempts, revision.next_attempt_at = 0, None
        jobs.enqueue(session, revision.id)
        return True


def _stored_same(session: Session, client: Client, fields: NoteFields, programs: str | None) -> bool:
    """True when this note is stored with this text, in an enrollment the caller may see;
    `Conflict` when stored otherwise."""
    note = session.scalar(select(Note).where(Note.note_id == fields.note_id))
    if note is None:
        return False
    if note.client_pk != client.id or not visible(note.enrollment.program, programs):
        raise note_id_taken(fields.note_id)
    current = session.scalar(select(NoteRevision.sha256).where(
        NoteRevision.note_pk == note.id, NoteRevision.revision == note.current_revision))
    if current != text_sha256(fields.text):
        raise note_id_taken(fields.note_id)
    return True


def note_id_taken(note_id: str) -> Conflict:
    """The one answer for a note_id a caller cannot store under, whether the note has another
    text, belongs to another client (perhaps in another program) or to another ingest token:
    the same words each time, so the answer says nothing of where else the id is used."""
    return Conflict(f"note_id {note_id!r} is taken: send a new note under a new note_id, or revise "
                    "a note you stored with PUT /v1/notes/{note_id}")


def _plan_of(session: Session, enrollment: Enrollment, version: int | None = None) -> tuple[int | None, PlanSpec]:
    repo = Repository(session)
    plan = repo.current_plan(enrollment) if version is None else repo.plan_version(enrollment, version)
    try:
        return (plan.id if plan else None), plan_spec(plan)
    except ValueError as exc:  # stored plans were validated on the way in; this is damage
        raise InvalidInput(f"the stored plan of enrollment {enrollment.id} no longer validates") from exc
