"""Analysts' reviews of a note's results: a goal status or domain level accepted or corrected."""

from __future__ import annotations

from fastapi import APIRouter, Request

from casenotes.errors import Conflict
from casenotes.service.api.common import NOT_FOUND, Analyst, IntId
from casenotes.service.deps import RepositoryDep, record_read
from casenotes.service.schemas import ERROR_RESPONSES, ErrorOut, ResultReviewIn, ReviewOut
from casenotes.service.views import review_out

router = APIRouter(prefix="/v1", tags=["review"], responses=ERROR_RESPONSES)

_MISFIT = {409: {"model": ErrorOut, "description": "The review does not fit the result: a level for a goal "
                  "result, a status for a domain result, or a citation that is not a span of the note's text."}}


@router.post("/results/{result_id}/review", response_model=ReviewOut, status_code=201,
             responses={**NOT_FOUND, **_MISFIT})
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
                object_id=str(result_id), client_id=result.revision.note.client.client_id,
                program=result.revision.note.enrollment.program)
    repo.commit()
    return review_out(review)
