"""A client's enrollments: listed, opened in a program, closed. A program-scoped token sees and
changes its own program's enrollments alone."""

from __future__ import annotations

from fastapi import APIRouter, Request

from casenotes.service.api.common import NOT_FOUND, IntId, NoteReader, Writer, may_write_program
from casenotes.service.deps import ClientIdPath, RepositoryDep, record_read
from casenotes.service.schemas import ERROR_RESPONSES, EnrollmentCloseIn, EnrollmentIn, ErrorOut
from casenotes.service.schemas_record import EnrollmentOut, EnrollmentsOut
from casenotes.service.views import enrollment_out

router = APIRouter(prefix="/v1", tags=["records"], responses=ERROR_RESPONSES)

_OVERLAP = {409: {"model": ErrorOut, "description": "The client has an active enrollment in that program already."}}
_CLOSED = {409: {"model": ErrorOut, "description": "The enrollment is closed already."}}


@router.get("/clients/{client_id}/enrollments", response_model=EnrollmentsOut, responses=NOT_FOUND)
def get_enrollments(client_id: ClientIdPath, principal: NoteReader, repo: RepositoryDep,
                    request: Request) -> EnrollmentsOut:
    """The client's enrollments the caller may see, oldest first."""
    client = repo.client(client_id, principal.program)
    body = EnrollmentsOut(client_id=client_id,
                          enrollments=[enrollment_out(e) for e in repo.enrollments(client, principal.program)])
    record_read(repo, request, principal, action="read", object_type="enrollments", object_id=client_id,
                client_id=client_id, program=principal.program)
    repo.commit()
    return body


@router.post("/clients/{client_id}/enrollments", response_model=EnrollmentOut, status_code=201,
             responses={**NOT_FOUND, **_OVERLAP})
def post_enrollment(client_id: ClientIdPath, body: EnrollmentIn, principal: Writer, repo: RepositoryDep,
                    request: Request) -> EnrollmentOut:
    """Enroll an existing client in a program from `start_date`; refused (409, nothing stored) while
    the client has an active enrollment there. `PUT /v1/clients/{client_id}` creates a new client."""
    may_write_program(principal, body.program)
    client = repo.client(client_id)  # a scoped token may enroll any client in its own program, as PUT does
    enrollment = repo.enroll(client, body.program, body.start_date)
    record_read(repo, request, principal, action="enroll", object_type="enrollment", object_id=str(enrollment.id),
                client_id=client_id, program=enrollment.program)
    repo.commit()
    return enrollment_out(enrollment)


@router.post("/clients/{client_id}/enrollments/{enrollment_id}/close", response_model=EnrollmentOut,
             responses={**NOT_FOUND, **_CLOSED})
def close_enrollment(client_id: ClientIdPath, enrollment_id: IntId, body: EnrollmentCloseIn, principal: Writer,
                     repo: RepositoryDep, request: Request) -> EnrollmentOut:
    """Close an active enrollment on `end_date`: its notes and plans stay readable, and a new note for
    it is refused (409). Enrolling in the program again opens a new enrollment."""
    client = repo.client(client_id, principal.program)
    enrollment = repo.close_enrollment(repo.enrollment(client, enrollment_id, principal.program), body.end_date)
    record_read(repo, request, principal, action="close", object_type="enrollment", object_id=str(enrollment.id),
                client_id=client_id, program=enrollment.program)
    repo.commit()
    return enrollment_out(enrollment)
