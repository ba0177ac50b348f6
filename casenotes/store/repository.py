"""Reads and writes of the client record. Every method works inside the caller's session;
the caller owns the transaction, so a note and all its results commit together.

`programs` arguments scope a read: None sees every program (the whole person), a name sees
only that one, through the client's enrollments in it (a client, their notes, plans, results and
flags), and an object of another program is reported as `NotFound`, never as forbidden.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

import numpy as np
from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, contains_eager, joinedload, selectinload, sessionmaker

from casenotes.errors import InvalidInput, NotFound
from casenotes.schema import Goal as GoalSpec
from casenotes.schema import Plan as PlanSpec
from casenotes.schema import ScoredNote
from casenotes.shared_format import plan_from_goals
from casenotes.store.enrollments import Enrollments
from casenotes.store.flag_queue import FlagQueue
from casenotes.store.record_reads import RecordReads
from casenotes.store.scope import is_current, visible
from casenotes.store.segment_log import SegmentLog
from casenotes.store.tables import (
    AuditEntry,
    Client,
    Enrollment,
    FlagRow,
    Note,
    NoteRevision,
    Plan,
    PlanGoal,
    Result,
    Review,
    SegmentRow,
    utcnow,
)

__all__ = ["NoteFields", "Repository", "SegmentChangeLog", "text_sha256"]


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class NoteFields:
    note_id: str
    note_date: date
    text: str
    note_format: str | None = None
    author: str | None = None


class Repository(Enrollments, FlagQueue, SegmentLog, RecordReads):
    """The client record's reads and writes; enrollments come from `Enrollments`, the flag queue's reads from `FlagQueue`,
    search support and the change log from `SegmentLog`, the record as plain data (goal
    standings, the FHIR export's facts) from `RecordReads`."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def commit(self) -> None:
        self.session.commit()

    def _lock(self, table, pk: int, missing: str) -> None:
        """Hold the row until commit (PostgreSQL; SQLite's write transactions hold the whole
        database already); `NotFound` with `missing` when it has been erased meanwhile."""
        if self.session.scalar(select(table.id).where(table.id == pk).with_for_update()) is None:
            raise NotFound(missing)

    # -- clients and plans -------------------------------------------------------------

    def put_client(self, client_id: str, program: str, start_date: date | None = None) -> tuple[Client, Enrollment, bool]:
        """The client, created if new, with an active enrollment in `program`: the one it has, or a
        new one from `start_date` (default today); True when the enrollment is new. The row is
        locked, so an erasure running alongside either finishes first (and the client is created
        anew) or waits for this write; two creations at once make one client."""
        client = self._client_for_update(client_id)
        if client is None:
            try:
                with self.session.begin_nested():
                    client = Client(client_id=client_id)
                    self.session.add(client)
            except IntegrityError:  # created by a concurrent request since the read above
                client = self._client_for_update(client_id)
                if client is None:
                    raise NotFound(f"no client {client_id!r}") from None
        enrollment = self.active_enrollment(client, program)
        if enrollment is not None:
            return client, enrollment, False
        return client, self.enroll(client, program, start_date or date.today()), True

    def _client_for_update(self, client_id: str) -> Client | None:
        return self.session.scalar(select(Client).where(Client.client_id == client_id).with_for_update())

    def client(self, client_id: str, programs: str | None = None, *, lock: bool = False) -> Client:
        """The client, seen by a program-scoped caller only through an enrollment in its program.
        `lock` holds the client's row until commit (PostgreSQL; on SQLite every write
        transaction holds the database already): plan writes and erasure then queue, not collide."""
        query = select(Client).where(Client.client_id == client_id)
        if programs is not None:
            query = query.where(Client.enrollments.any(Enrollment.program == programs))
        client = self.session.scalar(query.with_for_update(of=Client) if lock else query)
        if client is None:
            raise NotFound(f"no client {client_id!r}")
        return client

    def store_plan(self, enrollment: Enrollment, goals: list[GoalSpec], rubric: str) -> Plan:
        """The enrollment's next plan. Versions are numbered per client; its row is locked first,
        so concurrent writers number their versions one after another instead of colliding."""
        plan_from_goals([g.model_dump() for g in goals])  # InvalidPlan for duplicate goal ids
        client_pk = enrollment.client_pk
        self._lock(Client, client_pk, "no such client")
        version = (self.session.scalar(select(func.max(Plan.version)).where(Plan.client_pk == client_pk)) or 0) + 1
        plan = Plan(client_pk=client_pk, enrollment_pk=enrollment.id, version=version, rubric=rubric,
                    goals=[PlanGoal(position=i, goal_id=g.goal_id, text=g.text, domain=g.domain,
                                    target_date=g.target_date) for i, g in enumerate(goals)])
        self.session.add(plan)
        self.session.flush()
        return plan

    def current_plan(self, enrollment: Enrollment) -> Plan | None:
        return self.session.scalar(select(Plan).where(Plan.enrollment_pk == enrollment.id)
                                   .order_by(Plan.version.desc()).limit(1))

    def plan_version(self, enrollment: Enrollment, version: int) -> Plan:
        plan = self.session.scalar(select(Plan).where(Plan.enrollment_pk == enrollment.id, Plan.version == version))
        if plan is None:
            raise NotFound(f"enrollment {enrollment.id} has no plan version {version}")
        return plan

    # -- notes -------------------------------------------------------------------------

    def note(self, note_id: str, programs: str | None = None, *, lock: bool = False) -> Note:
        """`lock` holds the note's row until commit (and keeps its client from being erased
        meanwhile): take it before `revise_note`."""
        # The client comes in the same statement: read apart, an erasure between the two would leave it None.
        query = select(Note).where(Note.note_id == note_id).options(joinedload(Note.client, innerjoin=True),
                                                                    joinedload(Note.enrollment, innerjoin=True))
        if lock:
            # The client's row first, as an erasure takes it first: the two then queue, not deadlock.
            self.session.execute(select(Client.id).join(Note).where(Note.note_id == note_id)
                                 .with_for_update(read=True, key_share=True, of=Client))
            query = query.with_for_update(of=Note)
        note = self.session.scalar(query)
        if note is None or not visible(note.enrollment.program, programs):
            raise NotFound(f"no note {note_id!r}")
        return note

    def add_note(self, enrollment: Enrollment, fields: NoteFields, plan: Plan | None, scored: ScoredNote | None,
                 ingested_by: int | None) -> NoteRevision:
        """Store a new note of the enrollment and its first revision, with every result (or pending,
        with `scored` None)."""
        note = Note(note_id=fields.note_id, client_pk=enrollment.client_pk, enrollment_pk=enrollment.id,
                    note_date=fields.note_date,
                    note_format=fields.note_format, author=fields.author, current_revision=1,
                    ingested_by=ingested_by)
        self.session.add(note)
        self.session.flush()
        return self._add_revision(note, 1, fields, plan, scored)

    def revise_note(self, note: Note, fields: NoteFields, plan: Plan | None,
                    scored: ScoredNote | None) -> NoteRevision:
        """The note's next revision. The caller read `note` with `lock=True` in this transaction,
        so its `current_revision` is the newest and no other revision is being numbered meanwhile."""
        replaced = list(self.session.scalars(select(SegmentRow.id).join(NoteRevision).where(
            NoteRevision.note_pk == note.id, NoteRevision.revision == note.current_revision)))
        note.current_revision += 1
        note.note_date = fields.note_date
        note.note_format = fields.note_format
        note.author = fields.author
        revision = self._add_revision(note, note.current_revision, fields, plan, scored)
        self.log_segment_changes(replaced, "remove")  # only a current revision is searchable
        return revision

    def current_revision(self, note: Note) -> NoteRevision:
        revision = self.session.scalar(
            select(NoteRevision).where(NoteRevision.note_pk == note.id, NoteRevision.revision == note.current_revision)
            .options(selectinload(NoteRevision.results).selectinload(Result.reviews),
                     selectinload(NoteRevision.flags), selectinload(NoteRevision.segments)))
        if revision is None:  # erased since the note was read
            raise NotFound(f"no note {note.note_id!r}")
        return revision

    def revisions(self, note: Note) -> list[NoteRevision]:
        return list(self.session.scalars(select(NoteRevision).where(NoteRevision.note_pk == note.id)
                                         .order_by(NoteRevision.revision)))

    def _add_revision(self, note: Note, number: int, fields: NoteFields, plan: Plan | None,
                      scored: ScoredNote | None) -> NoteRevision:
        """A revision with every result, or, with `scored` None, one that waits for scoring."""
        revision = NoteRevision(note_pk=note.id, revision=number, text=fields.text, sha256=text_sha256(fields.text),
                                plan_pk=plan.id if plan else None, scoring_state="pending")
        self.session.add(revision)
        if scored is not None:
            self.record_scoring(revision, scored, fields.note_date)
        self.session.flush()
        return revision

    def record_scoring(self, revision: NoteRevision, scored: ScoredNote, note_date: date) -> None:
        """Store what scoring read from `revision`: its segments, results and flags."""
        result = scored.result
        revision.model_version = result.model_version
        revision.rubric_name, revision.rubric_version = result.rubric_name, result.rubric_version
        revision.rubric_hash = result.rubric_hash
        revision.scoring_state, revision.scoring_error, revision.next_attempt_at = "scored", None, None
        revision.segments = [_segment_row(s, c, v) for s, c, v in zip(result.segments, scored.contexts,
                                                                      scored.vectors)]
        revision.results = (
            [Result(kind="goal", goal_id=g.goal_id, status=g.status, score=g.score, confidence=g.confidence,
                    citations=_spans(g.citations)) for g in result.goals]
            + [Result(kind="domain", domain=d.domain, level=d.level, confidence=d.confidence,
                      citations=_spans(d.citations)) for d in result.domains])
        revision.flags = [FlagRow(type=f.type, severity=f.severity, confidence=f.confidence,
                                  citations=_spans(f.citations), note_date=note_date, status="open")
                          for f in result.flags]
        self.session.flush()
        self.log_segment_changes([segment.id for segment in revision.segments], "add")

    def current_revisions(self, client: Client, programs: str | None = None) -> list[tuple[Note, NoteRevision]]:
        """Each of the client's notes the caller may see with its current revision, oldest note first."""
        query = (select(Note, NoteRevision).join(NoteRevision, is_current(Note)).join(Note.enrollment)
                 .where(Note.client_pk == client.id).order_by(Note.note_date, Note.id)
                 .options(contains_eager(Note.enrollment),
                          selectinload(NoteRevision.results).selectinload(Result.reviews),
                          selectinload(NoteRevision.flags)))
        if programs is not None:
            query = query.where(Enrollment.program == programs)
        rows = self.session.execute(query)
        return [(note, revision) for note, revision in rows]

    # -- flags and reviews -------------------------------------------------------------

    def review_flag(self, flag: FlagRow, decision: str, comment: str | None, reviewer: str) -> FlagRow:
        self._lock(FlagRow, flag.id, f"no flag {flag.id}")  # an erasure since it was read: NotFound
        flag.status = decision
        flag.comment = comment
        flag.reviewer = reviewer
        flag.reviewed_at = utcnow()
        return flag

    def result(self, result_id: int, programs: str | None = None) -> Result:
        # The revision, note and client come in the same statement, so none can be missing.
        result = self.session.scalar(
            select(Result).join(Result.revision).join(NoteRevision.note).join(Note.client).join(Note.enrollment)
            .where(Result.id == result_id)
            .options(contains_eager(Result.revision).contains_eager(NoteRevision.note).contains_eager(Note.client),
                     contains_eager(Result.revision).contains_eager(NoteRevision.note).contains_eager(Note.enrollment),
                     selectinload(Result.reviews)))
        if result is None or not visible(result.revision.note.enrollment.program, programs):
            raise NotFound(f"no result {result_id}")
        return result

    def review_result(self, result: Result, *, decision: str, status: str | None, level: int | None,
                      citations: list[list[int]] | None, comment: str | None, reviewer: str) -> Review:
        text = result.revision.text
        if citations is not None and any(not (0 <= s < e <= len(text)) for s, e in citations):
            raise InvalidInput(f"a citation lies outside the note's {len(text)} characters")
        self._lock(Result, result.id, f"no result {result.id}")  # an erasure since it was read: NotFound
        review = Review(result_pk=result.id, decision=decision, status=status, level=level,
                        citations=citations, comment=comment, reviewer=reviewer)
        self.session.add(review)
        self.session.flush()
        return review

    def reviewed_revisions(self) -> list[NoteRevision]:
        """Revisions with at least one reviewed result: the raw material of `export-labels`."""
        return list(self.session.scalars(
            select(NoteRevision).where(NoteRevision.results.any(Result.reviews.any()))
            .order_by(NoteRevision.id)
            .options(selectinload(NoteRevision.results).selectinload(Result.reviews),
                     selectinload(NoteRevision.flags))))

    def unreviewed_revision_count(self) -> int:
        """Revisions with no reviewed result: what `export-labels` passes over without a look."""
        return self.session.scalar(select(func.count(NoteRevision.id))
                                   .where(~NoteRevision.results.any(Result.reviews.any())))

    def plan_by_pk(self, plan_pk: int | None) -> Plan | None:
        return self.session.get(Plan, plan_pk) if plan_pk is not None else None


    # -- erasure -----------------------------------------------------------------------

    def delete_client(self, client: Client) -> list[int]:
        """Erase the client and everything recorded about them; return the segment ids to unindex.
        The client's row is locked first: a second erasure at the same time finds nothing."""
        self._lock(Client, client.id, f"no client {client.client_id!r}")
        segment_ids = list(self.session.scalars(
            select(SegmentRow.id).join(NoteRevision).join(Note).where(Note.client_pk == client.id)))
        self.session.execute(delete(Client).where(Client.id == client.id))
        self.log_segment_changes(segment_ids, "remove")
        self.session.expunge_all()
        return segment_ids

    # -- audit -------------------------------------------------------------------------

    def audit(self, *, actor: str, role: str, action: str, object_type: str, object_id: str,
              client_id: str | None, request_id: str, program: str | None = None) -> None:
        """`program`: that of the enrollment the row is about, None for the whole person."""
        self.session.add(AuditEntry(actor=actor, role=role, action=action, object_type=object_type,
                                    object_id=object_id, client_id=client_id, request_id=request_id,
                                    program=program))

    def audit_entries(self, *, client_id: str | None = None, limit: int = 100, before_id: int | None = None,
                      programs: str | None = None) -> list[AuditEntry]:
        """Newest first. A program-scoped reader sees only entries about its program's enrollments,
        and entries about no one enrollment (from before enrollments, or the whole person) only of
        a current client whose first enrollment is in its program; entries about erased clients
        remain for unscoped admins alone."""
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if client_id:
            if programs is not None:
                self.client(client_id, programs)  # NotFound for another program's client
            query = query.where(AuditEntry.client_id == client_id)
        if programs is not None:
            query = query.where(or_(AuditEntry.program == programs,
                                    and_(AuditEntry.program.is_(None), _first_program() == programs)))
        if before_id:
            query = query.where(AuditEntry.id < before_id)
        return list(self.session.scalars(query))


class SegmentChangeLog:
    """The change log as a `SegmentIndex` reads it, each read in a session of its own."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def changes_after(self, seq: int, limit: int) -> tuple[list[tuple[int, int, str]], dict[int, np.ndarray]]:
        """The next changes, with the vectors of the segments they add that are still stored
        (one deleted since has its `remove` later in the log)."""
        with self.sessions() as session:
            repo = Repository(session)
            changes = repo.segment_changes(seq, limit)
            return changes, repo.stored_vectors([segment_id for _, segment_id, op in changes if op == "add"])

    def snapshot(self) -> tuple[int, np.ndarray, np.ndarray]:
        """(the log's last seq, ids, vectors) of the current segments, for a rebuild. The seq is
        read first: a change committed in between is then applied again, which changes nothing."""
        with self.sessions() as session:
            repo = Repository(session)
            seq = repo.last_segment_change()
            ids, vectors = repo.segment_vectors()
        return seq, ids, vectors


def _first_program():
    """The program of the first enrollment of the audit row's client (None once it is erased)."""
    return (select(Enrollment.program).join(Client, Enrollment.client_pk == Client.id)
            .where(Client.client_id == AuditEntry.client_id).order_by(Enrollment.id).limit(1).scalar_subquery())


def _spans(citations) -> list[list[int]]:
    return [[c.start, c.end] for c in citations]


def _segment_row(segment, context, vector) -> SegmentRow:
    return SegmentRow(start=segment.start, end=segment.end, section=segment.section, negated=context.negated,
                      hypothetical=context.hypothetical, historical=context.historical,
                      other_experiencer=context.other_experiencer,
                      vector=np.asarray(vector, dtype=np.float32).tobytes())


def plan_spec(plan: Plan | None) -> PlanSpec:
    """A stored plan as the pipeline reads it (no plan: no goals). `ValueError` if it no longer validates."""
    if plan is None:
        return PlanSpec()
    return PlanSpec(goals=tuple(GoalSpec(goal_id=g.goal_id, text=g.text, domain=g.domain, target_date=g.target_date)
                                for g in plan.goals))
