"""The events a case management system can subscribe to, announced in the transaction of the
change they tell of (so an event goes out if, and only if, its change committed). Bodies carry
ids, statuses and links, never note text or review comments."""

from __future__ import annotations

from sqlalchemy.orm import Session

from casenotes.runtime.webhooks import record_event, subscriptions
from casenotes.store.tables import FlagRow, NoteRevision

__all__ = ["announce_failed", "announce_flag_reviewed", "announce_scored"]


def announce_scored(session: Session, revision: NoteRevision) -> None:
    """`note.scored`, and `flag.raised` for each flag the revision raised."""
    client, program = revision.note.client, _program(revision)
    subscribed = subscriptions(session, program)  # read once: every scored note passes here
    if not subscribed:
        return
    record_event(session, "note.scored", program, {
        **_note_ids(revision), "status": "scored",
        "goals": [{"goal_id": r.goal_id, "status": r.status} for r in revision.results if r.kind == "goal"],
        "flags": [{"flag_id": f.id, "type": f.type, "severity": f.severity} for f in revision.flags],
    }, client.id, among=subscribed)
    for flag in revision.flags:
        record_event(session, "flag.raised", program, _flag_body(flag, revision), client.id, among=subscribed)


def announce_failed(session: Session, revision: NoteRevision) -> None:
    client = revision.note.client
    record_event(session, "note.failed", _program(revision),
                 {**_note_ids(revision), "status": "failed", "error": revision.scoring_error}, client.id)


def announce_flag_reviewed(session: Session, flag: FlagRow) -> None:
    revision = flag.revision
    record_event(session, "flag.reviewed", _program(revision),
                 {**_flag_body(flag, revision), "decision": flag.status}, revision.note.client.id)


def _program(revision: NoteRevision) -> str:
    """Events go to the subscribers of the program of the note's enrollment, and no other."""
    return revision.note.enrollment.program


def _note_ids(revision: NoteRevision) -> dict:
    note = revision.note
    return {"note_id": note.note_id, "client_id": note.client.client_id, "revision": revision.revision,
            "links": {"note": f"/v1/notes/{note.note_id}", "record": f"/v1/clients/{note.client.client_id}/record"}}


def _flag_body(flag: FlagRow, revision: NoteRevision) -> dict:
    ids = _note_ids(revision)
    return {"flag_id": flag.id, "type": flag.type, "severity": flag.severity, "note_id": ids["note_id"],
            "client_id": ids["client_id"], "links": {**ids["links"], "queue": "/v1/flags"}}
