"""Where a client stands on one plan goal, from every note's reading of it: plain data in,
plain data out, no database.

The standing is the status of the latest note that spoke to the goal (a note that did not
address it says nothing about where the client stands), with the reviewer's value over the
machine's and the machine's kept beside it; the trend is the statuses of the last few notes
that spoke to it; and the days since that latest evidence tell how stale the standing is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from casenotes.schema import Citation

__all__ = ["NOT_ADDRESSED", "TREND_WINDOW", "GoalReading", "GoalStanding", "Trend", "goal_standing", "trend_of"]

NOT_ADDRESSED = "not-addressed"
TREND_WINDOW = 3  # notes that spoke to the goal, newest last
_TOWARD = frozenset({"improving", "achieved"})


@dataclass(frozen=True)
class GoalReading:
    """One note's reading of one goal. `status` is the reviewed value (see casenotes.store.reviewed),
    `machine_status` what scoring said; `review` is the latest review's decision, if any."""

    note_id: str
    note_date: date
    result_id: int
    status: str
    machine_status: str
    review: str | None = None
    citations: tuple[Citation, ...] = ()


@dataclass(frozen=True)
class Trend:
    """The statuses of the last notes that spoke to the goal, oldest first, and what they
    say together: `improving` or `worsening` when they lean one way only, `steady` when none
    moved, `mixed` when they pull both ways; None when no note spoke to the goal."""

    statuses: tuple[str, ...] = ()
    summary: str | None = None


@dataclass(frozen=True)
class GoalStanding:
    goal_id: str
    as_of: date
    evidence: GoalReading | None = None  # the latest note that spoke to the goal, on or before `as_of`
    trend: Trend = Trend()

    @property
    def status(self) -> str | None:
        return self.evidence.status if self.evidence else None

    @property
    def machine_status(self) -> str | None:
        return self.evidence.machine_status if self.evidence else None

    @property
    def days_since_evidence(self) -> int | None:
        return (self.as_of - self.evidence.note_date).days if self.evidence else None


def goal_standing(goal_id: str, readings: Sequence[GoalReading], *, as_of: date,
                  window: int = TREND_WINDOW) -> GoalStanding:
    """The standing of one goal as of a day, from its readings (notes dated after `as_of` do not count)."""
    addressed = [r for r in _by_date(readings) if r.status != NOT_ADDRESSED and r.note_date <= as_of]
    if not addressed:
        return GoalStanding(goal_id=goal_id, as_of=as_of)
    return GoalStanding(goal_id=goal_id, as_of=as_of, evidence=addressed[-1],
                        trend=trend_of([r.status for r in addressed[-window:]]))


def trend_of(statuses: Sequence[str]) -> Trend:
    """What a run of statuses (each of a note that spoke to the goal) says together."""
    toward = any(s in _TOWARD for s in statuses)
    away = "worsening" in statuses
    if not statuses:
        summary = None
    elif toward and away:
        summary = "mixed"
    elif toward:
        summary = "improving"
    elif away:
        summary = "worsening"
    else:
        summary = "steady"
    return Trend(statuses=tuple(statuses), summary=summary)


def _by_date(readings: Sequence[GoalReading]) -> list[GoalReading]:
    """Oldest first; notes of one day keep the order they were given in (the order they arrived)."""
    return sorted(readings, key=lambda r: r.note_date)
