"""Response bodies of a client's record: the client and its enrollments, plans, goal timelines and
standings, domain levels and note summaries."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from casenotes.schema import DomainName, NoteFormat, Status
from casenotes.service.schemas import CitationOut, QueueFlagOut


class EnrollmentOut(BaseModel):
    enrollment_id: int
    program: str
    start_date: date
    end_date: date | None
    status: Literal["active", "closed"]


class ClientOut(BaseModel):
    client_id: str
    program: str | None = Field(description="The program this answer is about: the enrollment a PUT made or found, "
                                            "the caller's program, or the only one among `enrollments`; null when "
                                            "they are several.")
    created_at: datetime
    enrollments: list[EnrollmentOut] = Field(description="The enrollments the caller may see, oldest first.")


class EnrollmentsOut(BaseModel):
    client_id: str
    enrollments: list[EnrollmentOut]


class GoalOut(BaseModel):
    goal_id: str
    text: str
    domain: DomainName
    target_date: date | None


class PlanOut(BaseModel):
    client_id: str
    program: str
    enrollment_id: int
    version: int = Field(description="Numbered per client, across its enrollments.")
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


class TrendOut(BaseModel):
    statuses: list[Status] = Field(description="The last notes that spoke to the goal (up to 3), oldest first.")
    summary: Literal["improving", "worsening", "steady", "mixed"] | None = Field(
        description="What they say together: one way only, none moved, or both ways; null when no note spoke to it.")


class GoalStandingOut(BaseModel):
    status: Status | None = Field(description="The latest status of a note that spoke to the goal, a reviewer's "
                                              "correction over the machine's; null when none has.")
    machine_status: Status | None = Field(description="What scoring said in that note.")
    review: Literal["accepted", "corrected"] | None
    note_id: str | None
    note_date: date | None
    result_id: int | None
    citations: list[CitationOut]
    trend: TrendOut
    as_of: date
    days_since_evidence: int | None


class GoalTimelineOut(GoalOut):
    program: str = Field(description="The program of the plan the goal is in; its standing reads that "
                                     "enrollment's notes alone.")
    standing: GoalStandingOut
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


class NoteSummaryOut(BaseModel):
    note_id: str
    program: str
    note_date: date
    note_format: NoteFormat | None
    author: str | None
    revision: int
    open_flags: int


class RecordOut(BaseModel):
    client: ClientOut
    plan: PlanOut | None = Field(description="The newest of `plans`.")
    plans: list[PlanOut] = Field(description="The current plan of each enrollment the caller may see that has one.")
    goals: list[GoalTimelineOut]
    domains: list[DomainLevelsOut]
    open_flags: list[QueueFlagOut]
    notes: list[NoteSummaryOut]
