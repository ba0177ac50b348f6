"""The audit log, for admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from casenotes.service.api.common import NOT_FOUND, Admin
from casenotes.service.deps import RepositoryDep
from casenotes.service.schemas import ERROR_RESPONSES, ID_PATTERN, MAX_ID, AuditPageOut
from casenotes.service.views import audit_out

router = APIRouter(prefix="/v1", tags=["review"], responses=ERROR_RESPONSES)


@router.get("/audit", response_model=AuditPageOut, responses=NOT_FOUND)
def audit_log(principal: Admin, repo: RepositoryDep,
              client_id: Annotated[str | None, Query(pattern=ID_PATTERN, max_length=100)] = None,
              limit: Annotated[int, Query(ge=1, le=1000)] = 100,
              before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None) -> AuditPageOut:
    """The audit log, newest first; `before` pages back by audit id. A program-scoped admin sees the rows
    about its program's enrollments, and rows about the whole person of a client first enrolled in it."""
    entries = repo.audit_entries(client_id=client_id, limit=limit, before_id=before, programs=principal.program)
    return AuditPageOut(entries=[audit_out(e) for e in entries])
