"""Reads and writes of the client record. Every method works inside the caller's session;
the caller owns the transaction, so a note and all its results commit together.

`programs` arguments scope a read: None sees every program, a name sees only that one,
and an object of another program is reported as `NotFound`, never as forbidden.
"""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass
from datetime import date

import numpy as np
from sqlalchemy import Select, and_, delete, func, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, contains_eager, joinedload, selectinload, sessionmaker

from casenotes.errors import InvalidInput, NotFound
from casenotes.dataset import plan_from_goals
from casenotes.pipeline import ScoredNote
from casenotes.schema import Goal as GoalSpec
from casenotes.store.tables import (
    AuditEntry, Client, FlagRow, Note, NoteRevision, Plan, PlanGoal, Result, Review, SegmentChange, SegmentRow,
    utcnow,
)

__all__ = ["FlagPage", "NoteFields", "Repository", "SegmentChangeLog", "text_sha256"]

# Any constant works, as long as every writer of segment_change takes the same one.
SEGMENT_LOG_LOCK = 0x5E6C4A6E
_VECTOR_READ_CHUNK = 5_000


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class NoteFields:
    note_id: str
    note_date: date
    text: str
    note_format: str | None = None
    author: str | None = None


@dataclass(frozen=True)
class FlagPage:
    flags: list[FlagRow]
    next_cursor: str | None


