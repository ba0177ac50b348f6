"""The review queue: the flags of every client's current notes (a program-scoped reader's: those
of notes of its program's enrollments), most severe first, read a
page at a time. A page ends with a cursor naming the last flag's place in the queue's order, and
the next page starts after that place; the cursor's form is public so the API can check it. The
`Repository` takes these reads from the `FlagQueue` class here, which works in its session.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session, contains_eager

from casenotes.errors import InvalidInput, NotFound
from casenotes.store.scope import is_current, visible
from casenotes.store.tables import Client, Enrollment, FlagRow, Note, NoteRevision

__all__ = ["CURSOR_PATTERN", "FlagPage", "FlagQueue"]


@dataclass(frozen=True)
class FlagPage:
    flags: list[FlagRow]
    next_cursor: str | None


class FlagQueue:
    """The flag queue's reads, for `Repository`, in its session."""

    session: Session

    def flag_queue(self, *, programs: str | None, status: str | None = "open", flag_type: str | None = None,
                   program: str | None = None, limit: int = 50, cursor: str | None = None) -> FlagPage:
        query = _current_flags().options(*_flag_owner())
        if status:
            query = query.where(FlagRow.status == status)
        if flag_type:
            query = query.where(FlagRow.type == flag_type)
        if program:
            query = query.where(Enrollment.program == program)
        if programs is not None:
            query = query.where(Enrollment.program == programs)
        if cursor:
            query = query.where(_after(*_decode_cursor(cursor)))
        query = query.order_by(FlagRow.severity.desc(), FlagRow.confidence.desc(), FlagRow.note_date.desc(),
                               FlagRow.id.desc()).limit(limit + 1)
        flags = list(self.session.scalars(query))
        more = len(flags) > limit
        flags = flags[:limit]
        return FlagPage(flags, _encode_cursor(flags[-1]) if more and flags else None)

    def flag(self, flag_id: int, programs: str | None = None) -> FlagRow:
        flag = self.session.scalar(_current_flags().where(FlagRow.id == flag_id).options(*_flag_owner()))
        if flag is None or not visible(flag.revision.note.enrollment.program, programs):
            raise NotFound(f"no flag {flag_id}")
        return flag


def _current_flags() -> Select:
    return (select(FlagRow).join(NoteRevision, FlagRow.revision_pk == NoteRevision.id)
            .join(Note, is_current(Note)).join(Client, Note.client_pk == Client.id)
            .join(Enrollment, Note.enrollment_pk == Enrollment.id))


def _flag_owner() -> tuple:
    """Fill each flag's revision, note, client and enrollment from `_current_flags`' own joins:
    loaded later, one erased in between would be None."""
    note = contains_eager(FlagRow.revision).contains_eager(NoteRevision.note)
    return note.contains_eager(Note.client), note.contains_eager(Note.enrollment)


def _after(severity: int, confidence: float, note_date: date, flag_pk: int):
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
