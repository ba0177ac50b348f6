"""The review UI under /ui: server-rendered pages over the same calls, access rules and
audit rows as the JSON API.

Every page that shows a client's notes or results calls the API's own route function
(`get_record`, `get_note`, `flag_queue`, `search`, the two reviews), so the UI cannot
see more than the API would show the same token, and it leaves the same audit rows.

Sign-in checks the token once and puts a new session's random id (never the token) in an
HTTP-only, SameSite=strict cookie (the API reads the same cookie); sign-out revokes the
session. State-changing requests (every POST but sign-in) carry a CSRF token,
an HMAC of the session id that only pages of this site can read, and are refused
when the browser says they came from another site (`Sec-Fetch-Site`, else `Origin`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from pydantic import ValidationError
from sqlalchemy import func, select

from casenotes.errors import InvalidInput, NotFound
from casenotes.schema import DOMAINS, FLAG_TYPES, STATUSES, confidence_percent
from casenotes.store.repository import Repository
from casenotes.store.tables import Client, Note, NoteRevision
from casenotes.service.auth import (
    SESSION_COOKIE, Principal, csrf_token, current_principal, end_ui_session, principal_for, start_ui_session,
)
from casenotes.service.schemas import ID_PATTERN, FlagReviewIn, ResultReviewIn

__all__ = ["mount_ui", "router"]

HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=str(HERE / "templates"))
STATIC_DIR = HERE / "static"
PALETTE = 12                      # highlight colours; results beyond this reuse them in turn
_ID = re.compile(ID_PATTERN)
_CURSOR = re.compile(r"^[A-Za-z0-9_-]{1,200}$")
_READERS = ("supervisor", "analyst")
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


def _same_site(request: Request) -> bool:
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


def _signed_in(request: Request) -> Principal:
    return _session(request)[0]


async def _checked_post(request: Request) -> tuple[Principal, dict[str, str]]:
    """The principal and form fields of a state-changing request, after the CSRF checks."""
    principal, token = _session(request)
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    offered = request.headers.get("x-csrf-token") or fields.get("csrf_token", "")
    if not _same_site(request) or not hmac.compare_digest(offered.encode(), csrf_token(token).encode()):
        raise CsrfRefused
    return principal, fields


@contextmanager
def _repository(request: Request) -> Iterator[Repository]:
    """A repository on one session, closed after the page is built; what is not committed is rolled back."""
    session = request.app.state.services.sessions()
    try:
        yield Repository(session)
    finally:
        session.close()


def _require(principal: Principal, *roles: str) -> None:
    if principal.role != "admin" and principal.role not in roles:
        raise HTTPException(403, f"The {principal.role} role cannot use this page.")


def _wants_json(request: Request) -> bool:
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
                if _wants_json(request):
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
    if _wants_json(request):
        return JSONResponse({"detail": message}, status)
    return _page(request, "error.html", {"title": title, "message": message, "status": status}, status)


def _page(request: Request, template: str, context: dict[str, Any], status: int = 200) -> Response:
    principal = getattr(request.state, "principal", None)
    base = {"user": principal, "csrf": getattr(request.state, "csrf", ""),
            "can_review_flags": bool(principal and principal.role in ("supervisor", "admin")),
            "can_review_results": bool(principal and principal.role in ("analyst", "admin")),
            "can_search": bool(principal and principal.role in ("analyst", "admin"))}
    return TEMPLATES.TemplateResponse(request, template, {**base, **context}, status_code=status)


router = APIRouter(prefix="/ui", include_in_schema=False, route_class=UiRoute)


def mount_ui(app) -> None:  # noqa: ANN001
    """The pages and their static files (CSS, JS); called by `create_app`."""
    app.mount("/ui/static", StaticFiles(directory=str(STATIC_DIR)), name="ui-static")
    app.include_router(router)


# -- sign-in ---------------------------------------------------------------------------------

@router.get("")
@router.get("/")
def home(request: Request) -> Response:
    _signed_in(request)
    return RedirectResponse("/ui/flags", status_code=303)


@router.get("/login")
def login_page(request: Request) -> Response:
    try:
        _signed_in(request)
        return RedirectResponse("/ui/flags", status_code=303)
    except SignInRequired:
        return _page(request, "login.html", {"error": None})


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    token = form.get("token")
    token = token.strip() if isinstance(token, str) else ""
    if not _same_site(request):
        return _page(request, "login.html", {"error": "Sign in from this site's own sign-in page."}, 403)
    services = request.app.state.services
    with services.sessions() as session:
        principal = principal_for(session, token)
    if principal is None:
        return _page(request, "login.html", {"error": "That token is not valid. Check it and try again."}, 401)
    if principal.role == "ingest":
        return _page(request, "login.html", {"error": "Ingest tokens write notes through the API; the review "
                                                      "pages are for supervisors, analysts and admins."}, 403)
    with services.sessions.begin() as session:
        session_id = start_ui_session(session, principal, services.settings.ui_session_hours)
    response = RedirectResponse("/ui/flags", status_code=303)
    response.set_cookie(SESSION_COOKIE, session_id, max_age=int(services.settings.ui_session_hours * 3600),
                        path="/", httponly=True, samesite="strict", secure=services.settings.secure_cookies)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    await _checked_post(request)
    with request.app.state.services.sessions.begin() as session:
        end_ui_session(session, request.cookies[SESSION_COOKIE])
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict",
                           secure=request.app.state.services.settings.secure_cookies)
    return response


# -- the flag queue --------------------------------------------------------------------------

@router.get("/flags")
def queue_page(request: Request, status: str = "open", type: str = "", program: str = "",  # noqa: A002
               cursor: str = "") -> Response:
    from casenotes.service.routes_review import flag_queue

    principal = _signed_in(request)
    _require(principal, *_READERS)
    status = status if status in ("open", "confirmed", "dismissed", "any") else "open"
    flag_type = type if type in FLAG_TYPES else None
    program = program.strip()[:100] or None
    cursor = cursor if _CURSOR.match(cursor) else None
    with _repository(request) as repo:
        programs = _programs(repo, principal)
        page = flag_queue(principal, repo, request, status=status, type=flag_type, program=program, limit=50,
                          cursor=cursor)
    filters = {"status": status, "type": flag_type or "", "program": program or ""}
    next_url = None
    if page.next_cursor:
        next_url = "/ui/flags?" + urlencode({**{k: v for k, v in filters.items() if v}, "cursor": page.next_cursor})
    rubric = request.app.state.services.pipeline.rubric
    return _page(request, "queue.html", {
        "nav": "flags", "flags": page.flags, "filters": filters, "programs": programs, "flag_types": FLAG_TYPES,
        "flag_titles": {t: rubric.flag(t).title for t in FLAG_TYPES}, "next_url": next_url, "paged": bool(cursor),
        "back": str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
    })


@router.post("/flags/{flag_id}/review")
async def review_flag(request: Request, flag_id: int) -> Response:
    from casenotes.service.routes_review import review_flag as api_review_flag

    principal, fields = await _checked_post(request)
    _require(principal, "supervisor")
    if not 1 <= flag_id <= 2**62:
        raise NotFound(f"no flag {flag_id}")
    comment = fields.get("comment", "").strip() or None
    body = FlagReviewIn.model_validate({"decision": fields.get("decision"), "comment": comment})
    with _repository(request) as repo:
        result = api_review_flag(flag_id, body, principal, repo, request)
    if _wants_json(request):
        return JSONResponse({"flag_id": result.flag_id, "status": result.status, "comment": result.comment,
                             "reviewer": result.reviewer})
    return RedirectResponse(_back(fields.get("back")), status_code=303)


# -- the client record -----------------------------------------------------------------------

@router.get("/clients")
def clients_page(request: Request) -> Response:

    principal = _signed_in(request)
    _require(principal, *_READERS)
    query = (select(Client.client_id, Client.program, func.count(Note.id), func.max(Note.note_date))
             .outerjoin(Note, Note.client_pk == Client.id).group_by(Client.id).order_by(Client.program,
                                                                                         Client.client_id))
    if principal.program is not None:
        query = query.where(Client.program == principal.program)
    with _repository(request) as repo:
        rows = [{"client_id": c, "program": p, "notes": n, "latest": d} for c, p, n, d in repo.session.execute(query)]
    return _page(request, "clients.html", {"nav": "clients", "clients": rows})


@router.get("/clients/{client_id}")
def record_page(request: Request, client_id: str) -> Response:
    from casenotes.service.routes_records import get_record

    principal = _signed_in(request)
    _require(principal, *_READERS)
    if not _ID.match(client_id):
        raise NotFound(f"no client {client_id!r}")
    with _repository(request) as repo:
        record = get_record(client_id, principal, repo, request)
    rubric = request.app.state.services.pipeline.rubric
    dates = [n.note_date for n in record.notes]
    charts = [timeline_chart(goal, dates) for goal in record.goals]
    domains = [{"domain": d, "title": rubric.domain(d.domain).title,
                "baseline_label": _level_label(rubric, d.domain, d.baseline.level),
                "latest_label": _level_label(rubric, d.domain, d.latest.level),
                "change": d.latest.level - d.baseline.level} for d in record.domains]
    return _page(request, "record.html", {
        "nav": "clients", "record": record, "charts": charts, "domains": domains,
        "flag_titles": {t: rubric.flag(t).title for t in FLAG_TYPES}, "statuses": STATUS_STYLE,
        "domain_titles": {d: rubric.domain(d).title for d in DOMAINS},
    })


# -- the note view ---------------------------------------------------------------------------

@router.get("/notes/{note_id}")
def note_page(request: Request, note_id: str) -> Response:
    from casenotes.service.routes_records import get_note

    principal = _signed_in(request)
    _require(principal, *_READERS)
    if not _ID.match(note_id):
        raise NotFound(f"no note {note_id!r}")
    with _repository(request) as repo:
        note = get_note(note_id, principal, repo, request)
        goal_texts = _goal_texts(repo, note_id)
    rubric = request.app.state.services.pipeline.rubric
    items = note_items(note, goal_texts, rubric)
    return _page(request, "note.html", {
        "nav": "clients", "note": note, "items": items, "text_html": highlighted_text(note.text, items),
        "statuses": STATUSES, "levels": [(lv.level, lv.label) for lv in rubric.domains[0].levels],
    })


@router.post("/results/{result_id}/review")
async def review_result(request: Request, result_id: int) -> Response:
    from casenotes.service.routes_review import review_result as api_review_result

    principal, fields = await _checked_post(request)
    _require(principal, "analyst")
    if not 1 <= result_id <= 2**62:
        raise NotFound(f"no result {result_id}")
    decision = fields.get("decision")
    status = fields.get("status") or None
    level = fields.get("level") or None
    body = ResultReviewIn.model_validate({
        "decision": decision, "comment": fields.get("comment", "").strip() or None,
        "status": status if decision == "corrected" else None,
        "level": int(level) if decision == "corrected" and level and level.isdigit() else None})
    with _repository(request) as repo:
        review = api_review_result(result_id, body, principal, repo, request)
    if _wants_json(request):
        return JSONResponse(review.model_dump(mode="json"))
    return RedirectResponse(_back(fields.get("back")), status_code=303)


# -- search ----------------------------------------------------------------------------------

@router.get("/search")
def search_page(request: Request) -> Response:
    principal = _signed_in(request)
    _require(principal, "analyst")
    return _page(request, "search.html", {"nav": "search", "query": "", "client_id": "", "hits": None})


@router.post("/search")
async def search_results(request: Request) -> Response:
    """POST, so the query (which may name a client's circumstances) stays out of URLs and logs."""
    from casenotes.service.routes_review import search

    principal, fields = await _checked_post(request)
    _require(principal, "analyst")
    query = fields.get("q", "").strip()
    client_id = fields.get("client_id", "").strip()
    context = {"nav": "search", "query": query, "client_id": client_id, "hits": None, "error": None}
    if not query or len(query) > 1000 or "\x00" in query:
        context["error"] = "Type what to look for (up to 1000 characters)."
        return _page(request, "search.html", context, 400)
    if client_id and not _ID.match(client_id):
        raise NotFound(f"no client {client_id!r}")
    services = request.app.state.services
    with _repository(request) as repo:
        found = search(principal, repo, services, request, q=query, client_id=client_id or None, k=10)
        texts = _current_texts(repo, [h.note_id for h in found.hits])
    context["hits"] = [{"hit": h, **_in_context(texts[h.note_id], h.citation.start, h.citation.end)}
                       for h in found.hits if h.note_id in texts]
    return _page(request, "search.html", context)


@router.get("/{path:path}")
def unknown_page(request: Request, path: str) -> Response:
    _signed_in(request)
    raise HTTPException(404, "There is no such page.")


# -- page data -------------------------------------------------------------------------------

def _programs(repo: Repository, principal: Principal) -> list[str]:
    if principal.program is not None:
        return [principal.program]
    return list(repo.session.scalars(select(Client.program).distinct().order_by(Client.program)))


def _back(value: str | None) -> str:
    """Where a form without JavaScript returns to: a page of this UI, never another site."""
    if value and value.startswith("/ui/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/ui/flags"


def _goal_texts(repo: Repository, note_id: str) -> dict[str, str]:
    """Goal texts of the plan the note's current revision was scored against."""
    revision = repo.current_revision(repo.note(note_id))
    plan = repo.plan_by_pk(revision.plan_pk) if revision else None
    return {g.goal_id: g.text for g in plan.goals} if plan else {}


def _current_texts(repo: Repository, note_ids: list[str]) -> dict[str, str]:
    if not note_ids:
        return {}
    rows = repo.session.execute(
        select(Note.note_id, NoteRevision.text).join(NoteRevision, (NoteRevision.note_pk == Note.id)
                                                     & (NoteRevision.revision == Note.current_revision))
        .where(Note.note_id.in_(set(note_ids))))
    return dict(rows.all())


def _in_context(text: str, start: int, end: int, reach: int = 160) -> dict[str, str]:
    """The cited passage with up to `reach` characters either side, cut at a word boundary."""
    left = max(0, start - reach)
    if left > 0:
        space = text.find(" ", left, start)
        left = space + 1 if space != -1 else left
    right = min(len(text), end + reach)
    if right < len(text):
        space = text.rfind(" ", end, right)
        right = space if space != -1 else right
    return {"before": ("…" if left > 0 else "") + text[left:start], "cited": text[start:end],
            "after": text[end:right] + ("…" if right < len(text) else "")}


def _level_label(rubric, domain: str, level: int) -> str:  # noqa: ANN001
    return next((d.label for d in rubric.domain(domain).levels if d.level == level), "")


def _level_descriptor(rubric, domain: str, level: int) -> str:  # noqa: ANN001
    return next((d.descriptor for d in rubric.domain(domain).levels if d.level == level), "")


@dataclass
class Item:
    """One result of a note as the note view shows it: a goal, a domain or a flag."""

    key: str                      # "goal-12", "domain-15", "flag-3": the id the highlighted spans carry
    kind: str
    id: int
    title: str
    subtitle: str
    citations: list               # CitationOut
    colour: int | None            # palette index; None when nothing is cited
    result: Any
    value: str = ""               # status, level or flag state, as shown
    reviewed_value: str | None = None
    cite_keys: list[str] = field(default_factory=list)


def note_items(note, goal_texts: dict[str, str], rubric) -> list[Item]:  # noqa: ANN001
    items: list[Item] = []
    for g in note.goals:
        items.append(Item(f"goal-{g.result_id}", "goal", g.result_id, f"Goal {g.goal_id}",
                          goal_texts.get(g.goal_id, ""), g.citations, None, g, g.status,
                          g.review.status if g.review and g.review.decision == "corrected" else None))
    for d in note.domains:
        label = _level_label(rubric, d.domain, d.level)
        reviewed = None
        if d.review and d.review.decision == "corrected" and d.review.level:
            reviewed = f"{d.review.level} · {_level_label(rubric, d.domain, d.review.level)}"
        items.append(Item(f"domain-{d.result_id}", "domain", d.result_id, rubric.domain(d.domain).title,
                          _level_descriptor(rubric, d.domain, d.level), d.citations, None, d,
                          f"{d.level} · {label}", reviewed))
    for f in note.flags:
        items.append(Item(f"flag-{f.flag_id}", "flag", f.flag_id, f"Flag: {rubric.flag(f.type).title}",
                          f"Severity {f.severity}", f.citations, None, f, f.status))
    colour = 0
    for item in items:
        item.cite_keys = [f"{item.key}-{i}" for i in range(len(item.citations))]
        if item.citations:
            item.colour = colour % PALETTE
            colour += 1
    return items


def highlighted_text(text: str, items: list[Item]) -> Markup:
    """The note split into runs at every citation boundary; each cited run is a span naming the
    results (`data-results`) and citations (`data-cites`) that cover it, filled in the colour of
    the first of them and underlined in the second's where results overlap. Offsets are exact:
    the spans of a citation join to text[start:end]."""
    cites = [(c.start, c.end, item, f"{item.key}-{i}") for item in items for i, c in enumerate(item.citations)
             if 0 <= c.start < c.end <= len(text)]
    bounds = sorted({0, len(text), *(s for s, _, _, _ in cites), *(e for _, e, _, _ in cites)})
    parts = []
    for a, b in zip(bounds, bounds[1:]):
        covering = [(item, key) for s, e, item, key in cites if s <= a and b <= e]
        chunk = _escape_text(text[a:b])
        if not covering:
            parts.append(chunk)
            continue
        results = list(dict.fromkeys(item.key for item, _ in covering))
        colours = list(dict.fromkeys(item.colour for item, _ in covering))
        classes = f"hl c{colours[0]}" + (f" multi u{colours[1]}" if len(colours) > 1 else "")
        parts.append(f'<span class="{classes}" data-results="{" ".join(results)}" '
                     f'data-cites="{" ".join(key for _, key in covering)}">{chunk}</span>')
    return Markup("".join(parts))


def _escape_text(text: str) -> str:
    # A raw carriage return would be folded into the newline by the HTML parser; a character
    # reference keeps it, so the DOM text is the note text exactly.
    return str(escape(text)).replace("\r", "&#13;")


# -- the goal timeline chart -----------------------------------------------------------------

STATUS_STYLE = {
    "improving": {"label": "Improving", "shape": "up", "colour": "#1a7f37"},
    "achieved": {"label": "Achieved", "shape": "star", "colour": "#1d4ed8"},
    "no-change": {"label": "No change", "shape": "square", "colour": "#6b7280"},
    "worsening": {"label": "Worsening", "shape": "down", "colour": "#c2410c"},
    "not-addressed": {"label": "Not addressed", "shape": "ring", "colour": "#9ca3af"},
}
_W, _H = 400, 180
_LEFT, _RIGHT, _TOP, _BOTTOM, _PAD = 34, 8, 12, 30, 12


def marker_svg(status: str, x: float, y: float, size: float = 6.5) -> str:
    style = STATUS_STYLE.get(status, STATUS_STYLE["no-change"])
    colour, shape, s = style["colour"], style["shape"], size
    if shape == "up":
        return f'<path d="M{x:.1f},{y - s:.1f} L{x + s:.1f},{y + s * .8:.1f} L{x - s:.1f},{y + s * .8:.1f} Z" fill="{colour}"/>'
    if shape == "down":
        return f'<path d="M{x:.1f},{y + s:.1f} L{x + s:.1f},{y - s * .8:.1f} L{x - s:.1f},{y - s * .8:.1f} Z" fill="{colour}"/>'
    if shape == "square":
        return f'<rect x="{x - s * .8:.1f}" y="{y - s * .8:.1f}" width="{s * 1.6:.1f}" height="{s * 1.6:.1f}" fill="{colour}"/>'
    if shape == "star":
        return f'<path d="M{x:.1f},{y - s * 1.2:.1f} L{x + s:.1f},{y:.1f} L{x:.1f},{y + s * 1.2:.1f} L{x - s:.1f},{y:.1f} Z" fill="{colour}"/>'
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{s * .75:.1f}" fill="#fff" stroke="{colour}" stroke-width="2"/>'


def legend_marker(status: str) -> Markup:
    return Markup(f'<svg class="legend-mark" viewBox="0 0 16 16" width="16" height="16" aria-hidden="true">'
                  f'{marker_svg(status, 8, 8, 5.5)}</svg>')


TEMPLATES.env.globals["legend_marker"] = legend_marker


def timeline_chart(goal, dates: list[date]) -> Markup:  # noqa: ANN001
    """An inline SVG of one goal: the score of each note (-1 to 1) over the client's note dates,
    the status as the marker; each marker links to its note and says what it shows."""
    first, last = (min(dates), max(dates)) if dates else (date.today(), date.today())
    span = max((last - first).days, 1)
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM

    def x_of(day: date) -> float:
        if first == last:
            return _LEFT + plot_w / 2
        return _LEFT + _PAD + (plot_w - 2 * _PAD) * (day - first).days / span

    def y_of(score: float) -> float:
        return _TOP + plot_h * (1 - (max(-1.0, min(1.0, score)) + 1) / 2)

    out = [f'<svg class="chart" viewBox="0 0 {_W} {_H}" role="group" '
           f'aria-label="Status of goal {escape(goal.goal_id)} by note" xmlns="http://www.w3.org/2000/svg">']
    for score, label in ((1, "+1"), (0.5, ""), (0, "0"), (-0.5, ""), (-1, "−1")):
        y = y_of(score)
        grid = "axis-zero" if score == 0 else "grid"
        out.append(f'<line class="{grid}" x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        if label:
            out.append(f'<text class="tick" x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    out.append(f'<text class="axis-note" x="{_LEFT + 4}" y="{_TOP + 11}">better</text>')
    out.append(f'<text class="axis-note" x="{_LEFT + 4}" y="{_H - _BOTTOM - 4}">worse</text>')
    for day, label in _month_ticks(first, last):
        x = x_of(day)
        out.append(f'<line class="tick-line" x1="{x:.1f}" x2="{x:.1f}" y1="{_H - _BOTTOM}" y2="{_H - _BOTTOM + 5}"/>')
        out.append(f'<text class="tick" x="{x:.1f}" y="{_H - _BOTTOM + 18}" text-anchor="middle">{label}</text>')
    addressed = [p for p in goal.timeline if p.status != "not-addressed"]
    if len(addressed) > 1:
        path = " ".join(f"{'M' if i == 0 else 'L'}{x_of(p.note_date):.1f},{y_of(p.score):.1f}"
                        for i, p in enumerate(addressed))
        out.append(f'<path class="trend" d="{path}"/>')
    for p in goal.timeline:
        x, y = x_of(p.note_date), y_of(p.score)
        what = (f"{p.note_date.strftime('%-d %b %Y')}, note {p.note_id}: {STATUS_STYLE[p.status]['label'].lower()}, "
                f"score {p.score:+.2f}, confidence {p.confidence:.0%}")
        out.append(f'<a href="/ui/notes/{escape(p.note_id)}" class="point" aria-label="{escape(what)}">'
                   f'<title>{escape(what)}</title>{marker_svg(p.status, x, y)}</a>')
    if not goal.timeline:
        out.append(f'<text class="empty" x="{_W / 2}" y="{_TOP + plot_h / 2}" text-anchor="middle">'
                   f'No note has been scored against this goal yet</text>')
    out.append("</svg>")
    return Markup("".join(out))


def _month_ticks(first: date, last: date, most: int = 6) -> list[tuple[date, str]]:
    """The first of each month between the dates (at most `most` of them), or the two dates
    themselves when the notes fall within one month."""
    months = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        day = date(year, month, 1)
        if first <= day <= last:
            months.append(day)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    if len(months) < 2:
        return [(d, d.strftime("%-d %b")) for d in dict.fromkeys((first, last))]
    step = -(-len(months) // most)
    ticks = months[::step]
    return [(day, day.strftime("%b '%y") if i == 0 or day.month <= step else day.strftime("%b"))
            for i, day in enumerate(ticks)]
