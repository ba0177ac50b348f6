"""Bearer tokens and roles. Tokens are random, shown once, and stored only as SHA-256 digests.

Roles: `ingest` writes clients, plans and notes and reads what it ingested; `supervisor`
works the flag queue; `analyst` reads results, reviews them and searches; `admin` does
everything, the audit log and erasure included. A token may be scoped to one program.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated, Callable

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from casenotes.errors import InvalidInput
from casenotes.store.tables import ApiToken

__all__ = ["ROLES", "SESSION_COOKIE", "Principal", "allow", "create_token", "csrf_token", "current_principal"]

ROLES = ("ingest", "supervisor", "analyst", "admin")
SESSION_COOKIE = "casenotes_session"
_TOKEN_PREFIX = "cn_"
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


def csrf_token(session_token: str) -> str:
    """The CSRF token of a UI session: an HMAC keyed by the session token, so only whoever can
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


def current_principal(request: Request,
                      credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
    """The caller, from the bearer token or (for the UI) the session cookie; 401 otherwise."""
    token = credentials.credentials if credentials else request.cookies.get(SESSION_COOKIE)
    with request.app.state.services.sessions() as session:
        principal = principal_for(session, token)
    if principal is None:
        raise HTTPException(401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    if not credentials and not _cookie_write_allowed(request, token):
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
