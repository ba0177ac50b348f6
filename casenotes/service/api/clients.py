"""A client: created or updated by the case management system, erased by an admin."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response

from casenotes.service.api.common import NOT_FOUND, Admin, Writer
from casenotes.service.deps import ClientIdPath, RepositoryDep, ServicesDep, record_read
from casenotes.service.schemas import ERROR_RESPONSES, ClientIn, ClientOut
from casenotes.service.views import client_out
from casenotes.store.credentials import Principal

router = APIRouter(prefix="/v1", tags=["records"], responses=ERROR_RESPONSES)


@router.put("/clients/{client_id}", response_model=ClientOut, status_code=200,
            responses={201: {"model": ClientOut, "description": "Created."}, **NOT_FOUND})
def put_client(client_id: ClientIdPath, body: ClientIn, principal: Writer, repo: RepositoryDep,
               request: Request, response: Response) -> ClientOut:
    """Create or update a client; `program` decides who may see them."""
    _may_write_program(principal, body.program)
    client, created = repo.put_client(client_id, body.program, principal.program)  # 404: another program's
    record_read(repo, request, principal, action="put", object_type="client", object_id=client_id,
                client_id=client_id)
    repo.commit()
    response.status_code = 201 if created else 200
    return client_out(client)


@router.delete("/clients/{client_id}", status_code=204, responses=NOT_FOUND)
def delete_client(client_id: ClientIdPath, principal: Admin, repo: RepositoryDep, services: ServicesDep,
                  request: Request) -> Response:
    """Erase the client: notes, revisions, results, flags, reviews and search entries."""
    client = repo.client(client_id, principal.program)
    segment_ids = repo.delete_client(client)
    record_read(repo, request, principal, action="erase", object_type="client", object_id=client_id,
                client_id=client_id)
    repo.commit()
    services.index.remove(segment_ids)
    services.index.save()
    services.erase_traces()
    return Response(status_code=204)


def _may_write_program(principal: Principal, program: str) -> None:
    if principal.program is not None and principal.program != program:
        raise HTTPException(403, f"this token writes only program {principal.program!r}")
