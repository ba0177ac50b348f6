"""Clients, plans and notes: what a case management system writes, and the record it reads."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from casenotes.errors import Conflict, InvalidInput, NotFound
from casenotes.runtime.ingest import note_id_taken
from casenotes.schema import Goal
from casenotes.service.auth import allow
from casenotes.service.deps import ClientIdPath, NoteIdPath, RepositoryDep, ServicesDep, record_read
from casenotes.service.schemas import (
    ERROR_RESPONSES,
    ClientIn,
    ClientOut,
    ErrorOut,
    NoteIn,
    NoteOut,
    NoteResultOut,
    NoteRevisionIn,
    PlanIn,
    PlanOut,
    RecordOut,
)
from casenotes.service.views import client_out, note_out, note_result_out, plan_out, record_out
from casenotes.store.credentials import Principal
from casenotes.store.repository import NoteFields, Repository
from casenotes.store.tables import Note

router = APIRouter(prefix="/v1", tags=["records"], responses=ERROR_RESPONSES)

Writer = Annotated[Principal, Depends(allow("ingest"))]
Reader = Annotated[Principal, Depends(allow("supervisor", "analyst"))]
NoteReader = Annotated[Principal, Depends(allow("ingest", "supervisor", "analyst"))]
Admin = Annotated[Principal, Depends(allow())]

_NOT_FOUND = {404: {"description": "No such object in the caller's programs."}}


@router.put("/clients/{client_id}", response_model=ClientOut, status_code=200,
            responses={201: {"model": ClientOut, "description": "Created."}, **_NOT_FOUND})
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


@router.put("/clients/{client_id}/plan", response_model=PlanOut, status_code=201, responses={
    409: {"model": ErrorOut, "description": "A goal_id is given twice."}, **_NOT_FOUND})
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


@router.post("/clients/{client_id}/notes", response_model=NoteResultOut, status_code=201,
             responses={200: {"model": NoteResultOut, "description": "Stored already: the stored result."},
                        409: {"model": ErrorOut, "description": "This note_id is taken: stored with another "
                              "text, for another client, or by another ingest token."},
                        413: {"description": "The note is over the size limit."}, **_NOT_FOUND})
def post_note(client_id: ClientIdPath, body: NoteIn, principal: Writer, services: ServicesDep,
              request: Request, response: Response) -> NoteResultOut:
    """Score a note against the client's current plan and store it with every result.
    Idempotent on `note_id`: the same note again is answered from the store (200)."""
    fields = NoteFields(note_id=body.note_id, note_date=body.note_date, text=body.text,
                        note_format=body.note_format, author=body.author)
    arrival = services.ingestor.arrive(client_id, fields, programs=principal.program,
                                       ingested_by=principal.token_pk)
    with services.sessions() as session:
        repo = Repository(session)
        note = repo.note(arrival.note_id, principal.program)
        if not arrival.created and not _stored_by(note, principal):
            raise note_id_taken(note.note_id)  # an ingest token replays only its own notes
        result = note_result_out(repo, note)
        record_read(repo, request, principal, action="ingest" if arrival.created else "read",
                    object_type="note", object_id=note.note_id, client_id=client_id)
        repo.commit()
    if arrival.created:
        services.metrics.scored([f.type for f in result.flags])
    response.status_code = 201 if arrival.created else 200
    return result


@router.put("/notes/{note_id}", response_model=NoteResultOut, responses={413: {}, **_NOT_FOUND})
def revise_note(note_id: NoteIdPath, body: NoteRevisionIn, principal: Writer, services: ServicesDep,
                request: Request) -> NoteResultOut:
    """Store a revised text of a note, rescore it, and keep the earlier revisions."""
    fields = NoteFields(note_id=note_id, note_date=body.note_date, text=body.text, note_format=body.note_format,
                        author=body.author)
    with services.sessions() as session:  # an ingest token revises only a note it may read
        _readable_note(Repository(session), note_id, principal)
    services.ingestor.revise(note_id, fields, programs=principal.program)
    with services.sessions() as session:
        repo = Repository(session)
        note = repo.note(note_id, principal.program)
        result = note_result_out(repo, note)
        record_read(repo, request, principal, action="revise", object_type="note", object_id=note_id,
                    client_id=note.client.client_id)
        repo.commit()
    services.metrics.scored([f.type for f in result.flags])
    return result


@router.get("/notes/{note_id}", response_model=NoteOut, responses=_NOT_FOUND)
def get_note(note_id: NoteIdPath, principal: NoteReader, repo: RepositoryDep, request: Request) -> NoteOut:
    """The note's text with every result and its citations, and its revision history."""
    note = _readable_note(repo, note_id, principal)
    body = note_out(repo, note)
    record_read(repo, request, principal, action="read", object_type="note", object_id=note_id,
                client_id=note.client.client_id)
    repo.commit()
    return body


@router.get("/clients/{client_id}/record", response_model=RecordOut, responses=_NOT_FOUND)
def get_record(client_id: ClientIdPath, principal: Reader, repo: RepositoryDep, request: Request) -> RecordOut:
    """The client, the current plan, each goal's timeline, baseline and latest domain levels, open flags."""
    client = repo.client(client_id, principal.program)
    body = record_out(repo, client)
    record_read(repo, request, principal, action="read", object_type="record", object_id=client_id,
                client_id=client_id)
    repo.commit()
    return body


@router.delete("/clients/{client_id}", status_code=204, responses=_NOT_FOUND)
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


def _stored_by(note: Note, principal: Principal) -> bool:
    """Ingest tokens see only the notes they stored; the other roles every note of their programs."""
    return principal.role != "ingest" or note.ingested_by == principal.token_pk


def _readable_note(repo: Repository, note_id: str, principal: Principal) -> Note:
    note = repo.note(note_id, principal.program)
    if not _stored_by(note, principal):
        raise NotFound(f"no note {note_id!r}")
    return note


def _may_write_program(principal: Principal, program: str) -> None:
    if principal.program is not None and principal.program != program:
        raise HTTPException(403, f"this token writes only program {principal.program!r}")
