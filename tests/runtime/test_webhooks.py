"""Signed webhooks: events queue in the transaction that caused them, a receiver on loopback
verifies every delivery with the standardwebhooks package, failures are retried with capped
backoff and then dead-lettered, targets inside the network are refused, and erasing a client
drops what was queued about them. No test waits for a real backoff: the sender's clock is a fake."""

from __future__ import annotations

import ipaddress
import json
import threading
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from casenotes.errors import InvalidInput
from casenotes.runtime import webhooks
from casenotes.runtime.url_guard import check_target, parse_allow, pin
from casenotes.runtime.webhooks import MAX_DELIVERY_ATTEMPTS, WebhookSender, backoff, record_event, subscribe
from casenotes.store.repository import Repository
from casenotes.store.tables import WebhookDelivery, utcnow

LOOPBACK = ["127.0.0.1"]
PAYLOAD = {"note_id": "n-1", "client_id": "client-1", "status": "scored", "links": {"note": "/v1/notes/n-1"}}




class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


class Receiver:
    """An HTTP endpoint on loopback answering each POST with the next of `answers` (then `default`),
    or holding it until closed when `hang` is set."""

    def __init__(self, answers=(), default: int = 200, hang: bool = False) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.answers, self.default, self.hang = list(answers), default, hang
        self.release = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                if receiver.hang:
                    receiver.release.wait(10)
                status = receiver.answers.pop(0) if receiver.answers else receiver.default
                try:
                    self.send_response(status)
                    if 300 <= status < 400:
                        self.send_header("location", "/elsewhere")
                    self.send_header("content-length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender gave up waiting

            def log_message(self, *_args):
                pass

        return Handler


@pytest.fixture
def receivers():
    made: list[Receiver] = []

    def make(*args, **kwargs) -> Receiver:
        made.append(Receiver(*args, **kwargs))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


def _subscribe(sessions, url: str, events=("note.scored",), program: str = "housing", allow=LOOPBACK):
    with sessions.begin() as session:
        subscription, secret = subscribe(session, program, url, events, allow)
        return subscription.id, secret


def _record(sessions, clock: Clock, event_type: str = "note.scored", program: str = "housing", payload=PAYLOAD):
    with sessions.begin() as session:
        client_pk = Repository(session).client("client-1").id
        return [d.id for d in record_event(session, event_type, program, payload, client_pk, now=clock())]


def _delivery(sessions, delivery_id: int) -> WebhookDelivery | None:
    with sessions() as session:
        return session.get(WebhookDelivery, delivery_id)


def _count(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(WebhookDelivery))


def _verify(secret: str, request: tuple[dict[str, str], bytes]) -> dict:
    headers, body = request
    return Webhook(secret).verify(body, headers)


def test_webhooks_retry_a_failing_receiver_and_deliver_on_the_third_attempt_with_one_webhook_id(sessions, receivers):
    receiver, clock = receivers(answers=[500, 500]), Clock()
    _, secret = _subscribe(sessions, receiver.url)
    [delivery_id] = _record(sessions, clock)
    sender = WebhookSender(sessions, allow=LOOPBACK, clock=clock)

    assert sender.run_once() == 1
    first = _delivery(sessions, delivery_id)
    assert (first.state, first.attempts, first.last_status_code, first.last_error) == ("pending", 1, 500, "HTTP 500")
    assert first.next_attempt_at == clock.now + timedelta(seconds=2)
    assert sender.run_once() == 0  # not due yet
    clock.now += timedelta(seconds=2)
    assert sender.run_once() == 1
    assert _delivery(sessions, delivery_id).next_attempt_at == clock.now + timedelta(seconds=4)
    clock.now += timedelta(seconds=4)
    assert sender.run_once() == 1
    sender.stop()

    done = _delivery(sessions, delivery_id)
    assert (done.state, done.attempts, done.last_status_code, done.last_error) == ("delivered", 3, 200, None)
    assert len(receiver.requests) == 3
    assert len({headers["webhook-id"] for headers, _ in receiver.requests}) == 1
    assert receiver.requests[0][0]["webhook-id"] == done.event_id and done.event_id.startswith("msg_")
    for request in receiver.requests:
        message = _verify(secret, request)
        assert message["type"] == "note.scored" and message["data"] == PAYLOAD


def test_webhooks_a_hanging_receiver_times_out_and_counts_as_a_failure(sessions, receivers):
    receiver, clock = receivers(hang=True), Clock()
    _subscribe(sessions, receiver.url)
    [delivery_id] = _record(sessions, clock)
    sender = WebhookSender(sessions, allow=LOOPBACK, clock=clock, timeout=0.3)
    assert sender.run_once() == 1
    sender.stop()
    delivery = _delivery(sessions, delivery_id)
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("pending", 1, None)
    assert delivery.last_error == "timed out"


def test_webhooks_a_receiver_failing_forever_backs_off_capped_then_is_dead_lettered(sessions, receivers):
    receiver, clock = receivers(default=500), Clock()
    _subscribe(sessions, receiver.url)
    [delivery_id] = _record(sessions, clock)
    sender = WebhookSender(sessions, allow=LOOPBACK, clock=clock)
    waits = []
    for _ in range(MAX_DELIVERY_ATTEMPTS):
        clock.now = _delivery(sessions, delivery_id).next_attempt_at
        assert sender.run_once() == 1
        delivery = _delivery(sessions, delivery_id)
        if delivery.state == "pending":
            waits.append(delivery.next_attempt_at - clock.now)
    clock.now += timedelta(days=1)
    assert sender.run_once() == 0
    sender.stop()

    delivery = _delivery(sessions, delivery_id)
    assert (delivery.state, delivery.attempts, delivery.last_error) == ("failed", MAX_DELIVERY_ATTEMPTS, "HTTP 500")
    assert len(receiver.requests) == MAX_DELIVERY_ATTEMPTS
    assert waits == [backoff(n) for n in range(1, MAX_DELIVERY_ATTEMPTS)]
    assert waits == sorted(waits) and max(waits) <= timedelta(hours=1)
    assert backoff(50) == backoff(500) == timedelta(hours=1)


def test_webhooks_redirects_are_not_followed(sessions, receivers):
    receiver, clock = receivers(answers=[302]), Clock()
    _subscribe(sessions, receiver.url)
    [delivery_id] = _record(sessions, clock)
    sender = WebhookSender(sessions, allow=LOOPBACK, clock=clock)
    sender.run_once()
    sender.stop()
    assert len(receiver.requests) == 1
    delivery = _delivery(sessions, delivery_id)
    assert (delivery.state, delivery.last_status_code) == ("pending", 302)
    assert "redirects are not followed" in delivery.last_error


@pytest.mark.parametrize(("url", "reason"), [
    ("http://127.0.0.1/hook", "loopback address (127.0.0.1)"),
    ("http://10.0.0.1/hook", "private address (10.0.0.1)"),
    ("http://169.254.169.254/latest/meta-data", "link-local address (169.254.169.254)"),
    ("http://[::1]:8080/hook", "loopback address (::1)"),
    ("http://[::ffff:10.0.0.5]/hook", "private address (10.0.0.5)"),
    ("http://0.0.0.0/hook", "unspecified address"),
    ("http://localhost/hook", "loopback address (127.0.0.1)"),
    ("ftp://x/hook", "must be http or https"),
    ("http://nonexistent.invalid/hook", "does not resolve"),
    ("http://user:pw@example.com/hook", "user name or password"),
])
def test_webhooks_targets_inside_the_network_are_refused(url, reason):
    with pytest.raises(InvalidInput, match="webhook URL") as refused:
        check_target(url, [])
    assert reason in str(refused.value)
    if "address (" in reason:
        assert "add it to CASENOTES_WEBHOOK_ALLOW to allow it" in str(refused.value)


@pytest.mark.parametrize("allow", ["127.0.0.1", "127.0.0.0/8", "localhost", "::1, 127.0.0.1"])
def test_webhooks_loopback_is_allowed_when_the_allow_list_names_it(allow):
    url = "http://localhost:9000/hook" if allow == "localhost" else "http://127.0.0.1:9000/hook"
    assert ipaddress.ip_address("127.0.0.1") in check_target(url, parse_allow(allow))


def test_webhooks_a_name_resolving_to_one_public_and_one_private_address_is_refused():
    def resolver(_host, _port):
        return [ipaddress.ip_address("93.184.215.14"), ipaddress.ip_address("10.0.0.5")]

    with pytest.raises(InvalidInput, match=r"private address \(10\.0\.0\.5\)"):
        check_target("https://hooks.example.org/x", [], resolver=resolver)


def test_webhooks_subscribing_refuses_an_inside_target(sessions):
    with sessions.begin() as session, pytest.raises(InvalidInput, match="loopback"):
        subscribe(session, "housing", "http://127.0.0.1:9/hook", ["note.scored"], [])
    with sessions.begin() as session, pytest.raises(InvalidInput, match="event types"):
        subscribe(session, "housing", "http://127.0.0.1:9/hook", ["note.deleted"], LOOPBACK)


def test_webhooks_the_target_is_checked_again_at_delivery_and_the_checked_address_is_the_one_used(sessions, receivers):
    receiver, clock = receivers(), Clock()
    names = {"hooks.invalid": "127.0.0.1"}  # .invalid never resolves: only the checked address can be reached

    def resolver(host, _port):
        return [ipaddress.ip_address(names[host])] if host in names else []

    url = f"http://hooks.invalid:{receiver.port}/hook"
    with sessions.begin() as session:
        subscribe(session, "housing", url, ["note.scored"], LOOPBACK, resolver=resolver)
    [delivery_id] = _record(sessions, clock)

    names["hooks.invalid"] = "10.0.0.5"  # the name moves inside after the subscription was checked
    sender = WebhookSender(sessions, allow=LOOPBACK, resolver=resolver, clock=clock)
    assert sender.run_once() == 1
    refused = _delivery(sessions, delivery_id)
    assert refused.state == "pending" and refused.last_error.startswith("refused:") and "10.0.0.5" in refused.last_error
    assert receiver.requests == []

    names["hooks.invalid"] = "127.0.0.1"
    clock.now = refused.next_attempt_at
    assert sender.run_once() == 1
    sender.stop()
    assert _delivery(sessions, delivery_id).state == "delivered"
    assert receiver.requests[0][0]["host"] == f"hooks.invalid:{receiver.port}"


def test_webhooks_an_event_in_a_rolled_back_transaction_is_never_delivered(sessions, receivers):
    _subscribe(sessions, receivers().url)
    with sessions() as session:
        assert len(record_event(session, "note.scored", "housing", PAYLOAD, now=utcnow())) == 1
        session.rollback()
    assert _count(sessions) == 0


def test_webhooks_erasing_a_client_drops_its_queued_deliveries(sessions, receivers):
    receiver, clock = receivers(), Clock()
    _subscribe(sessions, receiver.url)
    _record(sessions, clock)
    with sessions.begin() as session:
        unrelated = record_event(session, "note.scored", "housing", {"status": "scored"}, None, now=clock())
    assert _count(sessions) == 2
    with sessions.begin() as session:
        repo = Repository(session)
        repo.delete_client(repo.client("client-1"))
    assert _count(sessions) == 1
    sender = WebhookSender(sessions, allow=LOOPBACK, clock=clock)
    assert sender.run_once() == 1
    sender.stop()
    assert _delivery(sessions, unrelated[0].id).state == "delivered"
    assert "client-1" not in receiver.requests[0][1].decode()


def test_webhooks_a_payload_that_could_carry_text_is_refused(sessions):
    _subscribe(sessions, "http://127.0.0.1:9/hook")
    for payload in ({"note_id": "n-1", "text": "Cl signed a lease."}, {"flag": {"id": 3, "comment": "see note"}},
                    {"notes": [{"Note_Text": "x"}]}):
        with sessions() as session, pytest.raises(ValueError, match="no text"):
            record_event(session, "note.scored", "housing", payload)
    assert _count(sessions) == 0


def test_webhooks_a_request_goes_to_the_checked_address_with_the_names_host_and_tls_name():
    public4, public6 = ipaddress.ip_address("93.184.215.14"), ipaddress.ip_address("2606:2800:21f:cb07::1")
    assert pin("https://Hooks.Example.org:8443/in?k=1", public4) == (
        "https://93.184.215.14:8443/in?k=1", "hooks.example.org:8443", "hooks.example.org")
    assert pin("http://hooks.example.org", public6) == ("http://[2606:2800:21f:cb07::1]/", "hooks.example.org", None)
    assert pin("https://[2606:2800:21f:cb07::1]/x", public6)[1:] == ("[2606:2800:21f:cb07::1]", None)


def test_webhooks_events_reach_only_their_programs_subscriptions_to_that_type(sessions):
    _subscribe(sessions, "http://127.0.0.1:9/a", events=["note.scored", "flag.raised"])
    _subscribe(sessions, "http://127.0.0.1:9/b", events=["flag.reviewed"])
    _subscribe(sessions, "http://127.0.0.1:9/c", events=["note.scored"], program="shelter")
    with sessions.begin() as session:
        assert len(record_event(session, "note.scored", "housing", PAYLOAD)) == 1
        assert len(record_event(session, "flag.reviewed", "housing", {"flag_id": 1, "status": "confirmed"})) == 1
        assert len(record_event(session, "note.failed", "housing", {"note_id": "n-1"})) == 0
        with pytest.raises(ValueError, match="unknown webhook event type"):
            record_event(session, "note.read", "housing", PAYLOAD)


def test_webhooks_during_a_secret_rotation_old_and_new_secrets_both_verify(sessions, receivers):
    receiver, clock = receivers(), Clock()
    subscription_id, old = _subscribe(sessions, receiver.url)
    with sessions.begin() as session:
        new = webhooks.rotate_secret(session, subscription_id, now=clock())
    assert new != old and new.startswith("whsec_")
    _record(sessions, clock)
    sender = WebhookSender(sessions, allow=LOOPBACK, clock=clock)
    sender.run_once()
    assert _verify(old, receiver.requests[0])["data"] == PAYLOAD
    assert _verify(new, receiver.requests[0])["data"] == PAYLOAD

    clock.now += webhooks.SECRET_OVERLAP + timedelta(seconds=1)
    _record(sessions, clock)
    sender.run_once()
    sender.stop()
    assert _verify(new, receiver.requests[1])["data"] == PAYLOAD
    with pytest.raises(WebhookVerificationError):
        _verify(old, receiver.requests[1])


def test_webhooks_replay_sends_a_delivery_again_with_the_same_webhook_id(sessions, receivers):
    receiver, clock = receivers(), Clock()
    subscription_id, secret = _subscribe(sessions, receiver.url)
    [delivery_id] = _record(sessions, clock)
    sender = WebhookSender(sessions, allow=LOOPBACK, clock=clock)
    sender.run_once()
    sender.replay(delivery_id)
    assert _delivery(sessions, delivery_id).state == "pending"
    sender.run_once()
    sender.stop()
    assert [headers["webhook-id"] for headers, _ in receiver.requests] == [_delivery(sessions, delivery_id).event_id] * 2
    assert _delivery(sessions, delivery_id).state == "delivered"
    with sessions() as session:
        log = webhooks.deliveries(session, subscription_id=subscription_id)
    assert [d.id for d in log] == [delivery_id]
    assert json.dumps(log[0].payload) == json.dumps(PAYLOAD)


def test_webhooks_unsubscribing_stops_queued_and_future_deliveries(sessions, receivers):
    receiver, clock = receivers(), Clock()
    subscription_id, _ = _subscribe(sessions, receiver.url)
    [delivery_id] = _record(sessions, clock)
    with sessions.begin() as session:
        webhooks.unsubscribe(session, subscription_id)
    assert _record(sessions, clock) == []
    sender = WebhookSender(sessions, allow=LOOPBACK, clock=clock)
    assert sender.run_once() == 0
    sender.stop()
    assert _delivery(sessions, delivery_id).state == "failed" and receiver.requests == []


def test_webhooks_a_due_delivery_is_leased_to_one_sender_at_a_time(sessions):
    clock = Clock()
    _subscribe(sessions, "http://127.0.0.1:9/hook")
    [delivery_id] = _record(sessions, clock)
    first, second = WebhookSender(sessions, clock=clock), WebhookSender(sessions, clock=clock)
    assert first._claim(10) == [delivery_id]
    assert second._claim(10) == []
    first.stop()
    second.stop()


def test_webhooks_the_background_sender_delivers_after_the_commit(sessions, receivers):
    receiver = receivers()
    _, secret = _subscribe(sessions, receiver.url, events=["flag.raised"])
    sender = WebhookSender(sessions, allow=LOOPBACK, poll_seconds=30)
    sender.start()
    try:
        with sessions.begin() as session:
            record_event(session, "flag.raised", "housing", {"flag_id": 7, "severity": 3})
            sender.wake_after_commit(session)
        for _ in range(100):
            if receiver.requests:
                break
            threading.Event().wait(0.05)
    finally:
        sender.stop()
    assert _verify(secret, receiver.requests[0])["data"] == {"flag_id": 7, "severity": 3}
