"""The work of one scoring job: read a revision that waits for scoring and store what it says.

Whichever queue runs the job (procrastinate on PostgreSQL, the in-process worker on SQLite),
delivery is at least once, so the work is idempotent: a revision already scored is left as it
is, and one erased before its job ran ends the job without scoring and without an error.
Jobs running at the same time share one `ScoringQueue`, so notes that arrive while a worker
is busy are read together in one encoder pass.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from casenotes.errors import CasenotesError
from casenotes.pipeline import Pipeline
from casenotes.runtime.events import announce_failed, announce_scored
from casenotes.runtime.scoring_queue import ScoringQueue
from casenotes.runtime.search import SegmentIndex
from casenotes.schema import Note, Plan
from casenotes.store.repository import Repository, plan_spec
from casenotes.store.tables import NoteRevision

__all__ = ["MAX_ATTEMPTS", "Outcome", "RevisionScorer", "failure_reason", "retry_delay"]

MAX_ATTEMPTS = 5  # a job that fails this many times is dead-lettered: its revision is `failed`
Outcome = Literal["scored", "already-scored", "erased"]


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failure: 2, 4, 8, 16 s, at most 10 minutes."""
    return timedelta(seconds=min(2 ** attempts, 600))


def failure_reason(error: BaseException) -> str:
    """What a caller may read of a failure. The service's own errors never quote note text; of any
    other error only its kind is kept, since its message might."""
    if isinstance(error, CasenotesError):
        return f"{type(error).__name__}: {error}"[:200]
    return f"{type(error).__name__} while scoring"


class RevisionScorer:
    def __init__(self, sessions: sessionmaker[Session], pipeline: Pipeline, index: SegmentIndex | None = None,
                 scoring: ScoringQueue | None = None) -> None:
        self.sessions = sessions
        self.pipeline = pipeline
        self.index = index
        self._scoring = scoring or ScoringQueue(pipeline)

    def score(self, revision_pk: int) -> Outcome:
        """Score the revision and store its results, unless it is scored already or erased."""
        with self.sessions.begin() as session:
            revision = session.get(NoteRevision, revision_pk)
            if revision is None:
                return "erased"
            if revision.scoring_state == "scored":
                return "already-scored"
            note, plan = _reading_input(session, revision)
        scored = self._scoring.score(note, plan)
        with self.sessions.begin() as session:
            revision = session.scalar(select(NoteRevision).where(NoteRevision.id == revision_pk).with_for_update())
            if revision is None:
                return "erased"
            if revision.scoring_state == "scored":
                return "already-scored"
            Repository(session).record_scoring(revision, scored, revision.note.note_date)
            announce_scored(session, revision)
        if self.index is not None:
            self.index.catch_up()
        return "scored"

    def fail(self, revision_pk: int, error: BaseException) -> None:
        """Dead-letter the revision: `failed`, with a reason a caller may read."""
        with self.sessions.begin() as session:
            revision = session.get(NoteRevision, revision_pk)
            if revision is not None and revision.scoring_state != "scored":
                revision.scoring_state, revision.scoring_error = "failed", failure_reason(error)
                announce_failed(session, revision)

def _reading_input(session: Session, revision: NoteRevision) -> tuple[Note, Plan]:
    """The note as the pipeline reads it, and the plan in force when the revision was stored."""
    stored_note = revision.note
    note = Note(text=revision.text, note_id=stored_note.note_id, client_id=stored_note.client.client_id,
                note_date=stored_note.note_date, note_format=stored_note.note_format)
    return note, plan_spec(Repository(session).plan_by_pk(revision.plan_pk))
