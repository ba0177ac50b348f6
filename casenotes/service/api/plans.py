"""A client's plan in one enrollment: each version stored, the newest the one that enrollment's notes
are scored against."""

from __future__ import annotations

from fastapi import APIRouter, Request

from casenotes.errors import Conflict, InvalidInput
from casenotes.schema import Goal
from casenotes.service.api.common import NOT_FOUND, Writer, may_write_program
from casenotes.service.deps import ClientIdPath, RepositoryDep, ServicesDep, record_read
from casenotes.service.schemas import ERROR_RESPONSES, ErrorOut, PlanIn
from casenotes.service.schemas_record import PlanOut
from casenotes.service.views import plan_out

router = APIRouter(prefix="/v1", tags=["records"], responses=ERROR_RESPONSES)


@router.put("/clients/{client_id}/plan", response_model=PlanOut, status_code=201, responses={
    409: {"model": ErrorOut, "description": "A goal_id is given twice, or the client has no active enrollment "
                                            "in the program."}, **NOT_FOUND})
def put_plan(client_id: ClientIdPath, body: PlanIn, principal: Writer, repo: RepositoryDep,
             services: ServicesDep, request: Request) -> PlanOut:
    """Store a new plan version for an active enrollment (the caller's program's, the `program` named, or
    the client's only active one); that enrollment's notes from now on are scored against it."""
    if body.rubric != services.pipeline.rubric.name:
        raise InvalidInput(f"unknown rubric {body.rubric!r}; this service scores with "
                           f"{services.pipeline.rubric.name!r}")
    repeated = body.repeated_goal_ids()
    if repeated:
        raise Conflict(f"goal_id {', '.join(repeated)} given more than once; a plan's goal ids are unique")
    may_write_program(principal, body.program)
    client = repo.client(client_id, principal.program)
    enrollment = repo.enrollment_for_writing(client, principal.program, body.program)
    goals = [Goal(goal_id=g.goal_id, text=g.text, domain=g.domain, target_date=g.target_date) for g in body.goals]
    plan = repo.store_plan(enrollment, goals, body.rubric)
    record_read(repo, request, principal, action="put", object_type="plan", object_id=str(plan.version),
                client_id=client_id, program=enrollment.program)
    repo.commit()
    return plan_out(client, plan, enrollment)
