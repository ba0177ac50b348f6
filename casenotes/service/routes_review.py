"""The supervisor's flag queue, analysts' reviews of results, search, and the audit log."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Depends, Path, Query, Request

from casenotes.errors import Conflict
from casenotes.schema import FlagType
from casenotes.service.auth import allow
from casenotes.service.deps import RepositoryDep, ServicesDep, record_read
from casenotes.service.schemas import (
    ERROR_RESPONSES,
    ID_PATTERN,
    MAX_ID,
    AuditPageOut,
    CitationOut,
    ErrorOut,
    FlagPageOut,
    FlagReviewIn,
    QueueFlagOut,
    ResultReviewIn,
    ReviewOut,
    SearchHitOut,
    SearchIn,
    SearchOut,
)
from casenotes.service.views import audit_out, queue_flag_out, review_out
from casenotes.store.credentials import Principal
from casenotes.store.flag_queue import CURSOR_PATTERN
from casenotes.store.repository import Repository

router = APIRouter(prefix="/v1", tags=["review"], responses=ERROR_RESPONSES)

QueueReader = Annotated[Principal, Depends(allow("supervisor", "analyst"))]
Supervisor = Annotated[Principal, Depends(allow("supervisor"))]
Analyst = Annotated[Principal, Depends(allow("analyst"))]
Admin = Annotated[Principal, Depends(allow())]
IntId = Annotated[int, Path(ge=1, le=MAX_ID)]

_NOT_FOUND = {404: {"description": "No such object in the caller's programs."}}


@router.get("/flags", response_model=FlagPageOut)
def flag_queue(principal: QueueReader, repo: RepositoryDep, request: Request,
               status: Annotated[str, Query(pattern="^(open|confirmed|dismissed|any)$")] = "open",
               type: Annotated[FlagType | None, Query()] = None,  # noqa: A002 (the API's own name)
               program: Annotated[str | None, Query(max_length=100, pattern=r"^[^\x00]*$")] = None,
               limit: Annotated[int, Query(ge=1, le=200)] = 50,
               cursor: Annotated[str | None, Query(max_length=43, pattern=CURSOR_PATTERN, description=(
                   "A page's `next_cursor`. A cursor of the older three-part form, issued before the "
                   "queue ordered by confidence, is refused: start again from the first page."))] = None,
               ) -> FlagPageOut:
    """Flags of current note revisions: most severe first, then most confident, then newest;
    `next_cursor` pages on."""
    page = repo.flag_queue(programs=principal.program, status=None if status == "any" else status, flag_type=type,
                           program=program, limit=limit, cursor=cursor)
    body = FlagPageOut(flags=[queue_flag_out(f) for f in page.flags], next_cursor=page.next_cursor)
    for flag in body.flags:
        record_read(repo, request, principal, action="read", object_type="flag", object_id=str(flag.flag_id),
                    client_id=flag.client_id)
    repo.commit()
    return body


@router.post("/flags/{flag_id}/review", response_model=QueueFlagOut, responses=_NOT_FOUND)
def review_flag(flag_id: IntId, body: FlagReviewIn, principal: Supervisor, repo: RepositoryDep,
                request: Request) -> QueueFlagOut:
    """Confirm or dismiss a flag, with a comment; the queue shows open flags only by default."""
    flag = repo.review_flag(repo.flag(flag_id, principal.program), body.decision, body.comment, principal.actor)
    result = queue_flag_out(flag)
    record_read(repo, request, principal, action=f"flag-{body.decision}", object_type="flag",
                object_id=str(flag_id), client_id=result.client_id)
    repo.commit()
    return result


_MISFIT = {409: {"model": ErrorOut, "description": "The review does not fit the result: a level for a goal "
                  "result, a status for a domain result, or a citation that is not a span of the note's text."}}


@router.post("/results/{result_id}/review", response_model=ReviewOut, status_code=201,
             responses={**_NOT_FOUND, **_MISFIT})
def review_result(result_id: IntId, body: ResultReviewIn, principal: Analyst, repo: RepositoryDep,
                  request: Request) -> ReviewOut:
    """Accept a goal status or domain level as it is, or correct it; corrections feed `export-labels`."""
    result = repo.result(result_id, principal.program)
    # Well-formed requests that do not fit this result are conflicts with it (409), not invalid input.
    if result.kind == "goal" and body.level is not None:
        raise Conflict("a goal result is corrected with a status, not a level")
    if result.kind == "domain" and body.status is not None:
        raise Conflict("a domain result is corrected with a level, not a status")
    length = len(result.revision.text)
    if body.citations and any(not 0 <= start < end <= length for start, end in body.citations):
        raise Conflict(f"each citation is a span [start, end) of the note's {length} characters, with start < end")
    review = repo.review_result(result, decision=body.decision, status=body.status, level=body.level,
                                citations=[list(c) for c in body.citations] if body.citations else None,
                                comment=body.comment, reviewer=principal.actor)
    record_read(repo, request, principal, action=f"result-{body.decision}", object_type="result",
                object_id=str(result_id), client_id=result.revision.note.client.client_id)
    repo.commit()
    return review_out(review)


@router.get("/search", response_model=SearchOut, responses=_NOT_FOUND)
def search(principal: Analyst, repo: RepositoryDep, services: ServicesDep, request: Request,
           q: Annotated[str, Query(min_length=1, max_length=1000, pattern=r"^[^\x00]*$")],
           client_id: Annotated[str | None, Query(pattern=ID_PATTERN, max_length=100)] = None,
           k: Annotated[int, Query(ge=1, le=50)] = 10) -> SearchOut:
    """Segments closest in meaning to `q`, among current notes the caller may see. `POST /v1/search`
    does the same with the query in the body, out of URLs and logs: prefer it."""
    vector = services.pipeline.embed_query(q)
    if client_id is not None:
        ranked = _search_one_client(repo, repo.client(client_id, principal.program), vector, k)
    else:
        services.catch_up_index()
        ranked = _search_all(repo, services, principal, vector, k)
    hits = [_hit(row, score) for row, score in ranked]
    for hit in hits:
        record_read(repo, request, principal, action="search", object_type="note", object_id=hit.note_id,
                    client_id=hit.client_id)
    repo.commit()
    return SearchOut(hits=hits)


@router.post("/search", response_model=SearchOut, responses=_NOT_FOUND)
def search_by_body(body: SearchIn, principal: Analyst, repo: RepositoryDep, services: ServicesDep,
                   request: Request) -> SearchOut:
    """The search of `GET /v1/search`, with the query in the body, where no URL or access log holds it."""
    return search(principal, repo, services, request, q=body.q, client_id=body.client_id, k=body.k)


@router.get("/audit", response_model=AuditPageOut, responses=_NOT_FOUND)
def audit_log(principal: Admin, repo: RepositoryDep,
              client_id: Annotated[str | None, Query(pattern=ID_PATTERN, max_length=100)] = None,
              limit: Annotated[int, Query(ge=1, le=1000)] = 100,
              before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None) -> AuditPageOut:
    """The audit log, newest first; `before` pages back by audit id."""
    entries = repo.audit_entries(client_id=client_id, limit=limit, before_id=before, programs=principal.program)
    return AuditPageOut(entries=[audit_out(e) for e in entries])


def _search_one_client(repo: Repository, client, vector: np.ndarray, k: int) -> list:
    ids, vectors = repo.segment_vectors(client=client)
    if not len(ids):
        return []
    scores = vectors @ vector
    order = np.argsort(-scores)[:k]
    rows = repo.search_hits([int(ids[i]) for i in order], programs=None)
    return [(rows[int(ids[i])], float(scores[i])) for i in order if int(ids[i]) in rows]


def _search_all(repo: Repository, services, principal: Principal, vector: np.ndarray, k: int) -> list:
    """Widen the index search until k visible hits are found or the index is exhausted."""
    fetch = k * 4
    while True:
        found = services.index.search(vector, fetch)
        rows = repo.search_hits([i for i, _ in found], programs=principal.program)
        ranked = [(rows[i], score) for i, score in found if i in rows]
        if len(ranked) >= k or fetch >= len(services.index):
            return ranked[:k]
        fetch *= 4


def _hit(row, score: float) -> SearchHitOut:
    segment, revision, note, client = row
    return SearchHitOut(note_id=note.note_id, client_id=client.client_id, note_date=note.note_date,
                        section=segment.section, score=round(score, 6),
                        citation=CitationOut(start=segment.start, end=segment.end,
                                             text=revision.text[segment.start:segment.end]))
