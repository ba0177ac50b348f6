"""What the operator's commands do, as plain functions: load the demo, make tokens,
rebuild the search index, export reviewed results as labeled data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from casenotes.errors import Conflict
from casenotes.resources import resource
from casenotes.shared_format import iter_cases
from casenotes.store.loading import note_fields, prepare_clients_and_plans
from casenotes.store.repository import Repository
from casenotes.store.tables import NoteRevision, Result

if TYPE_CHECKING:  # the container loads the pipeline; the token and export commands need none of it
    from casenotes.service.app import Services

__all__ = ["DEMO_PATH", "export_labels", "load_cases", "rebuild_index"]

DEMO_PATH = Path(str(resource("demo", "demo.jsonl")))


def load_cases(services: Services, path: Path = DEMO_PATH) -> tuple[int, int]:
    """Store the clients, plans and notes of a shared-format file; (notes new, notes already there)."""
    cases = list(iter_cases(path))
    plan_versions = prepare_clients_and_plans(services.sessions, cases, services.pipeline.rubric.name)
    created = existing = 0
    for case in cases:
        try:
            arrival = services.ingestor.arrive(case.note.client_id, note_fields(case),
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


def export_labels(sessions: sessionmaker[Session], out: Path) -> int:
    """Reviewed notes in the shared labeled format: every goal of the note reviewed, corrections
    taken over the model's answer; confirmed flags as gold flags. Returns the lines written."""
    written = 0
    with sessions() as session, out.open("w", encoding="utf-8") as sink:
        repo = Repository(session)
        for revision in repo.reviewed_revisions():
            case = _labeled_case(repo, revision)
            if case is not None:
                sink.write(json.dumps(case, ensure_ascii=False) + "\n")
                written += 1
    return written


def _labeled_case(repo: Repository, revision: NoteRevision) -> dict | None:
    goals = [r for r in revision.results if r.kind == "goal"]
    if not goals or not all(r.reviews for r in goals):
        return None
    note = revision.note
    plan = repo.plan_by_pk(revision.plan_pk)
    text = revision.text
    labels = {
        "goals": {r.goal_id: _goal_label(r, text) for r in goals},
        "domains": {r.domain: {"level": _final(r).level or r.level, "evidence": _evidence(r, text)}
                    for r in revision.results if r.kind == "domain" and r.reviews},
        "flags": [{"type": f.type, "evidence": _quotes(text, f.citations)} for f in revision.flags
                  if f.status == "confirmed"],
    }
    if any(g["status"] != "not-addressed" and not g["evidence"] for g in labels["goals"].values()):
        return None  # a change without a quotable citation cannot be a label
    return {"id": f"{note.note_id}-r{revision.revision}", "program": note.client.program,
            "client_id": note.client.client_id, "note_id": note.note_id, "note_date": note.note_date.isoformat(),
            "note_format": note.note_format or "narrative", "note_text": text,
            "goals": [{"goal_id": g.goal_id, "text": g.text, "domain": g.domain} for g in (plan.goals if plan else [])],
            "labels": labels}


def _final(result: Result):
    return result.reviews[-1]


def _goal_label(result: Result, text: str) -> dict:
    review = _final(result)
    status = review.status or result.status
    return {"status": status, "evidence": [] if status == "not-addressed" else _evidence(result, text)}


def _evidence(result: Result, text: str) -> list[str]:
    review = _final(result)
    return _quotes(text, review.citations if review.citations is not None else result.citations)


def _quotes(text: str, spans: list) -> list[str]:
    """Cited texts that occur once in the note, as the shared format requires of evidence."""
    quotes = [text[s:e] for s, e in spans]
    return [q for q in quotes if q.strip() and text.count(q) == 1]

