"""A client: created, or enrolled in another program, by the case management system; erased by an admin."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from casenotes.errors import Conflict
from casenotes.service.api.common import NOT_FOUND, Admin, Writer, may_write_program
from casenotes.service.deps import ClientIdPath, RepositoryDep, ServicesDep, record_read
from casenotes.service.schemas import ERROR_RESPONSES, ClientIn, ErrorOut
from casenotes.service.schemas_record import ClientOut
from casenotes.service.views import client_out

router = APIRouter(prefix="/v1", tags=["records"], responses=ERROR_RESPONSES)

_OTHER_PROGRAMS = {409: {"model": ErrorOut, "description": "A program-scoped admin may not erase a client "
                         "enrolled in other programs too."}}


@router.put("/clients/{client_id}", response_model=ClientOut, status_code=200,
            responses={201: {"model": ClientOut, "description": "Created, or enrolled in `program` anew."},
                       **NOT_FOUND})
def put_client(client_id: ClientIdPath, body: ClientIn, principal: Writer, repo: RepositoryDep,
               request: Request, response: Response) -> ClientOut:
    """Create the client with an enrollment in `program`, or enroll an existing client there (201);
    a client with an active enrollment in `program` already is left as it is (200). A program-scoped
    token enrolls in its own program only, and sees only its program's enrollments in the answer."""
    may_write_program(principal, body.program)
    client, enrollment, created = repo.put_client(client_id, body.program, body.start_date)
    record_read(repo, request, principal, action="put", object_type="client", object_id=client_id,
                client_id=client_id, program=enrollment.program)
    repo.commit()
    response.status_code = 201 if created else 200
    return client_out(client, repo.enrollments(client, principal.program), enrollment.program)


@router.delete("/clients/{client_id}", status_code=204, responses={**NOT_FOUND, **_OTHER_PROGRAMS})
def delete_client(client_id: ClientIdPath, principal: Admin, repo: RepositoryDep, services: ServicesDep,
                  request: Request) -> Response:
    """Erase the whole person: every enrollment, note, revision, result, flag, review and search entry."""
    client = repo.client(client_id, principal.program)
    if len(repo.enrollments(client, principal.program)) < len(repo.enrollments(client)):
        raise Conflict("the client is enrolled in other programs too: only an unscoped admin erases them")
    segment_ids = repo.delete_client(client)
    record_read(repo, request, principal, action="erase", object_type="client", object_id=client_id,
                client_id=client_id, program=None)
    repo.commit()
    services.index.remove(segment_ids)
    services.index.save()
    services.erase_traces()
    return Response(status_code=204)

