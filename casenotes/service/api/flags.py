"""The supervisor's flag queue, and the review that confirms or dismisses a flag."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from casenotes.runtime.events import announce_flag_reviewed
from casenotes.schema import FlagType
from casenotes.service.api.common import NOT_FOUND, IntId, Reader, Supervisor
from casenotes.service.deps import RepositoryDep, record_read
from casenotes.service.schemas import ERROR_RESPONSES, FlagPageOut, FlagReviewIn, QueueFlagOut
from casenotes.service.views import queue_flag_out
from casenotes.store.flag_queue import CURSOR_PATTERN

router = APIRouter(prefix="/v1", tags=["review"], responses=ERROR_RESPONSES)


@router.get("/flags", response_model=FlagPageOut)
def flag_queue(principal: Reader, repo: RepositoryDep, request: Request,
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
                    client_id=flag.client_id, program=flag.program)
    repo.commit()
    return body


@router.post("/flags/{flag_id}/review", response_model=QueueFlagOut, responses=NOT_FOUND)
def review_flag(flag_id: IntId, body: FlagReviewIn, principal: Supervisor, repo: RepositoryDep,
                request: Request) -> QueueFlagOut:
    """Confirm or dismiss a flag, with a comment; the queue shows open flags only by default."""
    flag = repo.review_flag(repo.flag(flag_id, principal.program), body.decision, body.comment, principal.actor)
    announce_flag_reviewed(repo.session, flag)
    result = queue_flag_out(flag)
    record_read(repo, request, principal, action=f"flag-{body.decision}", object_type="flag",
                object_id=str(flag_id), client_id=result.client_id, program=result.program)
    repo.commit()
    return result
