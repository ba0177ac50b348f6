"""Webhook subscriptions and their delivery log, for admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from casenotes.errors import Conflict, InvalidInput, NotFound
from casenotes.runtime import webhooks
from casenotes.service.api.common import NOT_FOUND, Admin, IntId
from casenotes.service.deps import RepositoryDep, ServicesDep
from casenotes.service.schemas import ERROR_RESPONSES, ErrorOut
from casenotes.service.schemas_delivery import (
    DeliveriesOut,
    DeliveryOut,
    WebhookIn,
    WebhookOut,
    WebhookSecretOut,
    WebhooksOut,
)
from casenotes.store.credentials import Principal
from casenotes.store.scope import visible
from casenotes.store.tables import WebhookDelivery, WebhookSubscription

router = APIRouter(prefix="/v1", tags=["operations"], responses=ERROR_RESPONSES)


@router.post("/webhooks", response_model=WebhookSecretOut, status_code=201, responses={
    409: {"model": ErrorOut, "description": "The URL does not resolve, or resolves to a loopback, private or "
          "link-local address that CASENOTES_WEBHOOK_ALLOW does not name."}})
def subscribe(body: WebhookIn, principal: Admin, services: ServicesDep, repo: RepositoryDep) -> WebhookSecretOut:
    """Subscribe a URL to a program's events; the signing secret is in this answer only."""
    _check_program(body.program, principal)
    try:
        subscription, secret = webhooks.subscribe(repo.session, body.program, body.url, body.events,
                                                  services.settings.webhook_allow)
    except InvalidInput as refused:  # where a name points is not the request's form (which JSON Schema checks)
        raise Conflict(str(refused)) from None
    repo.commit()
    return WebhookSecretOut(**_webhook_out(subscription).model_dump(), secret=secret)


@router.get("/webhooks", response_model=WebhooksOut)
def list_webhooks(principal: Admin, repo: RepositoryDep) -> WebhooksOut:
    return WebhooksOut(webhooks=[_webhook_out(s) for s in webhooks.subscriptions(
        repo.session, principal.program, include_disabled=True)])


@router.delete("/webhooks/{webhook_id}", status_code=204, response_class=Response, responses=NOT_FOUND)
def unsubscribe(webhook_id: IntId, principal: Admin, repo: RepositoryDep) -> Response:
    """Stop sending to this URL; its queued deliveries end `failed` and the log is kept."""
    _subscription(repo, webhook_id, principal)
    webhooks.unsubscribe(repo.session, webhook_id)
    repo.commit()
    return Response(status_code=204)


@router.post("/webhooks/{webhook_id}/rotate", response_model=WebhookSecretOut, responses=NOT_FOUND)
def rotate_secret(webhook_id: IntId, principal: Admin, repo: RepositoryDep) -> WebhookSecretOut:
    """A new signing secret; the old one keeps signing too for 24 hours, so receivers can switch."""
    subscription = _subscription(repo, webhook_id, principal)
    secret = webhooks.rotate_secret(repo.session, webhook_id)
    repo.commit()
    return WebhookSecretOut(**_webhook_out(subscription).model_dump(), secret=secret)


@router.get("/webhooks/{webhook_id}/deliveries", response_model=DeliveriesOut, responses=NOT_FOUND)
def list_deliveries(webhook_id: IntId, principal: Admin, repo: RepositoryDep,
                    state: Annotated[str | None, Query(pattern="^(pending|delivered|failed)$")] = None,
                    limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> DeliveriesOut:
    """The delivery log of one subscription, newest first."""
    _subscription(repo, webhook_id, principal)
    rows = webhooks.deliveries(repo.session, subscription_id=webhook_id, state=state, limit=limit)
    return DeliveriesOut(deliveries=[_delivery_out(d) for d in rows])


@router.post("/webhooks/deliveries/{delivery_id}/replay", response_model=DeliveryOut, responses=NOT_FOUND)
def replay(delivery_id: IntId, principal: Admin, services: ServicesDep, repo: RepositoryDep) -> DeliveryOut:
    """Send a delivery again, under the same webhook-id."""
    delivery = repo.session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise NotFound(f"no delivery {delivery_id}")
    _subscription(repo, delivery.subscription_pk, principal)
    delivery = webhooks.replay(repo.session, delivery_id)
    services.webhooks.wake_after_commit(repo.session)
    repo.commit()
    return _delivery_out(delivery)


def _check_program(program: str, principal: Principal) -> None:
    if not visible(program, principal.program):
        raise NotFound(f"no program {program!r} among the caller's programs")


def _subscription(repo: RepositoryDep, webhook_id: int, principal: Principal) -> WebhookSubscription:
    subscription = repo.session.get(WebhookSubscription, webhook_id)
    if subscription is None or not visible(subscription.program, principal.program):
        raise NotFound(f"no webhook {webhook_id}")
    return subscription


def _webhook_out(subscription: WebhookSubscription) -> WebhookOut:
    return WebhookOut(id=subscription.id, program=subscription.program, url=subscription.url,
                      events=subscription.event_types, created_at=subscription.created_at,
                      disabled_at=subscription.disabled_at)


def _delivery_out(delivery: WebhookDelivery) -> DeliveryOut:
    return DeliveryOut(id=delivery.id, webhook_id=delivery.subscription_pk, event_id=delivery.event_id,
                       event_type=delivery.event_type, state=delivery.state, attempts=delivery.attempts,
                       last_status_code=delivery.last_status_code, last_error=delivery.last_error,
                       created_at=delivery.created_at, delivered_at=delivery.delivered_at)
