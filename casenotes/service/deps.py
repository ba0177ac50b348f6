"""Dependencies shared by the routers: services, a session per request, audit rows."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.orm import Session

from casenotes.service.app import Services
from casenotes.service.schemas import ID_PATTERN
from casenotes.store.credentials import Principal
from casenotes.store.repository import Repository

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def refuse_unstorable_parameters(request: Request) -> None:
    """Refuse a path or query parameter holding NUL or an unpaired surrogate (422; the review
    pages answer 400), before any route can hand it to the database: PostgreSQL refuses NUL
    in text, and no database stores a lone surrogate faithfully. Every route of the app has
    this dependency; request bodies are checked by their schemas."""
    for location, items in (("path", request.path_params.items()), ("query", request.query_params.multi_items())):
        for name, value in items:
            if _UNSTORABLE.search(f"{name}{value}"):
                where = [location, name] if not _UNSTORABLE.search(name) else [location]
                raise RequestValidationError([{
                    "loc": where, "type": "value_error",
                    "msg": "contains an unstorable character (NUL or unpaired surrogate)"}])


def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_repository(services: ServicesDep) -> Iterator[Repository]:
    """A repository on one session. Routes commit before they answer, so nothing is
    acknowledged that is not stored; whatever a route did not commit is rolled back."""
    session: Session = services.sessions()
    try:
        yield Repository(session)
    finally:
        session.close()


RepositoryDep = Annotated[Repository, Depends(get_repository)]
ClientIdPath = Annotated[str, Path(pattern=ID_PATTERN, max_length=100, description="The case management system's id.")]
NoteIdPath = Annotated[str, Path(pattern=ID_PATTERN, max_length=100)]


def record_read(repo: Repository, request: Request, principal: Principal, *, action: str, object_type: str,
                object_id: str, client_id: str | None, program: str | None) -> None:
    """Write the audit row every read or change of a client's notes and results leaves. `program` is
    that of the enrollment the object belongs to; None for the whole person (an unscoped read of a
    client's record, an erasure): program-scoped audit readers see rows by it."""
    repo.audit(actor=principal.actor, role=principal.role, action=action, object_type=object_type,
               object_id=object_id, client_id=client_id, request_id=request.state.request_id, program=program)
