"""Reads and writes the shared labeled case-note format (one JSON object per line)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from casenotes.errors import InvalidInput, InvalidPlan
from casenotes.schema import Note, NoteResult, Plan

__all__ = [
    "LabeledCase",
    "case_from_json",
    "iter_cases",
    "iter_labeled",
    "json_lines",
    "plan_from_goals",
    "prediction_json",
    "write_jsonl",
]


@dataclass(frozen=True)
class LabeledCase:
    """One line of the shared format: a note in the context of one client's plan."""

    id: str
    note: Note
    plan: Plan
    labels: dict[str, Any] | None
    writer: str | None = None  # who wrote the note (the shared format's `writer`), for writer-held-out folds


def plan_from_goals(goals: Any, where: str = "plan") -> Plan:
    """A validated `Plan`; errors name the goal and field but never quote note text."""
    if not isinstance(goals, list):
        raise InvalidPlan(f"{where}: goals must be a list")
    try:
        return Plan(goals=tuple(goals))
    except ValidationError as exc:
        raise InvalidPlan(f"{where}: {_describe(exc, goals)}") from None


def case_from_json(obj: Any, where: str) -> LabeledCase:
    if not isinstance(obj, dict):
        raise InvalidInput(f"{where}: expected a JSON object")
    for key in ("id", "note_text", "goals"):
        if key not in obj:
            raise InvalidInput(f"{where}: missing field {key!r}")
    plan = plan_from_goals(obj["goals"], where)
    try:
        note = Note(
            text=obj["note_text"], note_id=str(obj.get("note_id") or obj["id"]),
            client_id=obj.get("client_id"), program=obj.get("program"),
            note_date=obj.get("note_date"), note_format=obj.get("note_format"),
        )
    except ValidationError as exc:
        raise InvalidInput(f"{where}: {_describe(exc, None)}") from None
    return LabeledCase(id=str(obj["id"]), note=note, plan=plan, labels=obj.get("labels"),
                       writer=obj.get("writer"))


def json_lines(path: str | Path) -> Iterator[tuple[str, Any]]:
    """(where, object) for every non-blank line; `where` names the file and line for messages."""
    path = Path(path)
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            where = f"{path.name} line {number}"
            try:
                yield where, json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None


def iter_labeled(path: str | Path, require_labels: bool = False) -> Iterator[tuple[dict[str, Any], LabeledCase]]:
    """Each line's raw object and parsed case; ids must be unique within the file."""
    seen: set[str] = set()
    for where, obj in json_lines(path):
        if require_labels and isinstance(obj, dict) and "labels" not in obj:
            raise InvalidInput(f"{where}: no labels; a labeled file is needed here")
        case = case_from_json(obj, where)
        if case.id in seen:
            raise InvalidInput(f"{where}: duplicate id {case.id!r}")
        seen.add(case.id)
        yield obj, case


def iter_cases(path: str | Path) -> Iterator[LabeledCase]:
    return (case for _, case in iter_labeled(path))


def _describe(exc: ValidationError, goals: Any) -> str:
    first = exc.errors()[0]
    location = list(first["loc"])
    if location[:1] == ["goals"] and len(location) >= 2 and isinstance(goals, list):
        index = location[1]
        goal = goals[index] if isinstance(index, int) and index < len(goals) else None
        goal_id = goal.get("goal_id") if isinstance(goal, dict) else None
        field = ".".join(str(p) for p in location[2:]) or "goal"
        return f"goal {goal_id or index!r}: {field}: {first['msg']}"
    field = ".".join(str(p) for p in location) or "value"
    return f"{field}: {first['msg']}"


def prediction_json(case_id: str, result: NoteResult) -> dict[str, Any]:
    """A `NoteResult` in the shared prediction format."""

    def spans(citations):
        return [[c.start, c.end] for c in citations]

    return {
        "id": case_id,
        "goals": {
            g.goal_id: {"status": g.status, "score": round(g.score, 4),
                        "confidence": round(g.confidence, 4), "citations": spans(g.citations)}
            for g in result.goals
        },
        "domains": {
            d.domain: {"level": d.level, "confidence": round(d.confidence, 4),
                       "citations": spans(d.citations)}
            for d in result.domains
        },
        "flags": [
            {"type": f.type, "confidence": round(f.confidence, 4), "citations": spans(f.citations)}
            for f in result.flags
        ],
    }


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> None:
    with Path(path).open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
