"""The revisions that are not scored: what waits for a scoring job, and the dead letters."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from casenotes.store.tables import Enrollment, Note, NoteRevision

__all__ = ["unscored_revisions"]


def unscored_revisions(session: Session, state: str, programs: str | None = None,
                       limit: int = 100) -> list[tuple[Note, NoteRevision]]:
    """Revisions in `state` ("pending" or "failed"), oldest first, of the notes of the caller's program's enrollments."""
    query = (select(Note, NoteRevision).join(NoteRevision, NoteRevision.note_pk == Note.id)
             .where(NoteRevision.scoring_state == state).order_by(NoteRevision.id).limit(limit))
    if programs is not None:
        query = query.join(Enrollment, Note.enrollment_pk == Enrollment.id).where(Enrollment.program == programs)
    return [(note, revision) for note, revision in session.execute(query).all()]
