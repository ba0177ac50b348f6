"""The two tests that decide what a read sees, shared by the repository's modules. A read scoped
by `programs` sees every program when that is None and only the named one otherwise; and of a
note's revisions only the current one counts, for a client's notes, the flag queue and search.
"""

from __future__ import annotations

from sqlalchemy import and_

from casenotes.store.tables import NoteRevision

__all__ = ["is_current", "visible"]


def visible(program: str, programs: str | None) -> bool:
    return programs is None or program == programs


def is_current(note_entity):
    return and_(NoteRevision.note_pk == note_entity.id, NoteRevision.revision == note_entity.current_revision)
