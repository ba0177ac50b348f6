"""Scoring jobs, for admins: what waits, what failed (the dead letters), and a retry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from casenotes.errors import Conflict
from casenotes.service.api.common import NOT_FOUND, Admin
from casenotes.service.deps import NoteIdPath, RepositoryDep, ServicesDep, record_read
from casenotes.service.schemas import ERROR_RESPONSES, ScoringState
from casenotes.service.schemas_delivery import JobOut, JobsOut
from casenotes.store.scoring_log import unscored_revisions

router = APIRouter(prefix="/v1", tags=["operations"], responses=ERROR_RESPONSES)


@router.get("/jobs", response_model=JobsOut)
def list_jobs(principal: Admin, repo: RepositoryDep,
              state: Annotated[ScoringState, Query(description="`pending` or `failed`.")] = "failed",
              limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> JobsOut:
    """Notes waiting for scoring, or dead-lettered after their retries, oldest first."""
    rows = unscored_revisions(repo.session, state, principal.program, limit) if state != "scored" else []
    return JobsOut(jobs=[JobOut(note_id=note.note_id, client_id=note.client.client_id, revision=revision.revision,
                                state=revision.scoring_state, attempts=revision.scoring_attempts,
                                error=revision.scoring_error, created_at=revision.created_at)
                         for note, revision in rows])


@router.post("/jobs/{note_id}/retry", status_code=202, responses={409: {"description": "The note has not failed."},
                                                                   **NOT_FOUND})
def retry_job(note_id: NoteIdPath, principal: Admin, services: ServicesDep, repo: RepositoryDep,
              request: Request) -> dict[str, str]:
    """Score a dead-lettered note again, with a new job."""
    if not services.ingestor.retry(note_id, principal.program):
        raise Conflict(f"note {note_id!r} has not failed scoring; only a failed note is retried")
    record_read(repo, request, principal, action="retry", object_type="note", object_id=note_id, client_id=None,
                program=principal.program)
    repo.commit()
    return {"note_id": note_id, "status": "pending"}
