"""Request and response bodies of the API. Requests refuse unknown fields."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from casenotes.schema import DomainName, FlagType, NoteFormat, Status

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,99}$"
MAX_ID = 2**31 - 1  # ids are 32-bit integers on every database
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _storable(value: str) -> str:
    """Refuse NUL and unpaired surrogates: no database stores them faithfully."""
    found = _UNSTORABLE.search(value)
    if found:
        raise ValueError(f"contains an unstorable character (NUL or unpaired surrogate) at offset {found.start()}")
    return value


Text = Annotated[str, AfterValidator(_storable)]
Identifier = Annotated[str, Field(pattern=ID_PATTERN, min_length=1, max_length=100)]
Name = Annotated[Text, Field(min_length=1, max_length=100)]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- requests ----------------------------------------------------------------------------

class ClientIn(Request):
    program: Name


class GoalIn(Request):
    goal_id: Identifier
    text: Annotated[Text, Field(min_length=1, max_length=2000)]
    domain: DomainName
    target_date: date | None = None


class PlanIn(Request):
    goals: Annotated[list[GoalIn], Field(max_length=100)]
    rubric: Name = "self-sufficiency"

    @model_validator(mode="after")
    def _goal_ids_unique(self) -> "PlanIn":
        ids = [g.goal_id for g in self.goals]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"duplicate goal_id {', '.join(repeated)}")
        return self


class NoteRevisionIn(Request):
    note_date: date
    note_format: NoteFormat | None = None
    author: Annotated[Text, Field(max_length=200)] | None = None
    text: Text = Field(description="The note; longer than the service's limit is refused with 413.")


class NoteIn(NoteRevisionIn):
    note_id: Identifier


class FlagReviewIn(Request):
    decision: Literal["confirmed", "dismissed"]
    comment: Annotated[Text, Field(max_length=2000)] | None = None


class ResultReviewIn(Request):
    decision: Literal["accepted", "corrected"]
    status: Status | None = Field(None, description="The right status, when correcting a goal result.")
    level: int | None = Field(None, ge=1, le=5, description="The right level, when correcting a domain result.")
    citations: Annotated[list[tuple[Annotated[int, Field(ge=0)], Annotated[int, Field(ge=0)]]],
                         Field(max_length=20)] | None = None
    comment: Annotated[Text, Field(max_length=2000)] | None = None

    @model_validator(mode="after")
    def _correction_says_what(self) -> "ResultReviewIn":
        if self.decision == "corrected" and self.status is None and self.level is None:
            raise ValueError("a correction gives the right status or level")
        if self.decision == "accepted" and (self.status is not None or self.level is not None):
            raise ValueError("an acceptance takes no status or level")
        if self.citations and any(start >= end for start, end in self.citations):
            raise ValueError("each citation is [start, end) with start < end")
        return self


# -- responses ---------------------------------------------------------------------------

class ErrorOut(BaseModel):
    detail: str


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorOut(BaseModel):
    detail: list[FieldError]


ERROR_RESPONSES: dict = {
    400: {"model": ErrorOut, "description": "The body could not be parsed (not JSON, not UTF-8)."},
    401: {"model": ErrorOut, "description": "No token, or not a valid one."},
    403: {"model": ErrorOut, "description": "The token's role may not do this."},
    413: {"model": ErrorOut, "description": "The request body is over the size limit."},
    422: {"model": ValidationErrorOut, "description": "A field is invalid; `loc` names it."},
    429: {"model": ErrorOut, "description": "Too many requests for this token; see Retry-After."},
}


class CitationOut(BaseModel):
    start: int
    end: int
    text: str


class ReviewOut(BaseModel):
    review_id: int
    decision: str
    status: str | None
    level: int | None
    comment: str | None
    reviewer: str
    created_at: datetime


class GoalResultOut(BaseModel):
    result_id: int
    goal_id: str
    status: Status
    score: float
    confidence: float
    citations: list[CitationOut]
    review: ReviewOut | None = None


class DomainResultOut(BaseModel):
    result_id: int
    domain: DomainName
    level: int
    confidence: float
    citations: list[CitationOut]
    review: ReviewOut | None = None


class FlagOut(BaseModel):
    flag_id: int
    type: FlagType
    severity: int
    confidence: float
    status: Literal["open", "confirmed", "dismissed"]
    citations: list[CitationOut]
    reviewer: str | None = None
    comment: str | None = None


class NoteResultOut(BaseModel):
    note_id: str
    client_id: str
    note_date: date
    revision: int
    sha256: str
    plan_version: int | None
    model_version: str
    rubric_name: str
    rubric_version: str
    rubric_hash: str
    goals: list[GoalResultOut]
    domains: list[DomainResultOut]
    flags: list[FlagOut]


class RevisionOut(BaseModel):
    revision: int
    sha256: str
    created_at: datetime
    model_version: str


class NoteOut(NoteResultOut):
    note_format: NoteFormat | None
    author: str | None
    text: str
    revisions: list[RevisionOut]


class ClientOut(BaseModel):
    client_id: str
    program: str
    created_at: datetime


class GoalOut(BaseModel):
    goal_id: str
    text: str
    domain: DomainName
    target_date: date | None


class PlanOut(BaseModel):
    client_id: str
    version: int
    rubric: str
    created_at: datetime
    goals: list[GoalOut]


class TimelinePoint(BaseModel):
    note_id: str
    note_date: date
    result_id: int
    status: Status
    score: float
    confidence: float


class GoalTimelineOut(GoalOut):
    timeline: list[TimelinePoint]


class LevelPoint(BaseModel):
    note_id: str
    note_date: date
    result_id: int
    level: int
    confidence: float


class DomainLevelsOut(BaseModel):
    domain: DomainName
    baseline: LevelPoint
    latest: LevelPoint


class QueueFlagOut(FlagOut):
    note_id: str
    note_date: date
    client_id: str
    program: str


class NoteSummaryOut(BaseModel):
    note_id: str
    note_date: date
    note_format: NoteFormat | None
    author: str | None
    revision: int
    open_flags: int


class RecordOut(BaseModel):
    client: ClientOut
    plan: PlanOut | None
    goals: list[GoalTimelineOut]
    domains: list[DomainLevelsOut]
    open_flags: list[QueueFlagOut]
    notes: list[NoteSummaryOut]


class FlagPageOut(BaseModel):
    flags: list[QueueFlagOut]
    next_cursor: str | None


class SearchHitOut(BaseModel):
    note_id: str
    client_id: str
    note_date: date
    section: str | None
    score: float
    citation: CitationOut


class SearchOut(BaseModel):
    hits: list[SearchHitOut]


class AuditOut(BaseModel):
    audit_id: int
    at: datetime
    actor: str
    role: str
    action: str
    object_type: str
    object_id: str
    client_id: str | None
    request_id: str


class AuditPageOut(BaseModel):
    entries: list[AuditOut]
