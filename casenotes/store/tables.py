"""The persistent client record, as SQLAlchemy 2 tables.

client ── enrollment (one per stay in a program; access is program-scoped through it)
             ├─ plan (versioned per client) ── plan_goal
             └─ note ── note_revision ─┬─ segment (with its embedding, for search)
                                       ├─ result (a goal status or a domain level) ── review
                                       └─ flag (open | confirmed | dismissed)
Plans and notes keep `client_pk` beside `enrollment_pk`: a person's rows are found, and erased, by it.
webhook_subscription ── webhook_delivery (the outbox and its log; a client's deliveries go with the client)
audit_log and api_token (with its ui_session sign-ins) stand apart: audit rows name objects by their public ids and
outlive a deleted client; they never hold note text.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

__all__ = [
    "ACTIVE", "CLOSED", "ApiToken", "AuditEntry", "Base", "Client", "Enrollment", "FlagRow", "Note", "NoteRevision",
    "Plan", "PlanGoal", "Result", "Review", "SegmentChange", "SegmentRow", "UiSession", "WebhookDelivery",
    "WebhookSubscription", "utcnow",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator):
    """A timestamp that reads back in UTC on every database (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    pass


class Client(Base):
    __tablename__ = "client"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    plans: Mapped[list[Plan]] = relationship(back_populates="client", cascade="all, delete-orphan",
                                             passive_deletes=True, order_by="Plan.version")
    notes: Mapped[list[Note]] = relationship(back_populates="client", cascade="all, delete-orphan",
                                             passive_deletes=True)
    enrollments: Mapped[list[Enrollment]] = relationship(back_populates="client", cascade="all, delete-orphan",
                                                         passive_deletes=True, order_by="Enrollment.id")


ACTIVE = "active"
CLOSED = "closed"


class Enrollment(Base):
    """A client's stay in one program, from `start_date` until it is closed (`end_date`). A client
    has at most one active enrollment in a program (a partial unique index holds it so under races)."""

    __tablename__ = "enrollment"
    __table_args__ = (Index("ux_enrollment_active", "client_pk", "program", unique=True,
                            sqlite_where=text("status = 'active'"), postgresql_where=text("status = 'active'")),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"), index=True)
    program: Mapped[str] = mapped_column(String(100), index=True)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    status: Mapped[str] = mapped_column(String(10), default=ACTIVE)  # active | closed
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    client: Mapped[Client] = relationship(back_populates="enrollments")


class Plan(Base):
    __tablename__ = "plan"
    __table_args__ = (UniqueConstraint("client_pk", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"), index=True)
    enrollment_pk: Mapped[int] = mapped_column(ForeignKey("enrollment.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    rubric: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    client: Mapped[Client] = relationship(back_populates="plans")
    enrollment: Mapped[Enrollment] = relationship()
    goals: Mapped[list[PlanGoal]] = relationship(back_populates="plan", cascade="all, delete-orphan",
                                                 passive_deletes=True, order_by="PlanGoal.position")


class PlanGoal(Base):
    __tablename__ = "plan_goal"
    __table_args__ = (UniqueConstraint("plan_pk", "goal_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_pk: Mapped[int] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    goal_id: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    domain: Mapped[str] = mapped_column(String(40))
    target_date: Mapped[date | None] = mapped_column(Date, nullable=True)

    plan: Mapped[Plan] = relationship(back_populates="goals")


class Note(Base):
    __tablename__ = "note"

    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[str] = mapped_column(String(100), unique=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"), index=True)
    enrollment_pk: Mapped[int] = mapped_column(ForeignKey("enrollment.id", ondelete="CASCADE"), index=True)
    note_date: Mapped[date] = mapped_column(Date)
    note_format: Mapped[str | None] = mapped_column(String(20), nullable=True)
    author: Mapped[str | None] = mapped_column(String(200), nullable=True)
    current_revision: Mapped[int] = mapped_column(Integer, default=1)
    ingested_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    client: Mapped[Client] = relationship(back_populates="notes")
    enrollment: Mapped[Enrollment] = relationship()
    revisions: Mapped[list[NoteRevision]] = relationship(back_populates="note", cascade="all, delete-orphan",
                                                         passive_deletes=True, order_by="NoteRevision.revision")


class NoteRevision(Base):
    """One text of a note and everything scored from it, with what scored it."""

    __tablename__ = "note_revision"
    __table_args__ = (UniqueConstraint("note_pk", "revision"),
                      Index("ix_note_revision_pending", "scoring_state", "next_attempt_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    note_pk: Mapped[int] = mapped_column(ForeignKey("note.id", ondelete="CASCADE"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    plan_pk: Mapped[int | None] = mapped_column(ForeignKey("plan.id", ondelete="SET NULL"), nullable=True)
    # None while the revision waits for scoring (scoring_state "pending").
    model_version: Mapped[str | None] = mapped_column(String(200), nullable=True)
    rubric_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    rubric_version: Mapped[str | None] = mapped_column(String(50), nullable=True)
    rubric_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    scoring_state: Mapped[str] = mapped_column(String(10), default="scored", server_default="scored")
    scoring_error: Mapped[str | None] = mapped_column(String(200), nullable=True)  # a reason, never note text
    scoring_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    note: Mapped[Note] = relationship(back_populates="revisions")
    segments: Mapped[list[SegmentRow]] = relationship(cascade="all, delete-orphan", passive_deletes=True,
                                                      order_by="SegmentRow.start")
    results: Mapped[list[Result]] = relationship(back_populates="revision", cascade="all, delete-orphan",
                                                 passive_deletes=True, order_by="Result.id")
    flags: Mapped[list[FlagRow]] = relationship(back_populates="revision", cascade="all, delete-orphan",
                                                passive_deletes=True, order_by="FlagRow.id")


class SegmentRow(Base):
    __tablename__ = "segment"

    id: Mapped[int] = mapped_column(primary_key=True)
    revision_pk: Mapped[int] = mapped_column(ForeignKey("note_revision.id", ondelete="CASCADE"), index=True)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    section: Mapped[str | None] = mapped_column(String(40), nullable=True)
    negated: Mapped[bool] = mapped_column(Boolean, default=False)
    hypothetical: Mapped[bool] = mapped_column(Boolean, default=False)
    historical: Mapped[bool] = mapped_column(Boolean, default=False)
    other_experiencer: Mapped[bool] = mapped_column(Boolean, default=False)
    vector: Mapped[bytes] = mapped_column(LargeBinary)


class SegmentChange(Base):
    """The search index's change log: a segment became searchable (`add`) or stopped being so
    (`remove`), written in the transaction that made it so. Every worker's index applies it
    in `seq` order, once; see `Repository.log_segment_changes` for why `seq` order is commit order."""

    __tablename__ = "segment_change"
    __table_args__ = {"sqlite_autoincrement": True}  # a seq is never reused

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    segment_id: Mapped[int] = mapped_column(Integer)  # no foreign key: a remove outlives its segment
    op: Mapped[str] = mapped_column(String(6))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Result(Base):
    """A goal status (kind `goal`) or a domain level (kind `domain`) read from one revision."""

    __tablename__ = "result"

    id: Mapped[int] = mapped_column(primary_key=True)
    revision_pk: Mapped[int] = mapped_column(ForeignKey("note_revision.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    goal_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    domain: Mapped[str | None] = mapped_column(String(40), nullable=True)
    status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    level: Mapped[int | None] = mapped_column(Integer, nullable=True)
    confidence: Mapped[float] = mapped_column(Float)
    citations: Mapped[list] = mapped_column(JSON, default=list)  # [[start, end], ...]

    revision: Mapped[NoteRevision] = relationship(back_populates="results")
    reviews: Mapped[list[Review]] = relationship(back_populates="result", cascade="all, delete-orphan",
                                                 passive_deletes=True, order_by="Review.id")


class FlagRow(Base):
    __tablename__ = "flag"
    __table_args__ = (Index("ix_flag_queue", "status", "severity", "note_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    revision_pk: Mapped[int] = mapped_column(ForeignKey("note_revision.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(30))
    severity: Mapped[int] = mapped_column(Integer)
    confidence: Mapped[float] = mapped_column(Float)
    citations: Mapped[list] = mapped_column(JSON, default=list)
    note_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="open")
    reviewer: Mapped[str | None] = mapped_column(String(100), nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    revision: Mapped[NoteRevision] = relationship(back_populates="flags")


class Review(Base):
    """A person's verdict on a result: accepted as is, or corrected (kept for retraining)."""

    __tablename__ = "review"

    id: Mapped[int] = mapped_column(primary_key=True)
    result_pk: Mapped[int] = mapped_column(ForeignKey("result.id", ondelete="CASCADE"), index=True)
    decision: Mapped[str] = mapped_column(String(20))
    status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    level: Mapped[int | None] = mapped_column(Integer, nullable=True)
    citations: Mapped[list | None] = mapped_column(JSON, nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    reviewer: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    result: Mapped[Result] = relationship(back_populates="reviews")


class ApiToken(Base):
    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    program: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)  # None: never
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class UiSession(Base):
    """A review-UI sign-in. The browser's cookie holds a random session id; only its SHA-256 is
    kept here, as for tokens. Signing out sets `revoked_at`; revoking the token ends its sessions."""

    __tablename__ = "ui_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the cookie's session id
    token_pk: Mapped[int] = mapped_column(ForeignKey("api_token.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class AuditEntry(Base):
    """Append-only (a trigger refuses UPDATE and DELETE): who read or changed what, and when."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(40))
    object_type: Mapped[str] = mapped_column(String(20))
    object_id: Mapped[str] = mapped_column(String(200))
    client_id: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    # The program of the enrollment the row is about; None for the whole person, or a row from before enrollments.
    program: Mapped[str | None] = mapped_column(String(100), nullable=True)
    request_id: Mapped[str] = mapped_column(String(64))


class WebhookSubscription(Base):
    """A case management system's endpoint for one program's events. `secrets` holds the signing
    secrets, [{"secret": "whsec_...", "created_at": iso, "expires_at": iso | None}]: after a rotation
    the old one stays until it expires, and each delivery is signed with every one still active."""

    __tablename__ = "webhook_subscription"

    id: Mapped[int] = mapped_column(primary_key=True)
    program: Mapped[str] = mapped_column(String(100), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    event_types: Mapped[list] = mapped_column(JSON, default=list)
    secrets: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class WebhookDelivery(Base):
    """The outbox and the delivery log: one event for one subscription. `event_id` is the
    webhook-id, the same on every attempt and replay. The payload holds ids, statuses and links,
    never note text; a client's deliveries go when the client is erased."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (UniqueConstraint("subscription_pk", "event_id"),
                      Index("ix_webhook_delivery_due", "state", "next_attempt_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_pk: Mapped[int] = mapped_column(ForeignKey("webhook_subscription.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[str] = mapped_column(String(40))
    event_type: Mapped[str] = mapped_column(String(30))
    payload: Mapped[dict] = mapped_column(JSON)
    client_pk: Mapped[int | None] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"), nullable=True, index=True)
    state: Mapped[str] = mapped_column(String(10), default="pending")  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(200), nullable=True)  # a reason, never a response body
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
