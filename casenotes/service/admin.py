"""What the operator's commands do, as plain functions: load the demo, make tokens,
rebuild the search index, export reviewed results as labeled data."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from casenotes.errors import Conflict
from casenotes.resources import resource
from casenotes.shared_format import iter_cases
from casenotes.store.loading import case_program, note_fields, prepare_clients_and_plans
from casenotes.store.repository import Repository
from casenotes.store.reviewed import reviewed_level, reviewed_spans, reviewed_status
from casenotes.store.tables import NoteRevision, Result

if TYPE_CHECKING:  # the container loads the pipeline; the token and export commands need none of it
    from casenotes.service.app import Services

__all__ = ["DEMO_PATH", "ExportSummary", "export_labels", "load_cases", "rebuild_index"]

DEMO_PATH = Path(str(resource("demo", "demo.jsonl")))


def load_cases(services: Services, path: Path = DEMO_PATH) -> tuple[int, int]:
    """Store the clients, plans and notes of a shared-format file; (notes new, notes already there)."""
    cases = list(iter_cases(path))
    plan_versions = prepare_clients_and_plans(services.sessions, cases, services.pipeline.rubric.name)
    created = existing = 0
    for case in cases:
        try:
            arrival = services.ingestor.arrive(case.note.client_id, note_fields(case), program=case_program(case),
                                               plan_version=plan_versions[case.id])
        except Conflict:
            existing += 1
            continue
        created += arrival.created
        existing += not arrival.created
    services.index.save()
    return created, existing


def rebuild_index(services: Services) -> int:
    """Replace the search index with the current segments in the database, positioned at the
    change log's last change (a running worker resumes from there after a restart); their count."""
    count = services.index.rebuild()
    services.index.save()
    return count


# Why a note is not written, phrased to follow a count: "3 with unreviewed goals".
NOTHING_REVIEWED = "with nothing reviewed"
NO_GOALS = "with no goals in their plan"
UNREVIEWED_GOALS = "with unreviewed goals"
NO_REVIEWED_GOAL = "with no reviewed goal"
UNQUOTABLE = "with a changed goal whose evidence is not a unique quote of the note"


@dataclass
class ExportSummary:
    """What `export_labels` wrote, and how many notes it skipped for each reason."""

    written: int = 0
    skipped: Counter[str] = field(default_factory=Counter)


class _Skipped(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def export_labels(sessions: sessionmaker[Session], out: Path, partial: bool = False) -> ExportSummary:
    """Reviewed notes in the shared labeled format, corrections taken over the model's answer:
    the note's goals, each reviewed; its reviewed domains; its confirmed flags as gold flags. With
    `partial`, a note some of whose goals are unreviewed is written too, with its reviewed goals
    alone. Each revision of a note is a note here."""
    summary = ExportSummary()
    with sessions() as session, out.open("w", encoding="utf-8") as sink:
        repo = Repository(session)
        if unreviewed := repo.unreviewed_revision_count():
            summary.skipped[NOTHING_REVIEWED] = unreviewed
        for revision in repo.reviewed_revisions():
            try:
                case = _labeled_case(repo, revision, partial)
            except _Skipped as skipped:
                summary.skipped[skipped.reason] += 1
                continue
            sink.write(json.dumps(case, ensure_ascii=False) + "\n")
            summary.written += 1
    return summary


def _labeled_case(repo: Repository, revision: NoteRevision, partial: bool) -> dict:
    note = revision.note
    plan = repo.plan_by_pk(revision.plan_pk)
    goal_labels = _goal_labels(revision, partial)
    labels = {"goals": goal_labels, "domains": _domain_labels(revision), "flags": _flag_labels(revision)}
    return {"id": f"{note.note_id}-r{revision.revision}", "program": note.enrollment.program,
            "client_id": note.client.client_id, "note_id": note.note_id, "note_date": note.note_date.isoformat(),
            "note_format": note.note_format or "narrative", "note_text": revision.text,
            "goals": [{"goal_id": g.goal_id, "text": g.text, "domain": g.domain} for g in (plan.goals if plan else [])
                      if g.goal_id in goal_labels],
            "labels": labels}


def _goal_labels(revision: NoteRevision, partial: bool) -> dict[str, dict]:
    """The labels of the reviewed goals: every goal's, or with `partial` those reviewed."""
    goals = [r for r in revision.results if r.kind == "goal"]
    reviewed = [r for r in goals if r.reviews]
    if not goals:
        raise _Skipped(NO_GOALS)
    if not partial and len(reviewed) < len(goals):
        raise _Skipped(UNREVIEWED_GOALS)
    if not reviewed:
        raise _Skipped(NO_REVIEWED_GOAL)
    labels = {r.goal_id: _goal_label(r, revision.text) for r in reviewed}
    # A change without a quotable citation cannot be a label: the whole note goes, or with
    # `partial` that goal alone.
    quotable = {goal_id: label for goal_id, label in labels.items()
                if label["status"] == "not-addressed" or label["evidence"]}
    if not quotable or (not partial and len(quotable) < len(labels)):
        raise _Skipped(UNQUOTABLE)
    return quotable


def _goal_label(result: Result, text: str) -> dict:
    status = reviewed_status(result)
    return {"status": status, "evidence": [] if status == "not-addressed" else _evidence(result, text)}


def _domain_labels(revision: NoteRevision) -> dict[str, dict]:
    """Reviewed domains with a level and quotable evidence (the format labels no domain without)."""
    labels = {r.domain: {"level": reviewed_level(r), "evidence": _evidence(r, revision.text)}
              for r in revision.results if r.kind == "domain" and r.reviews}
    return {domain: label for domain, label in labels.items() if label["level"] and label["evidence"]}


def _flag_labels(revision: NoteRevision) -> list[dict]:
    """Confirmed flags with quotable evidence."""
    flags = [{"type": f.type, "evidence": _quotes(revision.text, f.citations)}
             for f in revision.flags if f.status == "confirmed"]
    return [flag for flag in flags if flag["evidence"]]


def _evidence(result: Result, text: str) -> list[str]:
    return _quotes(text, reviewed_spans(result))


def _quotes(text: str, spans: list) -> list[str]:
    """Cited texts that occur once in the note, as the shared format requires of evidence."""
    quotes = [text[s:e] for s, e in spans]
    return [q for q in quotes if q.strip() and text.count(q) == 1]

