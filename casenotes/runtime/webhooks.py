"""Signed webhooks: a case management system subscribes to a program's events and is told when a
note is scored or fails, or a flag is raised or reviewed.

An event is written to the outbox (`webhook_delivery`) in the transaction of the change that
caused it, one row per matching subscription, so it commits or rolls back with that change. The
sender claims due rows by leasing them (as the in-process scoring worker does), posts them signed
by the Standard Webhooks scheme, and retries a failure with exponential backoff, capped, until
`MAX_DELIVERY_ATTEMPTS`; then the row is `failed`, where an admin can read it and replay it. The
webhook-id is the row's `event_id`, the same on every attempt and replay.

Bodies carry ids, statuses and links, never note text, and nothing here logs a body or a secret.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets as random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks.webhooks import Webhook

from casenotes.errors import Conflict, InvalidInput, NotFound
from casenotes.runtime.polling import PooledPoller, lease_due
from casenotes.runtime.url_guard import Resolver, check_target, pin, resolve
from casenotes.store.tables import WebhookDelivery, WebhookSubscription, utcnow

__all__ = [
    "EVENT_TYPES", "MAX_DELIVERY_ATTEMPTS", "WebhookSender", "active_secrets", "backoff", "deliveries", "record_event",
    "replay", "rotate_secret", "signature_headers", "subscribe", "subscriptions", "unsubscribe",
]

log = logging.getLogger(__name__)

EVENT_TYPES = ("note.scored", "note.failed", "flag.raised", "flag.reviewed")
MAX_DELIVERY_ATTEMPTS = 12  # 2 s, 4 s, ... 34 min between attempts: about 68 minutes in all
MAX_BACKOFF = timedelta(hours=1)
SECRET_OVERLAP = timedelta(hours=24)  # how long the old secret still signs after a rotation
LEASE = timedelta(minutes=2)  # longer than any attempt: connect, write and read timeouts and DNS
TEXT_KEYS = frozenset({"text", "note_text", "comment"})
USER_AGENT = "casenotes-webhooks"


# -- subscriptions ---------------------------------------------------------------------


def subscribe(session: Session, program: str, url: str, event_types: Iterable[str], allow: Sequence[str] = (), *,
              resolver: Resolver = resolve) -> tuple[WebhookSubscription, str]:
    """A new subscription and its signing secret, which is shown to the caller this once."""
    check_target(url, allow, resolver=resolver)
    secret = _new_secret()
    subscription = WebhookSubscription(program=program, url=url.strip(), event_types=_event_types(event_types),
                                       secrets=[_secret_entry(secret, utcnow())])
    session.add(subscription)
    session.flush()
    return subscription, secret


def rotate_secret(session: Session, subscription_id: int, *, overlap: timedelta = SECRET_OVERLAP,
                  now: datetime | None = None) -> str:
    """A new signing secret. The ones still active keep signing for `overlap` (or less, if they
    were to expire sooner), so a receiver can switch over without missing a delivery."""
    now = now or utcnow()
    subscription = _subscription(session, subscription_id)
    ends = now + overlap
    kept = []
    for entry in subscription.secrets:
        expires = _expiry(entry)
        if expires is None or expires > now:
            kept.append({**entry, "expires_at": min(expires or ends, ends).isoformat()})
    secret = _new_secret()
    subscription.secrets = [*kept, _secret_entry(secret, now)]  # a new list: JSON columns track assignment only
    return secret


def unsubscribe(session: Session, subscription_id: int, *, now: datetime | None = None) -> WebhookSubscription:
    """Disable the subscription (its delivery log stays); what it still had queued is `failed`."""
    now = now or utcnow()
    subscription = _subscription(session, subscription_id)
    if subscription.disabled_at is None:
        subscription.disabled_at = now
        session.execute(update(WebhookDelivery)
                        .where(WebhookDelivery.subscription_pk == subscription.id, WebhookDelivery.state == "pending")
                        .values(state="failed", last_error="subscription disabled"))
    return subscription


def subscriptions(session: Session, program: str | None = None, *, include_disabled: bool = False
                  ) -> list[WebhookSubscription]:
    query = select(WebhookSubscription).order_by(WebhookSubscription.id)
    if program is not None:
        query = query.where(WebhookSubscription.program == program)
    if not include_disabled:
        query = query.where(WebhookSubscription.disabled_at.is_(None))
    return list(session.scalars(query))


def active_secrets(subscription: WebhookSubscription, now: datetime | None = None) -> list[str]:
    """The secrets that sign a delivery now: the newest, and any older one still inside its overlap."""
    now = now or utcnow()
    return [entry["secret"] for entry in subscription.secrets if _expiry(entry) is None or _expiry(entry) > now]


# -- the outbox --------------------------------------------------------------------------


def record_event(session: Session, event_type: str, program: str, payload: dict, client_pk: int | None = None, *,
                 now: datetime | None = None, among: list[WebhookSubscription] | None = None) -> list[WebhookDelivery]:
    """Queue the event for each active subscription of `program` to it (`among` those, when the
    caller has read them already), in the caller's transaction. `client_pk` names the client the
    event is about, so erasing them drops it."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    if not isinstance(payload, dict):
        raise ValueError("a webhook payload is a JSON object")
    _refuse_text(payload)
    now = now or utcnow()
    event_id = f"msg_{uuid4().hex}"
    queued = []
    for subscription in subscriptions(session, program) if among is None else among:
        if event_type in subscription.event_types:
            delivery = WebhookDelivery(subscription_pk=subscription.id, event_id=event_id, event_type=event_type,
                                       payload=payload, client_pk=client_pk, state="pending", attempts=0,
                                       next_attempt_at=now, created_at=now)
            session.add(delivery)
            queued.append(delivery)
    if queued:
        session.flush()
    return queued


