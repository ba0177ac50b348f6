"""Bearer tokens and roles. Tokens are random, shown once, and stored only as SHA-256 digests.

Roles: `ingest` writes clients, plans and notes and reads what it ingested; `supervisor`
works the flag queue; `analyst` reads results, reviews them and searches; `admin` does
everything, the audit log and erasure included. A token may be scoped to one program.

The review UI signs in with a token once and then holds only a session: a random id in an
HTTP-only cookie, stored as its SHA-256 with an expiry. Signing out revokes the session;
revoking the token ends every session made with it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Callable

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from casenotes.errors import InvalidInput
from casenotes.store.tables import ApiToken, UiSession, utcnow

__all__ = ["AUTHENTICATED_STATE", "ROLES", "SESSION_COOKIE", "Principal", "allow", "create_token", "csrf_token", "current_principal",
           "end_ui_session", "metrics_reader", "start_ui_session"]

ROLES = ("ingest", "supervisor", "analyst", "admin")
SESSION_COOKIE = "casenotes_session"
# Where the request guard (limits.py) leaves the caller it looked up before reading the body.
AUTHENTICATED_STATE = "authenticated_principal"
_TOKEN_PREFIX = "cn_"
_SESSION_PREFIX = "cns_"
_bearer = HTTPBearer(auto_error=False, description="A token from `casenotes token create`.")


@dataclass(frozen=True)
class Principal:
    token_pk: int
    name: str
    role: str
    program: str | None

    @property
    def actor(self) -> str:
        return f"{self.name}#{self.token_pk}"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(session: Session, role: str, program: str | None = None, name: str | None = None) -> str:
    """A new token for `role` (and only `program`, if given); the caller shows it once."""
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    token = _TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(name=name or role, token_sha256=token_digest(token), role=role, program=program))
    session.flush()
    return token


def start_ui_session(session: Session, principal: Principal, hours: float) -> str:
    """A new review-UI session for `principal`, lasting `hours`: the id for the cookie (only its
    digest is stored). Sessions that have expired are cleared out on the way."""
    now = utcnow()
    session.execute(delete(UiSession).where(UiSession.expires_at <= now))
    session_id = _SESSION_PREFIX + secrets.token_urlsafe(32)
    session.add(UiSession(id=token_digest(session_id), token_pk=principal.token_pk, created_at=now,
                          expires_at=now + timedelta(hours=hours)))
    session.flush()
    return session_id


def end_ui_session(session: Session, session_id: str) -> None:
    """Sign out: the session stops working at once, whatever its cookie's remaining life."""
    session.execute(update(UiSession).where(UiSession.id == token_digest(session_id),
                                            UiSession.revoked_at.is_(None)).values(revoked_at=utcnow()))


def csrf_token(session_token: str) -> str:
    """The CSRF token of a UI session: an HMAC keyed by the session id, so only whoever can
    read this site's pages knows it, and it changes with every sign-in."""
    return hmac.new(session_token.encode("utf-8"), b"casenotes-ui-csrf", hashlib.sha256).hexdigest()


def _cookie_write_allowed(request: Request, token: str) -> bool:
    """An API write riding on the session cookie must carry the page's CSRF token (the UI's own
    form routes check the token in their form fields themselves)."""
    if request.method in ("GET", "HEAD", "OPTIONS") or not request.url.path.startswith("/v1/"):
        return True
    offered = request.headers.get("x-csrf-token", "")
    return hmac.compare_digest(offered.encode(), csrf_token(token).encode())


def principal_for(session: Session, token: str | None) -> Principal | None:
    if not token or not token.startswith(_TOKEN_PREFIX) or len(token) > 200:
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == token_digest(token),
                                                ApiToken.revoked.is_(False)))
    return Principal(row.id, row.name, row.role, row.program) if row else None


def principal_for_session(session: Session, session_id: str | None) -> Principal | None:
    """The principal of a live UI session: neither signed out, expired, nor made with a revoked token."""
    if not session_id or not session_id.startswith(_SESSION_PREFIX) or len(session_id) > 200:
        return None
    row = session.scalar(select(ApiToken).join(UiSession, UiSession.token_pk == ApiToken.id)
                         .where(UiSession.id == token_digest(session_id), UiSession.revoked_at.is_(None),
                                UiSession.expires_at > utcnow(), ApiToken.revoked.is_(False)))
    return Principal(row.id, row.name, row.role, row.program) if row else None


def current_principal(request: Request,
                      credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
    """The caller, from the bearer token or (for the UI) the session cookie; 401 otherwise."""
    session_id = None if credentials else request.cookies.get(SESSION_COOKIE)
    principal = getattr(request.state, AUTHENTICATED_STATE, None)  # the request guard's lookup, if it made one
    if principal is None:
        with request.app.state.services.sessions() as session:
            if credentials:
                principal = principal_for(session, credentials.credentials)
            else:
                principal = principal_for_session(session, session_id)
    if principal is None:
        raise HTTPException(401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    if not credentials and not _cookie_write_allowed(request, session_id):
        raise HTTPException(403, "a write with the session cookie needs the page's X-CSRF-Token header")
    retry_after = request.app.state.services.rate_limiter.admit(str(principal.token_pk))
    if retry_after is not None:
        raise HTTPException(429, "too many requests for this token; slow down",
                            headers={"Retry-After": str(retry_after)})
    request.state.principal = principal
    return principal


def allow(*roles: str) -> Callable[..., Principal]:
    """A dependency admitting `roles` (and admin); 403 for any other role."""
    def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role != "admin" and principal.role not in roles:
            raise HTTPException(403, f"the {principal.role} role may not do this")
        return principal
    return dependency


def metrics_reader(request: Request,
                   credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
    """Who may read /metrics: the scraper with `CASENOTES_METRICS_TOKEN`, or an admin."""
    expected = request.app.state.services.settings.metrics_token
    if credentials and expected is not None and hmac.compare_digest(
            credentials.credentials.encode(), expected.get_secret_value().encode()):
        return
    if current_principal(request, credentials).role != "admin":
        raise HTTPException(403, "only the metrics token or an admin token may read /metrics")
