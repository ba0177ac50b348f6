"""The UI's routes: sign-in, the flag queue, clients, the record, a note, search."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from casenotes.errors import NotFound
from casenotes.schema import DOMAINS, FLAG_TYPES, STATUSES
from casenotes.service.auth import SESSION_COOKIE
from casenotes.service.schemas import FlagReviewIn, ResultReviewIn
from casenotes.service.ui.charts import STATUS_STYLE, timeline_chart
from casenotes.service.ui.note_view import (
    back_link,
    current_texts,
    goal_texts,
    highlighted_text,
    in_context,
    level_label,
    note_items,
    programs_visible,
)
from casenotes.service.ui.session import (
    CURSOR_PATTERN,
    ID_RE,
    READER_ROLES,
    STATIC_DIR,
    SignInRequired,
    UiRoute,
    checked_post,
    render_page,
    repository_for,
    require_role,
    same_site,
    signed_in,
    wants_json,
)
from casenotes.store.credentials import Principal, end_ui_session, principal_for, start_ui_session
from casenotes.store.repository import Repository

__all__ = [
    "clients_page", "home", "login", "login_page", "logout", "mount_ui", "note_page", "queue_page",
    "record_page", "review_flag", "review_result", "router", "search_page", "search_results", "unknown_page",
]

router = APIRouter(prefix="/ui", include_in_schema=False, route_class=UiRoute)


def mount_ui(app) -> None:
    """The pages and their static files (CSS, JS); called by `create_app`."""
    app.mount("/ui/static", StaticFiles(directory=str(STATIC_DIR)), name="ui-static")
    app.include_router(router)


# -- sign-in ---------------------------------------------------------------------------------

@router.get("")
@router.get("/")
def home(request: Request) -> Response:
    signed_in(request)
    return RedirectResponse("/ui/flags", status_code=303)


@router.get("/login")
def login_page(request: Request) -> Response:
    try:
        signed_in(request)
        return RedirectResponse("/ui/flags", status_code=303)
    except SignInRequired:
        return render_page(request, "login.html", {"error": None})


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    token = form.get("token")
    token = token.strip() if isinstance(token, str) else ""
    if not same_site(request):
        return render_page(request, "login.html", {"error": "Sign in from this site's own sign-in page."}, 403)
    services = request.app.state.services
    with services.sessions() as session:
        principal = principal_for(session, token)
    if principal is None:
        return render_page(request, "login.html", {"error": "That token is not valid. Check it and try again."}, 401)
    if principal.role == "ingest":
        return render_page(request, "login.html", {"error": "Ingest tokens write notes through the API; the review "
                                                      "pages are for supervisors, analysts and admins."}, 403)
    with services.sessions.begin() as session:
        session_id = start_ui_session(session, principal, services.settings.ui_session_hours)
    response = RedirectResponse("/ui/flags", status_code=303)
    response.set_cookie(SESSION_COOKIE, session_id, max_age=int(services.settings.ui_session_hours * 3600),
                        path="/", httponly=True, samesite="strict", secure=services.settings.secure_cookies)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    await checked_post(request)
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
    from casenotes.service.api.flags import flag_queue

    principal = signed_in(request)
    require_role(principal, *READER_ROLES)
    status = status if status in ("open", "confirmed", "dismissed", "any") else "open"
    flag_type = type if type in FLAG_TYPES else None
    program = program.strip()[:100] or None
    cursor = cursor if CURSOR_PATTERN.match(cursor) else None
    with repository_for(request) as repo:
        programs = programs_visible(repo, principal)
        page = flag_queue(principal, repo, request, status=status, type=flag_type, program=program, limit=50,
                          cursor=cursor)
    filters = {"status": status, "type": flag_type or "", "program": program or ""}
    next_url = None
    if page.next_cursor:
        next_url = "/ui/flags?" + urlencode({**{k: v for k, v in filters.items() if v}, "cursor": page.next_cursor})
    rubric = request.app.state.services.pipeline.rubric
    return render_page(request, "queue.html", {
        "nav": "flags", "flags": page.flags, "filters": filters, "programs": programs, "flag_types": FLAG_TYPES,
        "flag_titles": {t: rubric.flag(t).title for t in FLAG_TYPES}, "next_url": next_url, "paged": bool(cursor),
        "back": str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
    })


@router.post("/flags/{flag_id}/review")
async def review_flag(request: Request, flag_id: int) -> Response:
    from casenotes.service.api.flags import review_flag as api_review_flag

    principal, fields = await checked_post(request)
    require_role(principal, "supervisor")
    if not 1 <= flag_id <= 2**62:
        raise NotFound(f"no flag {flag_id}")
    comment = fields.get("comment", "").strip() or None
    body = FlagReviewIn.model_validate({"decision": fields.get("decision"), "comment": comment})
    with repository_for(request) as repo:
        result = api_review_flag(flag_id, body, principal, repo, request)
    if wants_json(request):
        return JSONResponse({"flag_id": result.flag_id, "status": result.status, "comment": result.comment,
                             "reviewer": result.reviewer})
    return RedirectResponse(back_link(fields.get("back")), status_code=303)


# -- the client record -----------------------------------------------------------------------

@router.get("/clients")
def clients_page(request: Request) -> Response:

    principal = signed_in(request)
    require_role(principal, *READER_ROLES)
    with repository_for(request) as repo:
        rows = [{"client_id": c, "program": p, "notes": n, "latest": d}
                for c, p, n, d in repo.client_rows(principal.program)]
    return render_page(request, "clients.html", {"nav": "clients", "clients": rows})


@router.get("/clients/{client_id}")
def record_page(request: Request, client_id: str) -> Response:
    from casenotes.service.api.records import get_record

    with _reading(request, "client", client_id) as (principal, repo):
        record = get_record(client_id, principal, repo, request)
    rubric = request.app.state.services.pipeline.rubric
    dates = [n.note_date for n in record.notes]
    charts = [timeline_chart(goal, dates) for goal in record.goals]
    domains = [{"domain": d, "title": rubric.domain(d.domain).title,
                "baseline_label": level_label(rubric, d.domain, d.baseline.level),
                "latest_label": level_label(rubric, d.domain, d.latest.level),
                "change": d.latest.level - d.baseline.level} for d in record.domains]
    return render_page(request, "record.html", {
        "nav": "clients", "record": record, "charts": charts, "domains": domains,
        "flag_titles": {t: rubric.flag(t).title for t in FLAG_TYPES}, "statuses": STATUS_STYLE,
        "domain_titles": {d: rubric.domain(d).title for d in DOMAINS},
    })


# -- the note view ---------------------------------------------------------------------------

@router.get("/notes/{note_id}")
def note_page(request: Request, note_id: str) -> Response:
    from casenotes.service.api.notes import get_note

    with _reading(request, "note", note_id) as (principal, repo):
        note = get_note(note_id, principal, repo, request)
        texts_of_goals = goal_texts(repo, note_id)
    rubric = request.app.state.services.pipeline.rubric
    items = note_items(note, texts_of_goals, rubric)
    return render_page(request, "note.html", {
        "nav": "clients", "note": note, "items": items, "text_html": highlighted_text(note.text, items),
        "statuses": STATUSES, "levels": [(lv.level, lv.label) for lv in rubric.domains[0].levels],
    })


@router.post("/results/{result_id}/review")
async def review_result(request: Request, result_id: int) -> Response:
    from casenotes.service.api.results import review_result as api_review_result

    principal, fields = await checked_post(request)
    require_role(principal, "analyst")
    if not 1 <= result_id <= 2**62:
        raise NotFound(f"no result {result_id}")
    decision = fields.get("decision")
    status = fields.get("status") or None
    level = fields.get("level") or None
    body = ResultReviewIn.model_validate({
        "decision": decision, "comment": fields.get("comment", "").strip() or None,
        "status": status if decision == "corrected" else None,
        "level": int(level) if decision == "corrected" and level and level.isdigit() else None})
    with repository_for(request) as repo:
        review = api_review_result(result_id, body, principal, repo, request)
    if wants_json(request):
        return JSONResponse(review.model_dump(mode="json"))
    return RedirectResponse(back_link(fields.get("back")), status_code=303)


# -- search ----------------------------------------------------------------------------------

@router.get("/search")
def search_page(request: Request) -> Response:
    principal = signed_in(request)
    require_role(principal, "analyst")
    return render_page(request, "search.html", {"nav": "search", "query": "", "client_id": "", "hits": None})


@router.post("/search")
async def search_results(request: Request) -> Response:
    """POST, so the query (which may name a client's circumstances) stays out of URLs and logs."""
    from casenotes.service.api.search import search

    principal, fields = await checked_post(request)
    require_role(principal, "analyst")
    query = fields.get("q", "").strip()
    client_id = fields.get("client_id", "").strip()
    context = {"nav": "search", "query": query, "client_id": client_id, "hits": None, "error": None}
    if not query or len(query) > 1000 or "\x00" in query:
        context["error"] = "Type what to look for (up to 1000 characters)."
        return render_page(request, "search.html", context, 400)
    if client_id and not ID_RE.match(client_id):
        raise NotFound(f"no client {client_id!r}")
    services = request.app.state.services
    with repository_for(request) as repo:
        found = search(principal, repo, services, request, q=query, client_id=client_id or None, k=10)
        texts = current_texts(repo, [h.note_id for h in found.hits])
    context["hits"] = [{"hit": h, **in_context(texts[h.note_id], h.citation.start, h.citation.end)}
                       for h in found.hits if h.note_id in texts]
    return render_page(request, "search.html", context)


@router.get("/{path:path}")
def unknown_page(request: Request, path: str) -> Response:
    signed_in(request)
    raise HTTPException(404, "There is no such page.")


# -- page data -------------------------------------------------------------------------------

@contextmanager
def _reading(request: Request, kind: str, object_id: str) -> Iterator[tuple[Principal, Repository]]:
    """The signed-in reader and a repository, for the page of one client or note; an id that no
    client or note can have is the not-found page."""
    principal = signed_in(request)
    require_role(principal, *READER_ROLES)
    if not ID_RE.match(object_id):
        raise NotFound(f"no {kind} {object_id!r}")
    with repository_for(request) as repo:
        yield principal, repo
