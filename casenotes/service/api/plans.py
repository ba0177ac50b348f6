"""A client's plan: each version stored, the newest the one notes are scored against."""

from __future__ import annotations

from fastapi import APIRouter, Request

from casenotes.errors import Conflict, InvalidInput
from casenotes.schema import Goal
from casenotes.service.api.common import NOT_FOUND, Writer
from casenotes.service.deps import ClientIdPath, RepositoryDep, ServicesDep, record_read
from casenotes.service.schemas import ERROR_RESPONSES, ErrorOut, PlanIn, PlanOut
from casenotes.service.views import plan_out

router = APIRouter(prefix="/v1", tags=["records"], responses=ERROR_RESPONSES)


@router.put("/clients/{client_id}/plan", response_model=PlanOut, status_code=201, responses={
    409: {"model": ErrorOut, "description": "A goal_id is given twice."}, **NOT_FOUND})
def put_plan(client_id: ClientIdPath, body: PlanIn, principal: Writer, repo: RepositoryDep,
             services: ServicesDep, request: Request) -> PlanOut:
    """Store a new plan version; notes that arrive from now on are scored against it."""
    if body.rubric != services.pipeline.rubric.name:
        raise InvalidInput(f"unknown rubric {body.rubric!r}; this service scores with "
                           f"{services.pipeline.rubric.name!r}")
    repeated = body.repeated_goal_ids()
    if repeated:
        raise Conflict(f"goal_id {', '.join(repeated)} given more than once; a plan's goal ids are unique")
    client = repo.client(client_id, principal.program)
    goals = [Goal(goal_id=g.goal_id, text=g.text, domain=g.domain, target_date=g.target_date) for g in body.goals]
    plan = repo.store_plan(client, goals, body.rubric)
    record_read(repo, request, principal, action="put", object_type="plan", object_id=str(plan.version),
                client_id=client_id)
    repo.commit()
    return plan_out(client, plan)