def deliveries(session: Session, *, subscription_id: int | None = None, state: str | None = None, limit: int = 100,
               before_id: int | None = None) -> list[WebhookDelivery]:
    """The delivery log, newest first."""
    query = select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(limit)
    if subscription_id is not None:
        query = query.where(WebhookDelivery.subscription_pk == subscription_id)
    if state is not None:
        query = query.where(WebhookDelivery.state == state)
    if before_id is not None:
        query = query.where(WebhookDelivery.id < before_id)
    return list(session.scalars(query))


def replay(session: Session, delivery_id: int, *, now: datetime | None = None) -> WebhookDelivery:
    """Send the delivery again, delivered or failed, with the same webhook-id and a fresh set of attempts."""
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise NotFound(f"no webhook delivery {delivery_id}")
    if _subscription(session, delivery.subscription_pk).disabled_at is not None:
        raise Conflict(f"webhook delivery {delivery_id} belongs to a disabled subscription")
    delivery.state, delivery.attempts, delivery.delivered_at = "pending", 0, None
    delivery.next_attempt_at = now or utcnow()
    return delivery


def backoff(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failure: 2, 4, 8 s ..., never more than an hour."""
    return min(timedelta(seconds=2 ** min(attempts, 20)), MAX_BACKOFF)


# -- signing -----------------------------------------------------------------------------


def signature_headers(event_id: str, body: bytes, secrets: Sequence[str], at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers; one signature per active secret, space separated."""
    signatures = " ".join(Webhook(secret).sign(event_id, at, body) for secret in secrets)
    return {"webhook-id": event_id, "webhook-timestamp": str(int(at.timestamp())), "webhook-signature": signatures}


def _body(delivery: WebhookDelivery) -> bytes:
    message = {"type": delivery.event_type, "timestamp": delivery.created_at.isoformat(), "data": delivery.payload}
    return json.dumps(message, separators=(",", ":"), sort_keys=True).encode()


# -- the sender --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Attempt:
    delivery_id: int
    event_id: str
    event_type: str
    url: str
    body: bytes
    secrets: list[str]


class WebhookSender(PooledPoller):
    """Delivers what is due from the outbox: `run_once()` for one round, `start()` for a thread
    that polls. `clock` decides what is due and when to retry; signatures carry the wall clock,
    which is what a receiver checks them against."""

    def __init__(self, sessions: sessionmaker[Session], *, allow: Sequence[str] = (), resolver: Resolver = resolve,
                 clock: Callable[[], datetime] = utcnow, timeout: float = 5.0, concurrency: int = 4,
                 poll_seconds: float = 1.0, transport: httpx.BaseTransport | None = None) -> None:
        self.sessions = sessions
        self.allow = list(allow)
        self.resolver = resolver
        self.clock = clock
        self.timeout = timeout
        self.concurrency = max(1, concurrency)
        self.poll_seconds = poll_seconds
        self.transport = transport
        self._tls = httpx.create_ssl_context()  # loaded once: the certificate store is slow to read
        super().__init__("casenotes-webhooks", poll_seconds, self.concurrency)

    def wake_after_commit(self, session: Session) -> None:
        """Look for due deliveries as soon as the caller's transaction commits."""
        self._poller.wake_after_commit(session)

    def replay(self, delivery_id: int) -> None:
        with self.sessions.begin() as session:
            replay(session, delivery_id, now=self.clock())
        self._poller.wake()

    def run_once(self) -> int:
        """Claim what is due, up to `concurrency` deliveries, and attempt each; how many were attempted."""
        claimed = self._claim(self.concurrency)
        list(self._pool.map(self._attempt, claimed))
        return len(claimed)

    def _claim(self, limit: int) -> list[int]:
        now = self.clock()
        due = [WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= now]
        return lease_due(self.sessions, WebhookDelivery, due, WebhookDelivery.next_attempt_at,
                         [WebhookDelivery.next_attempt_at, WebhookDelivery.id], limit, until=now + LEASE)

    def _attempt(self, delivery_id: int) -> None:
        attempt = self._load(delivery_id)
        if attempt is None:
            return
        try:
            status = self._post(attempt)
        except InvalidInput as error:  # the target now resolves inside: refused, and retried in case DNS changes back
            self._failed(attempt, None, f"refused: {error.reason}")
        except httpx.TimeoutException:
            self._failed(attempt, None, "timed out")
        except httpx.HTTPError as error:
            self._failed(attempt, None, f"could not send ({type(error).__name__})")
        except Exception as error:  # noqa: BLE001 - a leased delivery must end this attempt counted, never stuck
            log.exception("webhook sender: delivery %d failed unexpectedly", delivery_id)
            self._failed(attempt, None, f"error ({type(error).__name__})")
        else:
            if 200 <= status < 300:
                self._delivered(attempt, status)
            else:
                redirect = " (redirects are not followed)" if 300 <= status < 400 else ""
                self._failed(attempt, status, f"HTTP {status}{redirect}")

    def _load(self, delivery_id: int) -> _Attempt | None:
        with self.sessions.begin() as session:
            delivery = session.get(WebhookDelivery, delivery_id)
            if delivery is None or delivery.state != "pending":
                return None  # erased with its client, or replayed elsewhere
            subscription = session.get(WebhookSubscription, delivery.subscription_pk)
            if subscription is None or subscription.disabled_at is not None:
                delivery.state, delivery.last_error = "failed", "subscription disabled"
                return None
            return _Attempt(delivery.id, delivery.event_id, delivery.event_type, subscription.url, _body(delivery),
                            active_secrets(subscription, self.clock()))

    def _post(self, attempt: _Attempt) -> int:
        """POST to an address the guard has just approved, never to a fresh lookup of the name."""
        addresses = check_target(attempt.url, self.allow, resolver=self.resolver)
        url, host, sni = pin(attempt.url, addresses[0])
        headers = {"host": host, "content-type": "application/json", "user-agent": USER_AGENT,
                   **signature_headers(attempt.event_id, attempt.body, attempt.secrets, datetime.now(UTC))}
        extensions = {"sni_hostname": sni} if sni else {}
        # A client per attempt: a pooled connection to one address must not serve another host's TLS name.
        with httpx.Client(timeout=self.timeout, follow_redirects=False, trust_env=False, verify=self._tls,
                          transport=self.transport) as client:
            with client.stream("POST", url, content=attempt.body, headers=headers, extensions=extensions) as response:
                return response.status_code  # the body is never read: a receiver's answer is not ours to keep

    def _delivered(self, attempt: _Attempt, status: int) -> None:
        with self.sessions.begin() as session:
            delivery = session.get(WebhookDelivery, attempt.delivery_id)
            if delivery is None or delivery.state != "pending":
                return
            delivery.attempts += 1
            delivery.state, delivery.delivered_at = "delivered", self.clock()
            delivery.last_status_code, delivery.last_error = status, None
            attempts = delivery.attempts
        log.info("webhook sender: delivery %d (%s) delivered on attempt %d", attempt.delivery_id, attempt.event_type,
                 attempts)

    def _failed(self, attempt: _Attempt, status: int | None, reason: str) -> None:
        with self.sessions.begin() as session:
            delivery = session.get(WebhookDelivery, attempt.delivery_id)
            if delivery is None or delivery.state != "pending":
                return
            delivery.attempts += 1
            delivery.last_status_code, delivery.last_error = status, reason[:200]
            if delivery.attempts >= MAX_DELIVERY_ATTEMPTS:
                delivery.state = "failed"
            else:
                delivery.next_attempt_at = self.clock() + backoff(delivery.attempts)
            attempts = delivery.attempts
        log.warning("webhook sender: delivery %d (%s) failed: %s, attempt %d of %d", attempt.delivery_id,
                    attempt.event_type, reason, attempts, MAX_DELIVERY_ATTEMPTS)


# -- helpers -----------------------------------------------------------------------------


def _subscription(session: Session, subscription_id: int) -> WebhookSubscription:
    subscription = session.get(WebhookSubscription, subscription_id)
    if subscription is None:
        raise NotFound(f"no webhook subscription {subscription_id}")
    return subscription


def _event_types(event_types: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(event_types))
    unknown = [name for name in chosen if name not in EVENT_TYPES]
    if unknown or not chosen:
        raise InvalidInput(f"webhook event types must be some of {', '.join(EVENT_TYPES)}")
    return chosen


def _refuse_text(value: object) -> None:
    """Bodies carry ids, statuses and links: a key that could hold note text is a bug in the caller."""
    if isinstance(value, dict):
        for key, item in value.items():
            if str(key).lower() in TEXT_KEYS:
                raise ValueError(f"webhook payloads carry no text: key {key!r} refused")
            _refuse_text(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _refuse_text(item)
    elif not (value is None or isinstance(value, str | int | float | bool)):
        raise ValueError(f"webhook payloads hold JSON values only, not {type(value).__name__}")


def _new_secret() -> str:
    return "whsec_" + base64.b64encode(random.token_bytes(32)).decode("ascii")


def _secret_entry(secret: str, now: datetime) -> dict:
    return {"secret": secret, "created_at": now.isoformat(), "expires_at": None}


def _expiry(entry: dict) -> datetime | None:
    return datetime.fromisoformat(entry["expires_at"]) if entry.get("expires_at") else None