class Repository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def commit(self) -> None:
        self.session.commit()

    def _lock(self, table, pk: int, missing: str) -> None:  # noqa: ANN001
        """Hold the row until commit (PostgreSQL; SQLite's write transactions hold the whole
        database already); `NotFound` with `missing` when it has been erased meanwhile."""
        if self.session.scalar(select(table.id).where(table.id == pk).with_for_update()) is None:
            raise NotFound(missing)

    # -- clients and plans -------------------------------------------------------------

    def put_client(self, client_id: str, program: str, programs: str | None = None) -> tuple[Client, bool]:
        """Create the client, or move an existing one the caller may see (`programs`) to `program`.
        The row is locked, so an erasure running alongside either finishes first (and the client
        is created anew) or waits for this write; two creations at once make one client."""
        client = self._client_for_update(client_id)
        if client is None:
            try:
                with self.session.begin_nested():
                    client = Client(client_id=client_id, program=program)
                    self.session.add(client)
                return client, True
            except IntegrityError:  # created by a concurrent request since the read above
                client = self._client_for_update(client_id)
        if client is None or not _visible(client.program, programs):
            raise NotFound(f"no client {client_id!r}")
        client.program = program
        return client, False

    def _client_for_update(self, client_id: str) -> Client | None:
        return self.session.scalar(select(Client).where(Client.client_id == client_id).with_for_update())

    def client(self, client_id: str, programs: str | None = None, *, lock: bool = False) -> Client:
        """`lock` holds the client's row until commit (PostgreSQL; on SQLite every write
        transaction holds the database already): plan writes and erasure then queue, not collide."""
        query = select(Client).where(Client.client_id == client_id)
        client = self.session.scalar(query.with_for_update() if lock else query)
        if client is None or not _visible(client.program, programs):
            raise NotFound(f"no client {client_id!r}")
        return client

    def store_plan(self, client: Client, goals: list[GoalSpec], rubric: str) -> Plan:
        """The client's next plan version. The client's row is locked first, so concurrent
        writers number their versions one after another instead of colliding."""
        plan_from_goals([g.model_dump() for g in goals])  # InvalidPlan for duplicate goal ids
        self._lock(Client, client.id, f"no client {client.client_id!r}")
        version = (self.session.scalar(select(func.max(Plan.version)).where(Plan.client_pk == client.id)) or 0) + 1
        plan = Plan(client_pk=client.id, version=version, rubric=rubric,
                    goals=[PlanGoal(position=i, goal_id=g.goal_id, text=g.text, domain=g.domain,
                                    target_date=g.target_date) for i, g in enumerate(goals)])
        self.session.add(plan)
        self.session.flush()
        return plan

    def current_plan(self, client: Client) -> Plan | None:
        return self.session.scalar(select(Plan).where(Plan.client_pk == client.id)
                                   .order_by(Plan.version.desc()).limit(1))

    def plan_version(self, client: Client, version: int) -> Plan:
        plan = self.session.scalar(select(Plan).where(Plan.client_pk == client.id, Plan.version == version))
        if plan is None:
            raise NotFound(f"client {client.client_id!r} has no plan version {version}")
        return plan

    # -- notes -------------------------------------------------------------------------

    def note(self, note_id: str, programs: str | None = None, *, lock: bool = False) -> Note:
        """`lock` holds the note's row until commit (and keeps its client from being erased
        meanwhile): take it before `revise_note`."""
        # The client comes in the same statement: read apart, an erasure between the two would leave it None.
        query = select(Note).where(Note.note_id == note_id).options(joinedload(Note.client, innerjoin=True))
        if lock:
            # The client's row first, as an erasure takes it first: the two then queue, not deadlock.
            self.session.execute(select(Client.id).join(Note).where(Note.note_id == note_id)
                                 .with_for_update(read=True, key_share=True, of=Client))
            query = query.with_for_update(of=Note)
        note = self.session.scalar(query)
        if note is None or not _visible(note.client.program, programs):
            raise NotFound(f"no note {note_id!r}")
        return note

    def add_note(self, client: Client, fields: NoteFields, plan: Plan | None, scored: ScoredNote,
                 ingested_by: int | None) -> NoteRevision:
        """Store a new note and its first revision, with every result; the revision."""
        note = Note(note_id=fields.note_id, client_pk=client.id, note_date=fields.note_date,
                    note_format=fields.note_format, author=fields.author, current_revision=1,
                    ingested_by=ingested_by)
        self.session.add(note)
        self.session.flush()
        return self._add_revision(note, 1, fields, plan, scored)

    def revise_note(self, note: Note, fields: NoteFields, plan: Plan | None, scored: ScoredNote) -> NoteRevision:
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
                      scored: ScoredNote) -> NoteRevision:
        result = scored.result
        revision = NoteRevision(
            note_pk=note.id, revision=number, text=fields.text, sha256=text_sha256(fields.text),
            plan_pk=plan.id if plan else None, model_version=result.model_version,
            rubric_name=result.rubric_name, rubric_version=result.rubric_version, rubric_hash=result.rubric_hash,
            segments=[_segment_row(s, c, v) for s, c, v in zip(result.segments, scored.contexts, scored.vectors)],
            results=[Result(kind="goal", goal_id=g.goal_id, status=g.status, score=g.score,
                            confidence=g.confidence, citations=_spans(g.citations)) for g in result.goals]
            + [Result(kind="domain", domain=d.domain, level=d.level, confidence=d.confidence,
                      citations=_spans(d.citations)) for d in result.domains],
            flags=[FlagRow(type=f.type, severity=f.severity, confidence=f.confidence, citations=_spans(f.citations),
                           note_date=fields.note_date, status="open") for f in result.flags],
        )
        self.session.add(revision)
        self.session.flush()
        self.log_segment_changes([segment.id for segment in revision.segments], "add")
        return revision

    def current_revisions(self, client: Client) -> list[tuple[Note, NoteRevision]]:
        """Each of the client's notes with its current revision, oldest note first."""
        rows = self.session.execute(
            select(Note, NoteRevision).join(NoteRevision, _is_current(Note))
            .where(Note.client_pk == client.id).order_by(Note.note_date, Note.id)
            .options(selectinload(NoteRevision.results), selectinload(NoteRevision.flags)))
        return [(note, revision) for note, revision in rows]

    # -- flags and reviews -------------------------------------------------------------

    def flag_queue(self, *, programs: str | None, status: str | None = "open", flag_type: str | None = None,
                   program: str | None = None, limit: int = 50, cursor: str | None = None) -> FlagPage:
        query = _current_flags().options(_flag_owner())
        if status:
            query = query.where(FlagRow.status == status)
        if flag_type:
            query = query.where(FlagRow.type == flag_type)
        if program:
            query = query.where(Client.program == program)
        if programs is not None:
            query = query.where(Client.program == programs)
        if cursor:
            query = query.where(_after(*_decode_cursor(cursor)))
        query = query.order_by(FlagRow.severity.desc(), FlagRow.confidence.desc(), FlagRow.note_date.desc(),
                               FlagRow.id.desc()).limit(limit + 1)
        flags = list(self.session.scalars(query))
        more = len(flags) > limit
        flags = flags[:limit]
        return FlagPage(flags, _encode_cursor(flags[-1]) if more and flags else None)

    def flag(self, flag_id: int, programs: str | None = None) -> FlagRow:
        flag = self.session.scalar(_current_flags().where(FlagRow.id == flag_id).options(_flag_owner()))
        if flag is None or not _visible(flag.revision.note.client.program, programs):
            raise NotFound(f"no flag {flag_id}")
        return flag

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
            select(Result).join(Result.revision).join(NoteRevision.note).join(Note.client)
            .where(Result.id == result_id)
            .options(contains_eager(Result.revision).contains_eager(NoteRevision.note).contains_eager(Note.client),
                     selectinload(Result.reviews)))
        if result is None or not _visible(result.revision.note.client.program, programs):
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

    def plan_by_pk(self, plan_pk: int | None) -> Plan | None:
        return self.session.get(Plan, plan_pk) if plan_pk is not None else None

    # -- search support and erasure ----------------------------------------------------

    def segment_vectors(self, after_id: int = 0, client: Client | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of current segments, newer than `after_id`, of one client or all."""
        query = select(SegmentRow.id, SegmentRow.vector).join(NoteRevision).join(Note, _is_current(Note)) \
            .where(SegmentRow.id > after_id).order_by(SegmentRow.id)
        if client is not None:
            query = query.where(Note.client_pk == client.id)
        return _ids_and_vectors(self.session.execute(query).all())

    def search_hits(self, segment_ids: list[int], programs: str | None,
                    client_id: str | None = None) -> dict[int, tuple[SegmentRow, NoteRevision, Note, Client]]:
        """The live, visible segments among `segment_ids`: deleted or out-of-scope ones drop out."""
        if not segment_ids:
            return {}
        query = select(SegmentRow, NoteRevision, Note, Client).join(NoteRevision, SegmentRow.revision_pk == NoteRevision.id) \
            .join(Note, and_(NoteRevision.note_pk == Note.id, NoteRevision.revision == Note.current_revision)) \
            .join(Client, Note.client_pk == Client.id).where(SegmentRow.id.in_(segment_ids))
        if programs is not None:
            query = query.where(Client.program == programs)
        if client_id is not None:
            query = query.where(Client.client_id == client_id)
        return {row[0].id: tuple(row) for row in self.session.execute(query)}

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

    # -- the search index's change log -------------------------------------------------

    def log_segment_changes(self, segment_ids: list[int], op: str) -> None:
        """Record in this transaction that these segments became searchable (`add`) or stopped being so (`remove`).

        Every index applies the log in `seq` order and remembers only the last seq it applied,
        so a seq must never become visible before a smaller one: seq order has to be commit
        order. SQLite gives that already, since every transaction begins IMMEDIATE and writers
        run one at a time. PostgreSQL hands out sequence values at insert time, and two
        transactions may commit in the other order; so here the transaction first takes a
        transaction-scoped advisory lock, held until its commit is visible: the next writer
        draws its seqs only after that. The lock is taken after everything else is flushed, so
        it is held only for these inserts and the commit (scoring happened long before), and
        no writer waits on a row lock while holding it. Tracking gaps in the seqs instead
        would need a timeout to tell a slow transaction from a rolled-back one."""
        if not segment_ids:
            return
        self.session.flush()
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(select(func.pg_advisory_xact_lock(SEGMENT_LOG_LOCK)))
        now = utcnow()
        self.session.execute(insert(SegmentChange), [{"segment_id": int(i), "op": op, "at": now}
                                                     for i in segment_ids])

    def segment_changes(self, after_seq: int, limit: int) -> list[tuple[int, int, str]]:
        """(seq, segment id, op) of the changes after `after_seq`, oldest first, at most `limit`."""
        query = select(SegmentChange.seq, SegmentChange.segment_id, SegmentChange.op) \
            .where(SegmentChange.seq > after_seq).order_by(SegmentChange.seq).limit(limit)
        return [(seq, segment_id, op) for seq, segment_id, op in self.session.execute(query)]

    def last_segment_change(self) -> int:
        return self.session.scalar(select(func.max(SegmentChange.seq))) or 0

    def stored_vectors(self, segment_ids: list[int]) -> dict[int, np.ndarray]:
        """The vectors of those of these segments still in the database, current or not."""
        found: dict[int, np.ndarray] = {}
        for start in range(0, len(segment_ids), _VECTOR_READ_CHUNK):
            chunk = segment_ids[start:start + _VECTOR_READ_CHUNK]
            rows = self.session.execute(select(SegmentRow.id, SegmentRow.vector).where(SegmentRow.id.in_(chunk)))
            found.update((segment_id, np.frombuffer(vector, dtype=np.float32)) for segment_id, vector in rows)
        return found

    # -- audit -------------------------------------------------------------------------

    def audit(self, *, actor: str, role: str, action: str, object_type: str, object_id: str,
              client_id: str | None, request_id: str) -> None:
        self.session.add(AuditEntry(actor=actor, role=role, action=action, object_type=object_type,
                                    object_id=object_id, client_id=client_id, request_id=request_id))

    def audit_entries(self, *, client_id: str | None = None, limit: int = 100, before_id: int | None = None,
                      programs: str | None = None) -> list[AuditEntry]:
        """Newest first. A program-scoped reader sees only entries about its program's current
        clients; entries about erased clients remain for unscoped admins alone."""
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if client_id:
            if programs is not None:
                self.client(client_id, programs)  # NotFound for another program's client
            query = query.where(AuditEntry.client_id == client_id)
        if programs is not None:
            query = query.join(Client, Client.client_id == AuditEntry.client_id).where(Client.program == programs)
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


def _ids_and_vectors(rows) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    vectors = np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows]) if rows else np.zeros((0, 0), np.float32)
    return ids, vectors


def _visible(program: str, programs: str | None) -> bool:
    return programs is None or program == programs


def _is_current(note_entity):  # noqa: ANN001, ANN202
    return and_(NoteRevision.note_pk == note_entity.id, NoteRevision.revision == note_entity.current_revision)


def _current_flags() -> Select:
    return (select(FlagRow).join(NoteRevision, FlagRow.revision_pk == NoteRevision.id)
            .join(Note, _is_current(Note)).join(Client, Note.client_pk == Client.id))


def _flag_owner():  # noqa: ANN202
    """Fill each flag's revision, note and client from `_current_flags`' own joins: loaded
    later, one erased in between would be None."""
    return contains_eager(FlagRow.revision).contains_eager(NoteRevision.note).contains_eager(Note.client)


def _after(severity: int, confidence: float, note_date: date, flag_pk: int):  # noqa: ANN202
    """Flags that sort after the cursor in (severity, confidence, note_date, id) order, each descending."""
    same_severity = FlagRow.severity == severity
    same_confidence = and_(same_severity, FlagRow.confidence == confidence)
    return or_(FlagRow.severity < severity,
               and_(same_severity, FlagRow.confidence < confidence),
               and_(same_confidence, FlagRow.note_date < note_date),
               and_(same_confidence, FlagRow.note_date == note_date, FlagRow.id < flag_pk))


# A cursor is the last flag's place in the queue's order: severity, confidence (the bits of
# the float, below), note date (days after 0001-01-01) and id, as `severity_confidence_days_id`.
# Every string of this form is a place in that order, so the API can publish the form as the
# cursor's pattern and answer every cursor that matches it: one it did not issue pages on
# from wherever it points.
CURSOR_PATTERN = r"^[0-9]{1,4}_[0-9]{1,19}_[0-9]{1,7}_[0-9]{1,10}$"
_CURSOR = re.compile(CURSOR_PATTERN)
# The form before the queue ordered by confidence; its place in today's order is unknown.
_OLD_CURSOR = re.compile(r"^[0-9]{1,4}_[0-9]{1,7}_[0-9]{1,10}$")
_LAST_DAY = date.max.toordinal() - 1
_LAST_ID = 2**31 - 1  # ids are 32-bit; past the last day or id, a cursor pages on from the last one
_FULL_CONFIDENCE = struct.unpack("<Q", struct.pack("<d", 1.0))[0]


def _confidence_key(confidence: float) -> int:
    """The float's IEEE 754 bits as an integer. For floats from 0 to 1 these sort as the floats
    do and give back the very same float, which a decimal rounding would not: flags tied on
    confidence then page exactly. abs() turns a -0.0 into 0.0, the same in every comparison."""
    return struct.unpack("<Q", struct.pack("<d", abs(confidence)))[0]


def _confidence_from_key(key: int) -> float:
    return struct.unpack("<d", struct.pack("<Q", min(key, _FULL_CONFIDENCE)))[0]


def _encode_cursor(flag: FlagRow) -> str:
    return f"{flag.severity}_{_confidence_key(flag.confidence)}_{flag.note_date.toordinal() - 1}_{flag.id}"


def _decode_cursor(cursor: str) -> tuple[int, float, date, int]:
    if _OLD_CURSOR.match(cursor):
        raise InvalidInput("this cursor is from before the queue was ordered by confidence; "
                           "start again from the first page")
    if not _CURSOR.match(cursor):
        raise InvalidInput("cursor is not one this service issued")
    severity, confidence_key, days, flag_pk = (int(part) for part in cursor.split("_"))
    return (severity, _confidence_from_key(confidence_key), date.fromordinal(min(days, _LAST_DAY) + 1),
            min(flag_pk, _LAST_ID))


def _spans(citations) -> list[list[int]]:  # noqa: ANN001
    return [[c.start, c.end] for c in citations]


def _segment_row(segment, context, vector) -> SegmentRow:  # noqa: ANN001
    return SegmentRow(start=segment.start, end=segment.end, section=segment.section, negated=context.negated,
                      hypothetical=context.hypothetical, historical=context.historical,
                      other_experiencer=context.other_experiencer,
                      vector=np.asarray(vector, dtype=np.float32).tobytes())
