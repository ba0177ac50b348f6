"""Reads and writes of the client record. Every method works inside the caller's session;
the caller owns the transaction, so a note and all its results commit together.

`programs` arguments scope a read: None sees every program, a name sees only that one,
and an object of another program is reported as `NotFound`, never as forbidden.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import date

import numpy as np
from sqlalchemy import Select, and_, delete, func, or_, select
from sqlalchemy.orm import Session, selectinload

from casenotes.errors import InvalidInput, NotFound
from casenotes.dataset import plan_from_goals
from casenotes.pipeline import ScoredNote
from casenotes.schema import Goal as GoalSpec
from casenotes.store.tables import (
    AuditEntry, Client, FlagRow, Note, NoteRevision, Plan, PlanGoal, Result, Review, SegmentRow, utcnow,
)

__all__ = ["FlagPage", "NoteFields", "Repository", "text_sha256"]


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

    # -- clients and plans -------------------------------------------------------------

    def put_client(self, client_id: str, program: str) -> tuple[Client, bool]:
        client = self.session.scalar(select(Client).where(Client.client_id == client_id))
        if client is None:
            client = Client(client_id=client_id, program=program)
            self.session.add(client)
            self.session.flush()
            return client, True
        client.program = program
        return client, False

    def client(self, client_id: str, programs: str | None = None) -> Client:
        client = self.session.scalar(select(Client).where(Client.client_id == client_id))
        if client is None or not _visible(client.program, programs):
            raise NotFound(f"no client {client_id!r}")
        return client

    def store_plan(self, client: Client, goals: list[GoalSpec], rubric: str) -> Plan:
        plan_from_goals([g.model_dump() for g in goals])  # InvalidPlan for duplicate goal ids
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

    def note(self, note_id: str, programs: str | None = None) -> Note:
        note = self.session.scalar(select(Note).where(Note.note_id == note_id)
                                   .options(selectinload(Note.client)))
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
        note.current_revision += 1
        note.note_date = fields.note_date
        note.note_format = fields.note_format
        note.author = fields.author
        return self._add_revision(note, note.current_revision, fields, plan, scored)

    def current_revision(self, note: Note) -> NoteRevision:
        return self.session.scalar(
            select(NoteRevision).where(NoteRevision.note_pk == note.id, NoteRevision.revision == note.current_revision)
            .options(selectinload(NoteRevision.results).selectinload(Result.reviews),
                     selectinload(NoteRevision.flags), selectinload(NoteRevision.segments)))

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
        query = _current_flags()
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
        query = query.order_by(FlagRow.severity.desc(), FlagRow.note_date.desc(), FlagRow.id.desc()).limit(limit + 1)
        flags = list(self.session.scalars(query))
        more = len(flags) > limit
        flags = flags[:limit]
        return FlagPage(flags, _encode_cursor(flags[-1]) if more and flags else None)

    def flag(self, flag_id: int, programs: str | None = None) -> FlagRow:
        flag = self.session.scalar(_current_flags().where(FlagRow.id == flag_id))
        if flag is None or not _visible(flag.revision.note.client.program, programs):
            raise NotFound(f"no flag {flag_id}")
        return flag

    def review_flag(self, flag: FlagRow, decision: str, comment: str | None, reviewer: str) -> FlagRow:
        flag.status = decision
        flag.comment = comment
        flag.reviewer = reviewer
        flag.reviewed_at = utcnow()
        return flag

    def result(self, result_id: int, programs: str | None = None) -> Result:
        result = self.session.scalar(select(Result).where(Result.id == result_id)
                                     .options(selectinload(Result.reviews)))
        if result is None or not _visible(result.revision.note.client.program, programs):
            raise NotFound(f"no result {result_id}")
        return result

    def review_result(self, result: Result, *, decision: str, status: str | None, level: int | None,
                      citations: list[list[int]] | None, comment: str | None, reviewer: str) -> Review:
        text = result.revision.text
        if citations is not None and any(not (0 <= s < e <= len(text)) for s, e in citations):
            raise InvalidInput(f"a citation lies outside the note's {len(text)} characters")
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

    def revision_vectors(self, revision_pk: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of one revision's segments."""
        query = select(SegmentRow.id, SegmentRow.vector).where(SegmentRow.revision_pk == revision_pk)
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
        """Erase the client and everything recorded about them; return the segment ids to unindex."""
        segment_ids = list(self.session.scalars(
            select(SegmentRow.id).join(NoteRevision).join(Note).where(Note.client_pk == client.id)))
        self.session.execute(delete(Client).where(Client.id == client.id))
        self.session.expunge_all()
        return segment_ids

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


def _after(severity: int, note_date: date, flag_pk: int):  # noqa: ANN202
    """Flags that sort after the cursor in (severity desc, note_date desc, id desc) order."""
    return or_(FlagRow.severity < severity,
               and_(FlagRow.severity == severity, FlagRow.note_date < note_date),
               and_(FlagRow.severity == severity, FlagRow.note_date == note_date, FlagRow.id < flag_pk))


def _encode_cursor(flag: FlagRow) -> str:
    raw = json.dumps([flag.severity, flag.note_date.isoformat(), flag.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, date, int]:
    try:
        severity, day, flag_pk = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not all(type(n) is int and 0 <= n < 2**31 for n in (severity, flag_pk)):
            raise ValueError("cursor numbers out of range")
        return severity, date.fromisoformat(day), flag_pk
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidInput("cursor is not one this service issued") from exc


def _spans(citations) -> list[list[int]]:  # noqa: ANN001
    return [[c.start, c.end] for c in citations]


def _segment_row(segment, context, vector) -> SegmentRow:  # noqa: ANN001
    return SegmentRow(start=segment.start, end=segment.end, section=segment.section, negated=context.negated,
                      hypothetical=context.hypothetical, historical=context.historical,
                      other_experiencer=context.other_experiencer,
                      vector=np.asarray(vector, dtype=np.float32).tobytes())
