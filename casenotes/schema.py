"""The domain types every part of casenotes speaks: notes, plans, segments, results."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:  # numpy only names a field's type here; importing the schema stays light
    import numpy as np

DEFAULT_MAX_NOTE_CHARS = 100_000  # characters a note may have

__all__ = [
    "DOMAINS",
    "FLAG_TYPES",
    "STATUSES",
    "Citation",
    "ContextLabels",
    "DomainResult",
    "Flag",
    "Goal",
    "GoalResult",
    "Note",
    "NoteResult",
    "Plan",
    "ScoredNote",
    "Segment",
    "confidence_band",
    "confidence_percent",
]

Status = Literal["improving", "worsening", "no-change", "achieved", "not-addressed"]
DomainName = Literal[
    "housing", "employment", "income", "food", "health", "mental_health",
    "substance_use", "safety", "legal", "education", "transportation",
    "childcare", "social_support", "life_skills",
]
FlagType = Literal["safety", "crisis", "housing_loss", "legal", "disengagement"]
NoteFormat = Literal["narrative", "DAP", "SOAP", "BIRP", "GIRP", "contact"]

# Each vocabulary is written once, as its Literal; the tuples are read off it, in its order.
STATUSES: tuple[str, ...] = get_args(Status)
DOMAINS: tuple[str, ...] = get_args(DomainName)
FLAG_TYPES: tuple[str, ...] = get_args(FlagType)
ConfidenceBand = Literal["high", "medium", "low"]

HIGH_CONFIDENCE_PERCENT = 70
MEDIUM_CONFIDENCE_PERCENT = 40


def confidence_percent(confidence: float) -> int:
    """A confidence as the whole percent a reader is shown."""
    return round(confidence * 100)


def confidence_band(confidence: float) -> ConfidenceBand:
    """High from 70%, medium from 40%, low below. Judged on the whole percent shown, so a
    flag shown as 70% is never called medium."""
    percent = confidence_percent(confidence)
    if percent >= HIGH_CONFIDENCE_PERCENT:
        return "high"
    if percent >= MEDIUM_CONFIDENCE_PERCENT:
        return "medium"
    return "low"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Goal(_Frozen):
    goal_id: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1, max_length=2000)
    domain: DomainName
    target_date: date | None = None


class Plan(_Frozen):
    goals: tuple[Goal, ...] = ()

    @field_validator("goals")
    @classmethod
    def _goal_ids_unique(cls, goals: tuple[Goal, ...]) -> tuple[Goal, ...]:
        repeated = repeated_goal_ids([goal.goal_id for goal in goals])
        if repeated:
            raise ValueError(f"duplicate goal_id {repeated[0]!r}")
        return goals


def repeated_goal_ids(goal_ids: list[str]) -> list[str]:
    """The goal ids given more than once, sorted: the one rule that a plan's goal ids are unique."""
    return sorted(goal_id for goal_id, count in Counter(goal_ids).items() if count > 1)


class Note(_Frozen):
    text: str
    note_id: str = "note"
    client_id: str | None = None
    program: str | None = None
    note_date: date | None = None
    note_format: NoteFormat | None = None


class Segment(_Frozen):
    """A sentence or clause of a note; `note.text[start:end] == text` always."""

    start: int = Field(ge=0)
    end: int
    text: str
    section: str | None = None
    is_bullet: bool = False

    @model_validator(mode="after")
    def _span_matches_text(self) -> Segment:
        if self.end - self.start != len(self.text):
            raise ValueError("segment text length does not match its span")
        return self


class ContextLabels(_Frozen):
    negated: bool = False
    hypothetical: bool = False
    historical: bool = False
    other_experiencer: bool = False

    @property
    def asserted(self) -> bool:
        """True when the statement is a current fact about the client."""
        return not (self.negated or self.hypothetical or self.historical or self.other_experiencer)


class Citation(_Frozen):
    start: int = Field(ge=0)
    end: int
    text: str


class GoalResult(_Frozen):
    goal_id: str
    status: Status
    score: float = Field(ge=-1.0, le=1.0, description="progress: -1 setback .. +1 achieved")
    confidence: float = Field(ge=0.0, le=1.0)
    citations: tuple[Citation, ...] = ()


class DomainResult(_Frozen):
    domain: DomainName
    level: int = Field(ge=1, le=5)
    confidence: float = Field(ge=0.0, le=1.0)
    citations: tuple[Citation, ...] = ()


class Flag(_Frozen):
    type: FlagType
    severity: int = Field(ge=1, le=5)
    confidence: float = Field(ge=0.0, le=1.0)
    citations: tuple[Citation, ...] = ()


class NoteResult(_Frozen):
    note_id: str
    goals: tuple[GoalResult, ...]
    domains: tuple[DomainResult, ...]
    flags: tuple[Flag, ...]
    segments: tuple[Segment, ...]
    model_version: str
    rubric_name: str
    rubric_version: str
    rubric_hash: str


@dataclass(frozen=True)
class ScoredNote:
    """A result with what a store keeps beside it: each segment's context and embedding."""

    result: NoteResult
    contexts: list[ContextLabels]
    vectors: np.ndarray
