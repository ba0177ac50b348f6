"""Sign-in, sessions, CSRF and the page plumbing every UI route shares."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from casenotes.errors import InvalidInput, NotFound
from casenotes.schema import confidence_percent
from casenotes.service.auth import SESSION_COOKIE, csrf_token, current_principal
from casenotes.service.schemas import ID_PATTERN
from casenotes.store.credentials import Principal
from casenotes.store.repository import Repository

__all__ = [
    "CURSOR_PATTERN", "CsrfRefused", "ID_RE", "PALETTE", "READER_ROLES", "STATIC_DIR",
    "SignInRequired", "TEMPLATES", "UiRoute", "checked_post", "render_page", "repository_for",
    "require_role", "same_site", "signed_in", "wants_json",
]

_SERVICE_DIR = Path(__file__).parent.parent  # templates/ and static/ live beside the routes
TEMPLATES = Jinja2Templates(directory=str(_SERVICE_DIR / "templates"))
STATIC_DIR = _SERVICE_DIR / "static"
PALETTE = 12                      # highlight colours; results beyond this reuse them in turn
ID_RE = re.compile(ID_PATTERN)
CURSOR_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,200}$")
READER_ROLES = ("supervisor", "analyst")
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _asset_version() -> str:
    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.glob("*")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


TEMPLATES.env.globals["asset_version"] = _asset_version()
TEMPLATES.env.filters["percent"] = confidence_percent  # the percent the confidence band is judged on


# -- sign-in, CSRF and error pages ---------------------------------------------------------

class SignInRequired(Exception):
    """No valid session cookie."""


class CsrfRefused(Exception):
    """A state-changing request without this site's CSRF token, or from another site."""


def same_site(request: Request) -> bool:
    """False when the browser says the request came from another site."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is not None:
        return urlsplit(origin).netloc == request.headers.get("host", "")
    return True  # neither header (not a browser): the CSRF token still has to match


def _session(request: Request) -> tuple[Principal, str]:
    """The signed-in principal and their token, by the API's own `current_principal` (so the
    same token checks and rate limit apply), from the session cookie only."""
    try:
        principal = current_principal(request, None)
    except HTTPException as exc:
        if exc.status_code == 401:
            raise SignInRequired from None
        raise
    if principal.role == "ingest":
        raise SignInRequired
    token = request.cookies[SESSION_COOKIE]
    request.state.csrf = csrf_token(token)
    return principal, token


def signed_in(request: Request) -> Principal:
    return _session(request)[0]


async def checked_post(request: Request) -> tuple[Principal, dict[str, str]]:
    """The principal and form fields of a state-changing request, after the CSRF checks."""
    principal, token = _session(request)
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    offered = request.headers.get("x-csrf-token") or fields.get("csrf_token", "")
    if not same_site(request) or not hmac.compare_digest(offered.encode(), csrf_token(token).encode()):
        raise CsrfRefused
    return principal, fields


@contextmanager
def repository_for(request: Request) -> Iterator[Repository]:
    """A repository on one session, closed after the page is built; what is not committed is rolled back."""
    session = request.app.state.services.sessions()
    try:
        yield Repository(session)
    finally:
        session.close()


def require_role(principal: Principal, *roles: str) -> None:
    if principal.role != "admin" and principal.role not in roles:
        raise HTTPException(403, f"The {principal.role} role cannot use this page.")


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


class UiRoute(APIRoute):
    """Turns the API's refusals into pages: no session goes to sign-in, an object outside the
    token's program is the same not-found page as an unknown one, and every page gets the
    security headers."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                response = await handler(request)
            except SignInRequired:
                if wants_json(request):
                    response = JSONResponse({"detail": "Your session has ended. Sign in again."}, 401)
                else:
                    response = RedirectResponse("/ui/login", status_code=303)
            except CsrfRefused:
                response = _problem(request, 403, "Refused", "This form was not sent from a page of this site, "
                                    "or the page is out of date. Reload the page and try again.")
            except NotFound as exc:
                response = _problem(request, 404, "Not found", exc.reason)
            except InvalidInput as exc:
                response = _problem(request, 400, "Not accepted", exc.reason)
            except RequestValidationError:
                response = _problem(request, 400, "Not accepted", "Some of the values sent are not valid.")
            except ValidationError as exc:  # a review form that does not make a valid review
                reason = exc.errors()[0].get("msg", "not valid") if exc.errors() else "not valid"
                response = _problem(request, 400, "Not accepted", reason.removeprefix("Value error, "))
            except HTTPException as exc:
                title = {403: "Not allowed", 404: "Not found", 429: "Too many requests"}.get(exc.status_code,
                                                                                              "Not accepted")
                response = _problem(request, exc.status_code, title, str(exc.detail))
                response.headers.update({k: v for k, v in (exc.headers or {}).items() if k.lower() == "retry-after"})
            response.headers.update(_SECURITY_HEADERS)
            return response

        return route


def _problem(request: Request, status: int, title: str, message: str) -> Response:
    if wants_json(request):
        return JSONResponse({"detail": message}, status)
    return render_page(request, "error.html", {"title": title, "message": message, "status": status}, status)


def render_page(request: Request, template: str, context: dict[str, Any], status: int = 200) -> Response:
    principal = getattr(request.state, "principal", None)
    base = {"user": principal, "csrf": getattr(request.state, "csrf", ""),
            "can_review_flags": bool(principal and principal.role in ("supervisor", "admin")),
            "can_review_results": bool(principal and principal.role in ("analyst", "admin")),
            "can_search": bool(principal and principal.role in ("analyst", "admin"))}
    return TEMPLATES.TemplateResponse(request, template, {**base, **context}, status_code=status)


