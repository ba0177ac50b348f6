"""The outermost layer of every HTTP request, a pure ASGI middleware: it names the request
(X-Request-ID), counts it in the metrics, and guards the request body.

No body is read for a caller without a credential: a POST, PUT or PATCH needs a valid bearer
token or UI session cookie before a byte of it is read (the sign-in form, the one body taken
from anyone, is held to 16 KB). Bytes are counted as they arrive, so a body is refused with
413 the moment it passes the limit, chunked or not, whatever Content-Length said; and a body
that stops arriving is answered 408 after `body_stall_seconds`. Every refusal closes the
connection, since the rest of the body is left unread.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, RedirectResponse, Response

from casenotes.service.auth import AUTHENTICATED_STATE, SESSION_COOKIE
from casenotes.store.credentials import Principal, principal_for, principal_for_session

__all__ = ["SIGN_IN_MAX_BYTES", "SIGN_IN_PATH", "RequestGuard"]

SIGN_IN_PATH = "/ui/login"
SIGN_IN_MAX_BYTES = 16 * 1024
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class BodyRefused(Exception):
    """Raised into the app when the guard has answered in its place; the app stops there."""


class RequestGuard:
    def __init__(self, app: Callable, body_limit: int, stall_seconds: float) -> None:
        self.app = app
        self.body_limit = body_limit
        self.stall_seconds = stall_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        reply = _Reply(scope, send, _request_id(scope))
        scope.setdefault("state", {})["request_id"] = reply.request_id
        started = time.perf_counter()
        try:
            await self._guarded(scope, receive, reply)
        except Exception:
            if not reply.refused:  # after a refusal, whatever the app raised is the refusal's echo
                raise
        finally:
            _observe(scope, reply.status or 500, time.perf_counter() - started)

    async def _guarded(self, scope: Scope, receive: Receive, reply: _Reply) -> None:
        signing_in = scope["path"] == SIGN_IN_PATH
        limit = SIGN_IN_MAX_BYTES if signing_in else self.body_limit
        declared = HTTPConnection(scope).headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await reply.refuse(_too_large(limit))
            return
        if scope["method"] in _BODY_METHODS and not signing_in and not await _has_credential(scope):
            await reply.refuse(_sign_in_required(scope))
            return
        body = _MeteredBody(receive, reply, limit, self.stall_seconds)
        await self.app(scope, body.receive, reply.send)


class _Reply:
    """The app's `send`: adds X-Request-ID, notes the status, and goes quiet once the guard
    has answered in the app's place."""

    def __init__(self, scope: Scope, send: Send, request_id: str) -> None:
        self.scope = scope
        self._send = send
        self.request_id = request_id
        self.status: int | None = None
        self.refused = False

    async def send(self, message: Message) -> None:
        if self.refused:
            return
        if message["type"] == "http.response.start":
            self.status = message["status"]
            MutableHeaders(scope=message)["X-Request-ID"] = self.request_id
        await self._send(message)

    async def refuse(self, response: Response) -> None:
        """Answer with `response` unless the app has begun answering, and close the connection
        (the client may still be sending a body nobody will read)."""
        if self.status is None:
            response.headers["Connection"] = "close"
            await response(self.scope, _no_body, self.send)
        self.refused = True


class _MeteredBody:
    """The request's `receive`, counting body bytes as they arrive and refusing the request
    as soon as they pass the limit or stop coming."""

    def __init__(self, receive: Receive, reply: _Reply, limit: int, stall_seconds: float) -> None:
        self._receive = receive
        self.reply = reply
        self.limit = limit
        self.stall_seconds = stall_seconds
        self.received = 0
        self.complete = False

    async def receive(self) -> Message:
        if self.reply.refused:
            raise BodyRefused
        if self.complete:  # the body is in; what is left to wait for is the client leaving
            return await self._receive()
        message = None
        with anyio.move_on_after(self.stall_seconds):
            message = await self._receive()
        if message is None:
            await self.reply.refuse(_error(408, f"no more of the request body came within {self.stall_seconds:g} s"))
            raise BodyRefused
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit:
                await self.reply.refuse(_too_large(self.limit))
                raise BodyRefused
            self.complete = not message.get("more_body", False)
        return message


async def _has_credential(scope: Scope) -> bool:
    """Whether the request carries a valid token, as a bearer token or (for the UI) the session
    cookie, the same two places `auth.current_principal` looks. The caller found is kept in the
    request's state, so the route does not look the credential up a second time."""
    connection = HTTPConnection(scope)
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    bearer = scheme.lower() == "bearer" and bool(token)
    if not bearer:
        token = connection.cookies.get(SESSION_COOKIE, "")
    if not token:
        return False
    sessions = connection.app.state.services.sessions

    def lookup() -> Principal | None:
        with sessions() as session:
            resolve = principal_for if bearer else principal_for_session
            return resolve(session, token)

    principal = await anyio.to_thread.run_sync(lookup)  # a database call: kept off the event loop
    scope.setdefault("state", {})[AUTHENTICATED_STATE] = principal
    return principal is not None


def _sign_in_required(scope: Scope) -> Response:
    """The answer the API or the review pages give a caller without a credential."""
    if scope["path"] == "/ui" or scope["path"].startswith("/ui/"):
        if "application/json" not in HTTPConnection(scope).headers.get("accept", ""):
            return RedirectResponse("/ui/login", status_code=303)
        return _error(401, "Your session has ended. Sign in again.")
    response = _error(401, "a valid bearer token is required")
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


def _too_large(limit: int) -> Response:
    return _error(413, f"request body over {limit} bytes")


def _error(status: int, reason: str) -> Response:
    return JSONResponse(status_code=status, content={"detail": reason})


def _request_id(scope: Scope) -> str:
    offered = HTTPConnection(scope).headers.get("x-request-id", "")
    return offered if _REQUEST_ID.match(offered) else uuid.uuid4().hex


def _observe(scope: Scope, status: int, seconds: float) -> None:
    services = getattr(scope["app"].state, "services", None)
    if services is not None:
        route = getattr(scope.get("route"), "path", "unmatched")
        services.metrics.observe(scope["method"], route, status, seconds)


async def _no_body() -> Message:
    return {"type": "http.disconnect"}
