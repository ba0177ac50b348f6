"""The client record as plain data, read from the current revision of each note, reviewed
values over the machine's (casenotes.store.reviewed): each plan goal's readings and standing,
each domain level, the flags still standing, the notes. The record page and the FHIR export
build on these; the `Repository` takes `record_data` from the `RecordReads` class here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from casenotes.schema import Citation
from casenotes.schema import Goal as GoalSpec
from casenotes.store.goal_standing import GoalReading, GoalStanding, goal_standing
from casenotes.store.reviewed import final_review, reviewed_level, reviewed_spans, reviewed_status
from casenotes.store.tables import Client, Enrollment, Note, NoteRevision, Plan, PlanGoal, Result

__all__ = ["DomainReading", "FlagReading", "NoteSummary", "RecordData", "RecordReads", "goal_readings",
           "goal_standings", "notes_of"]

History = Sequence[tuple[Note, NoteRevision]]  # each note with its current revision, oldest first
Span = tuple[int, int]
STANDING_FLAG_STATES = ("open", "confirmed")  # a dismissed flag no longer stands


@dataclass(frozen=True)
class NoteSummary:
    note_id: str
    note_date: date
    note_format: str | None
    revision: int


@dataclass(frozen=True)
class DomainReading:
    note_id: str
    note_date: date
    result_id: int
    domain: str
    level: int
    machine_level: int
    review: str | None
    spans: tuple[Span, ...]


@dataclass(frozen=True)
class FlagReading:
    flag_id: int
    type: str
    severity: int
    status: str
    note_id: str
    note_date: date
    spans: tuple[Span, ...]


@dataclass(frozen=True)
class RecordData:
    """A client's record as plain data: ids, dates, statuses, levels and character spans, and
    the plans' goal texts; quoted note text only inside the goal standings' citations. The goals
    are those of the current plan of each enrollment the reader may see, each goal's standing
    read from that enrollment's notes alone; `goal_keys` tell goals apart across enrollments: the
    goal id for the client's first enrollment, `enrollment/goal id` for a later one."""

    client_id: str
    goals: tuple[GoalSpec, ...]
    standings: tuple[GoalStanding, ...]
    goal_keys: tuple[str, ...]
    notes: tuple[NoteSummary, ...]
    domains: tuple[DomainReading, ...]
    flags: tuple[FlagReading, ...]


class RecordReads:
    """The record as plain data, for `Repository` (whose `enrollments`, `current_plan` and
    `current_revisions` it reads)."""

    session: Session

    def record_data(self, client: Client, as_of: date, programs: str | None = None) -> RecordData:
        """The record a reader scoped to `programs` may see (None: the whole person)."""
        history = self.current_revisions(client, programs)
        goals, standings, keys = [], [], []
        first = min((e.id for e in self.enrollments(client)), default=None)
        for enrollment, plan in self.enrollment_plans(client, programs):
            plan_goals = tuple(plan.goals)
            goals += [GoalSpec(goal_id=g.goal_id, text=g.text, domain=g.domain, target_date=g.target_date)
                      for g in plan_goals]
            standings += goal_standings(plan_goals, notes_of(history, enrollment.id), as_of)
            keys += [g.goal_id if enrollment.id == first else f"{enrollment.id}/{g.goal_id}" for g in plan_goals]
        return RecordData(
            client_id=client.client_id, goals=tuple(goals), standings=tuple(standings), goal_keys=tuple(keys),
            notes=tuple(NoteSummary(note.note_id, note.note_date, note.note_format, revision.revision)
                        for note, revision in history),
            domains=tuple(_domain_reading(note, r) for note, revision in history for r in revision.results
                          if r.kind == "domain"),
            flags=tuple(FlagReading(f.id, f.type, f.severity, f.status, note.note_id, note.note_date, _spans(f.citations))
                        for note, revision in history for f in revision.flags if f.status in STANDING_FLAG_STATES),
        )

    def enrollment_plans(self, client: Client, programs: str | None = None) -> list[tuple[Enrollment, Plan]]:
        """Each enrollment the reader may see that has a plan, with its current plan, oldest first."""
        pairs = [(enrollment, self.current_plan(enrollment)) for enrollment in self.enrollments(client, programs)]
        return [(enrollment, plan) for enrollment, plan in pairs if plan is not None]


def notes_of(history: History, enrollment_pk: int) -> list[tuple[Note, NoteRevision]]:
    """The notes of one enrollment among `history`."""
    return [(note, revision) for note, revision in history if note.enrollment_pk == enrollment_pk]


def goal_readings(history: History) -> dict[str, list[GoalReading]]:
    """Every note's reading of each goal, by goal id, oldest note first."""
    readings: dict[str, list[GoalReading]] = {}
    for note, revision in history:
        for result in revision.results:
            if result.kind == "goal":
                readings.setdefault(result.goal_id, []).append(_goal_reading(note, revision, result))
    return readings


def goal_standings(goals: Sequence[PlanGoal], history: History, as_of: date) -> list[GoalStanding]:
    """The standing of each plan goal, in the plan's order."""
    readings = goal_readings(history)
    return [goal_standing(g.goal_id, readings.get(g.goal_id, []), as_of=as_of) for g in goals]


def _goal_reading(note: Note, revision: NoteRevision, result: Result) -> GoalReading:
    review = final_review(result)
    text = revision.text
    return GoalReading(note_id=note.note_id, note_date=note.note_date, result_id=result.id,
                       status=reviewed_status(result), machine_status=result.status,
                       review=review.decision if review else None,
                       citations=tuple(Citation(start=s, end=e, text=text[s:e]) for s, e in reviewed_spans(result)))


def _domain_reading(note: Note, result: Result) -> DomainReading:
    review = final_review(result)
    return DomainReading(note_id=note.note_id, note_date=note.note_date, result_id=result.id, domain=result.domain,
                         level=reviewed_level(result), machine_level=result.level,
                         review=review.decision if review else None, spans=_spans(reviewed_spans(result)))


def _spans(spans: list) -> tuple[Span, ...]:
    return tuple((s, e) for s, e in spans)
