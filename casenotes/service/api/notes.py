"""Notes: scored and stored on arrival (or accepted now and scored next), revised and rescored,
read back with every result."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, Response

from casenotes.errors import NotFound
from casenotes.runtime.ingest import Arrival, note_id_taken
from casenotes.service.api.common import NOT_FOUND, NoteReader, Writer, may_write_program
from casenotes.service.app import Services
from casenotes.service.deps import ClientIdPath, NoteIdPath, RepositoryDep, ServicesDep, record_read
from casenotes.service.schemas import ERROR_RESPONSES, ErrorOut, NoteIn, NoteOut, NoteResultOut, NoteRevisionIn
from casenotes.service.views import note_out, note_result_out, pending_result_out
from casenotes.store.credentials import Principal
from casenotes.store.repository import NoteFields, Repository
from casenotes.store.tables import Note

router = APIRouter(prefix="/v1", tags=["records"], responses=ERROR_RESPONSES)


_PREFER = Header(description="`respond-async` (RFC 7240): store the note and its scoring job, answer 202 at "
                                   "once and score next; GET the Location for the result. `wait` asks for the scored "
                                   "answer where the service answers asynchronously by default.")
PreferHeader = Annotated[str | None, _PREFER]
_ACCEPTED = {202: {"model": NoteResultOut, "description": "Accepted with `Prefer: respond-async`: stored, "
                   "`status` pending; the Location header names the note to GET."}}


@router.post("/clients/{client_id}/notes", response_model=NoteResultOut, status_code=201,
             responses={200: {"model": NoteResultOut, "description": "Stored already: the stored result."},
                        **_ACCEPTED,
                        409: {"model": ErrorOut, "description": "This note_id is taken: stored with another "
                              "text, for another client, or by another ingest token; or the client has no "
                              "active enrollment in the program (closed)."},
                        413: {"description": "The note is over the size limit."}, **NOT_FOUND})
def post_note(client_id: ClientIdPath, body: NoteIn, principal: Writer, services: ServicesDep,
              request: Request, response: Response, prefer: PreferHeader = None) -> NoteResultOut:
    """Score a note against the current plan of the client's active enrollment (the caller's program's,
    the `program` named, or the only active one) and store it with every result, or, with
    `Prefer: respond-async`, store it and its scoring job and answer 202 before scoring. A note for a
    closed enrollment is refused (409). Idempotent on `note_id` in both modes: the same note again is
    answered from the store (200)."""
    may_write_program(principal, body.program)
    fields = NoteFields(note_id=body.note_id, note_date=body.note_date, text=body.text,
                        note_format=body.note_format, author=body.author)
    respond_async = _respond_async(prefer, services.settings.respond_async)
    if respond_async:
        def audit_ingest(repo: Repository, program: str) -> None:
            record_read(repo, request, principal, action="ingest", object_type="note", object_id=body.note_id,
                        client_id=client_id, program=program)

        arrival = services.ingestor.accept(client_id, fields, programs=principal.program, program=body.program,
                                           ingested_by=principal.token_pk, also=audit_ingest)
    else:
        arrival = services.ingestor.arrive(client_id, fields, programs=principal.program, program=body.program,
                                           ingested_by=principal.token_pk)
    result = pending_result_out(arrival.note_id, arrival.pending) if arrival.pending else _stored_result(
        arrival, client_id, principal, services, request)
    if arrival.created and result.status == "scored":
        services.metrics.scored([f.type for f in result.flags])
    response.status_code = 200 if not arrival.created else 202 if respond_async else 201
    _mark_async(response, respond_async and result.status == "pending", arrival.note_id)
    return result


def _stored_result(arrival: Arrival, client_id: str, principal: Principal, services: Services,
                   request: Request) -> NoteResultOut:
    """The stored note's result, read back (and the read audited): a note scored on arrival, or
    one stored before (a replay)."""
    with services.sessions() as session:
        repo = Repository(session)
        note = repo.note(arrival.note_id, principal.program)
        if not arrival.created and not _stored_by(note, principal):
            raise note_id_taken(note.note_id)  # an ingest token replays only its own notes
        result = note_result_out(repo, note)
        record_read(repo, request, principal, action="ingest" if arrival.created else "read",
                    object_type="note", object_id=note.note_id, client_id=client_id, program=note.enrollment.program)
        repo.commit()
    return result


@router.put("/notes/{note_id}", response_model=NoteResultOut, responses={**_ACCEPTED, 413: {}, **NOT_FOUND})
def revise_note(note_id: NoteIdPath, body: NoteRevisionIn, principal: Writer, services: ServicesDep,
                request: Request, response: Response, prefer: PreferHeader = None) -> NoteResultOut:
    """Store a revised text of a note, rescore it (or, with `Prefer: respond-async`, score it
    next), and keep the earlier revisions."""
    fields = NoteFields(note_id=note_id, note_date=body.note_date, text=body.text, note_format=body.note_format,
                        author=body.author)
    with services.sessions() as session:  # an ingest token revises only a note it may read
        _readable_note(Repository(session), note_id, principal)
    respond_async = _respond_async(prefer, services.settings.respond_async)
    revise = services.ingestor.accept_revision if respond_async else services.ingestor.revise
    revise(note_id, fields, programs=principal.program)
    with services.sessions() as session:
        repo = Repository(session)
        note = repo.note(note_id, principal.program)
        result = note_result_out(repo, note)
        record_read(repo, request, principal, action="revise", object_type="note", object_id=note_id,
                    client_id=note.client.client_id, program=note.enrollment.program)
        repo.commit()
    if result.status == "scored":
        services.metrics.scored([f.type for f in result.flags])
    response.status_code = 202 if respond_async else 200
    _mark_async(response, respond_async, note_id)
    return result


@router.get("/notes/{note_id}", response_model=NoteOut, responses=NOT_FOUND)
def get_note(note_id: NoteIdPath, principal: NoteReader, repo: RepositoryDep, request: Request) -> NoteOut:
    """The note's text with every result and its citations, and its revision history."""
    note = _readable_note(repo, note_id, principal)
    body = note_out(repo, note)
    record_read(repo, request, principal, action="read", object_type="note", object_id=note_id,
                client_id=note.client.client_id, program=note.enrollment.program)
    repo.commit()
    return body


def _respond_async(prefer: str | None, by_default: bool) -> bool:
    """Does the caller prefer (RFC 7240) an answer before scoring? `wait` asks for the scored answer."""
    preferences = {item.split(";")[0].split("=")[0].strip().lower() for item in (prefer or "").split(",")}
    if "respond-async" in preferences:
        return True
    return by_default and "wait" not in preferences


def _mark_async(response: Response, pending: bool, note_id: str) -> None:
    """An answer before scoring names where the result will be."""
    if pending:
        response.headers["Preference-Applied"] = "respond-async"
        response.headers["Location"] = f"/v1/notes/{note_id}"


def _stored_by(note: Note, principal: Principal) -> bool:
    """Ingest tokens see only the notes they stored; the other roles every note of their programs."""
    return principal.role != "ingest" or note.ingested_by == principal.token_pk


def _readable_note(repo: Repository, note_id: str, principal: Principal) -> Note:
    note = repo.note(note_id, principal.program)
    if not _stored_by(note, principal):
        raise NotFound(f"no note {note_id!r}")
    return note
