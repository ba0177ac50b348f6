"""Search: the segments of current notes closest in meaning to a query, for analysts."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Query, Request

from casenotes.service.api.common import NOT_FOUND, Analyst
from casenotes.service.deps import RepositoryDep, ServicesDep, record_read
from casenotes.service.schemas import ERROR_RESPONSES, ID_PATTERN, CitationOut, SearchHitOut, SearchIn, SearchOut
from casenotes.store.credentials import Principal
from casenotes.store.repository import Repository

router = APIRouter(prefix="/v1", tags=["review"], responses=ERROR_RESPONSES)


@router.get("/search", response_model=SearchOut, responses=NOT_FOUND)
def search(principal: Analyst, repo: RepositoryDep, services: ServicesDep, request: Request,
           q: Annotated[str, Query(min_length=1, max_length=1000, pattern=r"^[^\x00]*$")],
           client_id: Annotated[str | None, Query(pattern=ID_PATTERN, max_length=100)] = None,
           k: Annotated[int, Query(ge=1, le=50)] = 10) -> SearchOut:
    """Segments closest in meaning to `q`, among current notes the caller may see. `POST /v1/search`
    does the same with the query in the body, out of URLs and logs: prefer it."""
    vector = services.pipeline.embed_query(q)
    if client_id is not None:
        ranked = _search_one_client(repo, repo.client(client_id, principal.program), principal.program, vector, k)
    else:
        services.catch_up_index()
        ranked = _search_all(repo, services, principal, vector, k)
    hits = [(_hit(row, score), row[2].enrollment.program) for row, score in ranked]
    for hit, program in hits:
        record_read(repo, request, principal, action="search", object_type="note", object_id=hit.note_id,
                    client_id=hit.client_id, program=program)
    repo.commit()
    return SearchOut(hits=[hit for hit, _ in hits])


@router.post("/search", response_model=SearchOut, responses=NOT_FOUND)
def search_by_body(body: SearchIn, principal: Analyst, repo: RepositoryDep, services: ServicesDep,
                   request: Request) -> SearchOut:
    """The search of `GET /v1/search`, with the query in the body, where no URL or access log holds it."""
    return search(principal, repo, services, request, q=body.q, client_id=body.client_id, k=body.k)


def _search_one_client(repo: Repository, client, programs: str | None, vector: np.ndarray, k: int) -> list:
    """The client's notes of the caller's program's enrollments (every one, for an unscoped caller)."""
    ids, vectors = repo.segment_vectors(client=client, programs=programs)
    if not len(ids):
        return []
    scores = vectors @ vector
    order = np.argsort(-scores)[:k]
    rows = repo.search_hits([int(ids[i]) for i in order], programs=programs)
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
