"""Request and response bodies of scoring jobs and webhooks (admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from casenotes.service.schemas import Name, Request, ScoringState

WebhookEvent = Literal["note.scored", "note.failed", "flag.raised", "flag.reviewed"]


class JobOut(BaseModel):
    note_id: str
    client_id: str
    revision: int
    state: ScoringState
    attempts: int
    error: str | None = Field(description="Why the last attempt failed (never note text).")
    created_at: datetime


class JobsOut(BaseModel):
    jobs: list[JobOut]


class WebhookIn(Request):
    program: Name
    url: Annotated[str, Field(min_length=8, max_length=2000, pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#]+\S*$",
                              description="An http(s) URL that resolves to a public address, or to one "
                                          "CASENOTES_WEBHOOK_ALLOW names.")]
    events: Annotated[list[WebhookEvent], Field(min_length=1, max_length=4)]


class WebhookOut(BaseModel):
    id: int
    program: str
    url: str
    events: list[WebhookEvent]
    created_at: datetime
    disabled_at: datetime | None = None


class WebhookSecretOut(WebhookOut):
    secret: str = Field(description="The signing secret (Standard Webhooks, `whsec_...`): shown this once.")


class WebhooksOut(BaseModel):
    webhooks: list[WebhookOut]


class DeliveryOut(BaseModel):
    id: int
    webhook_id: int
    event_id: str = Field(description="The webhook-id header: the same on every attempt of one event.")
    event_type: WebhookEvent
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class DeliveriesOut(BaseModel):
    deliveries: list[DeliveryOut]
