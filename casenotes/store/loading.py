"""Loading shared-format files into the record: clients and plan versions first (cheap,
serial), then each note scored against the plan in force when it was written."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy.orm import Session, sessionmaker

from casenotes.errors import InvalidInput
from casenotes.shared_format import LabeledCase
from casenotes.store.repository import NoteFields, Repository

__all__ = ["case_program", "note_fields", "prepare_clients_and_plans"]


def prepare_clients_and_plans(sessions: sessionmaker[Session], cases: Iterable[LabeledCase],
                              rubric: str) -> dict[str, int]:
    """Store each case's client with an enrollment in its program, and a new plan version of that
    enrollment whenever its goals change between notes (in date order); the plan version of each case id."""
    versions: dict[str, int] = {}
    with sessions.begin() as session:
        repo = Repository(session)
        for case in sorted(cases, key=_client_then_date):
            if not case.note.client_id:
                raise InvalidInput(f"case {case.id!r} has no client_id")
            _, enrollment, _ = repo.put_client(case.note.client_id, case_program(case))
            current = repo.current_plan(enrollment)
            goals = [(g.goal_id, g.text, g.domain) for g in case.plan.goals]
            if current is None or [(g.goal_id, g.text, g.domain) for g in current.goals] != goals:
                current = repo.store_plan(enrollment, list(case.plan.goals), rubric)
            versions[case.id] = current.version
    return versions


def case_program(case: LabeledCase) -> str:
    """The program a case's client is enrolled in: its note's, or `unassigned`."""
    return case.note.program or "unassigned"


def note_fields(case: LabeledCase) -> NoteFields:
    return NoteFields(note_id=case.note.note_id, note_date=case.note.note_date or date.today(),
                      text=case.note.text, note_format=case.note.note_format)


def _client_then_date(case: LabeledCase) -> tuple[str, date]:
    return case.note.client_id or "", case.note.note_date or date.min
