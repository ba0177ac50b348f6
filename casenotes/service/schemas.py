"""Request and response bodies of the API. Requests refuse unknown fields."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, Strict, model_validator

from casenotes.schema import ConfidenceBand, DomainName, FlagType, NoteFormat, Status, repeated_goal_ids

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,99}$"
MAX_ID = 2**31 - 1
ScoringState = Literal["pending", "scored", "failed"]  # ids are 32-bit integers on every database
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# The rule as a JSON Schema pattern, so the published schema forbids what the service refuses.
# Only NUL: a pattern cannot name surrogates (validators built on UTF-8 strings refuse the
# pattern, and testers then drop it); an unpaired one is no Unicode text, which JSON Schema
# strings are, and the document's description says so.
STORABLE_PATTERN = r"^[^\x00]*$"
_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
# A stored note must also hold a visible character (casenotes.pipeline.check_note_text refuses
# the others): one that is not whitespace, a control or format character or a separator (the
# Unicode 14 categories Cc, Cf, Zs, Zl and Zp). Outside the Basic Multilingual Plane a JSON
# Schema pattern has no escape that Python reads too, so those characters stand as themselves.
_INVISIBLE = (r"\x00-\x20\x7F-\xA0\xAD\u0600-\u0605\u061C\u06DD\u070F\u0890-\u0891\u08E2\u1680\u180E\u2000-\u200F"
              r"\u2028-\u202F\u205F-\u2064\u2066-\u206F\u3000\uFEFF\uFFF9-\uFFFB"
              "\U000110BD\U000110CD\U00013430-\U00013438\U0001BCA0-\U0001BCA3\U0001D173-\U0001D17A\U000E0001"
              "\U000E0020-\U000E007F")
NOTE_TEXT_PATTERN = rf"^[^\x00]*[^{_INVISIBLE}][^\x00]*$"


def _storable(value: str) -> str:
    """Refuse NUL and unpaired surrogates: no database stores them faithfully."""
    found = _UNSTORABLE.search(value)
    if found:
        raise ValueError(f"contains an unstorable character (NUL or unpaired surrogate) at offset {found.start()}")
    return value


def _iso_date(value: object) -> object:
    """A date is a `YYYY-MM-DD` string (or a date, from Python): not a number of seconds, which
    pydantic would otherwise read as a day in 1970."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.match(value):
        return date.fromisoformat(value)
    raise ValueError("a date is a string YYYY-MM-DD")


def _json_integer(value: object) -> object:
    """An integer is a JSON number: not a string of digits, not `true`. (A whole float such as
    3.0 is one, as JSON Schema has it, so integers are not validated strictly.)"""
    if isinstance(value, (bool, str)):
        raise ValueError("an integer is a JSON number")
    return value


Text = Annotated[str, AfterValidator(_storable), Field(json_schema_extra={"pattern": STORABLE_PATTERN})]
# Bounds go before the validator, or pydantic leaves them out of the JSON Schema.
JsonInt = Annotated[int, Strict(False), BeforeValidator(_json_integer)]
Offset = Annotated[int, Field(ge=0), Strict(False), BeforeValidator(_json_integer)]
Level = Annotated[int, Field(ge=1, le=5), Strict(False), BeforeValidator(_json_integer)]
IsoDate = Annotated[date, BeforeValidator(_iso_date)]
NoteText = Annotated[str, AfterValidator(_storable), Field(json_schema_extra={"pattern": NOTE_TEXT_PATTERN})]
Identifier = Annotated[str, Field(pattern=ID_PATTERN, min_length=1, max_length=100)]
Name = Annotated[Text, Field(min_length=1, max_length=100)]


class Request(BaseModel):
    # strict: a JSON number is not a date, a string is not a number, `true` is not 1; what
    # the published schema calls invalid, the service refuses.
    model_config = ConfigDict(extra="forbid", strict=True)


# -- requests ----------------------------------------------------------------------------

class ClientIn(Request):
    program: Name = Field(description="The program the client is enrolled in: a new enrollment there unless the "
                                      "client has an active one already.")
    start_date: IsoDate | None = Field(None, description="The new enrollment's first day; today when left out.")


class EnrollmentIn(Request):
    program: Name
    start_date: IsoDate


class EnrollmentCloseIn(Request):
    end_date: IsoDate = Field(description="The enrollment's last day: not before its start_date.")


