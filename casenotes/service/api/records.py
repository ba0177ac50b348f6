"""A client's record: what every note so far says about the client and their plan."""

from __future__ import annotations

from fastapi import APIRouter, Request

from casenotes.service.api.common import NOT_FOUND, Reader
from casenotes.service.deps import ClientIdPath, RepositoryDep, record_read
from casenotes.service.schemas import ERROR_RESPONSES
from casenotes.service.schemas_record import RecordOut
from casenotes.service.views import record_out

router = APIRouter(prefix="/v1", tags=["records"], responses=ERROR_RESPONSES)


@router.get("/clients/{client_id}/record", response_model=RecordOut, responses=NOT_FOUND)
def get_record(client_id: ClientIdPath, principal: Reader, repo: RepositoryDep, request: Request) -> RecordOut:
    """The client, the current plan of each enrollment, each goal's timeline, baseline and latest domain
    levels, open flags: of the caller's program's enrollments when its token is program-scoped, of the
    whole person otherwise."""
    client = repo.client(client_id, principal.program)
    body = record_out(repo, client, principal.program)
    record_read(repo, request, principal, action="read", object_type="record", object_id=client_id,
                client_id=client_id, program=principal.program)
    repo.commit()
    return body
