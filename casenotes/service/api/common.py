"""What the resource routers share: who may call them, and the 404 of an object the caller
may not see."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Path

from casenotes.service.auth import allow
from casenotes.service.schemas import MAX_ID
from casenotes.store.credentials import Principal

__all__ = ["NOT_FOUND", "Admin", "Analyst", "IntId", "NoteReader", "Reader", "Supervisor", "Writer", "may_write_program"]

Writer = Annotated[Principal, Depends(allow("ingest"))]
Reader = Annotated[Principal, Depends(allow("supervisor", "analyst"))]
NoteReader = Annotated[Principal, Depends(allow("ingest", "supervisor", "analyst"))]
Supervisor = Annotated[Principal, Depends(allow("supervisor"))]
Analyst = Annotated[Principal, Depends(allow("analyst"))]
Admin = Annotated[Principal, Depends(allow())]
IntId = Annotated[int, Path(ge=1, le=MAX_ID)]

NOT_FOUND = {404: {"description": "No such object in the caller's programs."}}


def may_write_program(principal: Principal, program: str | None) -> None:
    """A program-scoped token writes to its own program's enrollments alone (403 for another it names)."""
    if principal.program is not None and program is not None and principal.program != program:
        raise HTTPException(403, f"this token writes only program {principal.program!r}")
