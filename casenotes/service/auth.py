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
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from casenotes.store.credentials import Principal, principal_for, principal_for_session

__all__ = ["AUTHENTICATED_STATE", "SESSION_COOKIE", "allow", "csrf_token", "current_principal", "metrics_reader"]

SESSION_COOKIE = "casenotes_session"
# Where the request guard (limits.py) leaves the caller it looked up before reading the body.
AUTHENTICATED_STATE = "authenticated_principal"
_bearer = HTTPBearer(auto_error=False, description="A token from `casenotes token create`.")


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