_FOR_PROGRAM = Field(None, description="Which of the client's active enrollments this is for. A program-scoped "
                                       "token writes to its own program's and may leave this out; an unscoped one "
                                       "must name it when the client has more than one active enrollment (422).")


class GoalIn(Request):
    goal_id: Identifier
    text: Annotated[Text, Field(min_length=1, max_length=2000)]
    domain: DomainName
    target_date: IsoDate | None = None


class PlanIn(Request):
    goals: Annotated[list[GoalIn], Field(max_length=100, description="Each with its own goal_id; a goal_id "
                                                                    "given twice is refused with 409.")]
    rubric: Name = "self-sufficiency"
    program: Name | None = _FOR_PROGRAM

    def repeated_goal_ids(self) -> list[str]:
        """Goal ids given more than once. Not a validation error: JSON Schema cannot say that the
        items of an array differ in one field, so the service answers a conflict (409)."""
        return repeated_goal_ids([g.goal_id for g in self.goals])


class NoteRevisionIn(Request):
    note_date: IsoDate
    note_format: NoteFormat | None = None
    author: Annotated[Text, Field(max_length=200)] | None = None
    text: NoteText = Field(description="The note: at least one visible character (not only whitespace, control "
                                       "or format characters); longer than the service's limit is refused with 413.")


class NoteIn(NoteRevisionIn):
    note_id: Identifier
    program: Name | None = _FOR_PROGRAM


class FlagReviewIn(Request):
    decision: Literal["confirmed", "dismissed"]
    comment: Annotated[Text, Field(max_length=2000)] | None = None


# The rule `_correction_says_what` enforces, in the published schema: an acceptance carries no
# status or level, a correction carries one of them.
_REVIEW_SHAPES = [
    {"title": "Acceptance", "properties": {"decision": {"const": "accepted"}, "status": {"type": "null"},
                                           "level": {"type": "null"}}},
    {"title": "Status correction", "properties": {"decision": {"const": "corrected"}, "status": {"type": "string"}},
     "required": ["status"]},
    {"title": "Level correction", "properties": {"decision": {"const": "corrected"}, "level": {"type": "integer"}},
     "required": ["level"]},
]


class ResultReviewIn(Request):
    model_config = ConfigDict(json_schema_extra={"anyOf": _REVIEW_SHAPES})

    decision: Literal["accepted", "corrected"]
    status: Status | None = Field(None, description="The right status, when correcting a goal result.")
    level: Level | None = Field(None, description="The right level, when correcting a domain result.")
    citations: Annotated[list[Annotated[list[Offset], Field(min_length=2, max_length=2)]], Field(
        max_length=20, description="Spans [start, end) of the note's text; a span that is empty or runs past "
                                   "the note's end is refused with 409.")] | None = None
    comment: Annotated[Text, Field(max_length=2000)] | None = None

    @model_validator(mode="after")
    def _correction_says_what(self) -> ResultReviewIn:
        if self.decision == "corrected" and self.status is None and self.level is None:
            raise ValueError("a correction gives the right status or level")
        if self.decision == "accepted" and (self.status is not None or self.level is not None):
            raise ValueError("an acceptance takes no status or level")
        return self


class SearchIn(Request):
    q: Annotated[Text, Field(min_length=1, max_length=1000, description="What to look for, in plain words.")]
    client_id: Identifier | None = Field(None, description="Search only this client's notes.")
    k: JsonInt = Field(10, ge=1, le=50, description="How many hits, at most.")


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
    confidence_band: ConfidenceBand = Field(description="`high` from 70%, `medium` from 40%, `low` below, "
                                            "judged on the confidence as a whole percent.")
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
    status: ScoringState = Field("scored", description="`pending`: accepted, to be scored next (results empty); "
                                 "`scored`: the results below; `failed`: scoring failed after its retries.")
    error: str | None = Field(None, description="Why scoring failed (never note text).")
    model_version: str | None
    rubric_name: str | None
    rubric_version: str | None
    rubric_hash: str | None
    goals: list[GoalResultOut]
    domains: list[DomainResultOut]
    flags: list[FlagOut]


class RevisionOut(BaseModel):
    revision: int
    sha256: str
    created_at: datetime
    status: ScoringState = "scored"
    model_version: str | None


class NoteOut(NoteResultOut):
    note_format: NoteFormat | None
    author: str | None
    text: str
    revisions: list[RevisionOut]


class QueueFlagOut(FlagOut):
    note_id: str
    note_date: date
    client_id: str
    program: str


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
