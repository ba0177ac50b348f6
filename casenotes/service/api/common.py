"""What the resource routers share: who may call them, and the 404 of an object the caller
may not see."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from casenotes.service.auth import allow
from casenotes.service.schemas import MAX_ID
from casenotes.store.credentials import Principal

__all__ = ["NOT_FOUND", "Admin", "Analyst", "IntId", "NoteReader", "Reader", "Supervisor", "Writer"]

Writer = Annotated[Principal, Depends(allow("ingest"))]
Reader = Annotated[Principal, Depends(allow("supervisor", "analyst"))]
NoteReader = Annotated[Principal, Depends(allow("ingest", "supervisor", "analyst"))]
Supervisor = Annotated[Principal, Depends(allow("supervisor"))]
Analyst = Annotated[Principal, Depends(allow("analyst"))]
Admin = Annotated[Principal, Depends(allow())]
IntId = Annotated[int, Path(ge=1, le=MAX_ID)]

NOT_FOUND = {404: {"description": "No such object in the caller's programs."}}
