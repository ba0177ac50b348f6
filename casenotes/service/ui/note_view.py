"""A note with the words each result cites lit, and the lookups its page needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape
from sqlalchemy import select

from casenotes.service.ui.session import PALETTE
from casenotes.store.credentials import Principal
from casenotes.store.repository import Repository
from casenotes.store.tables import Note, NoteRevision

__all__ = [
    "Item", "back_link", "current_texts", "goal_texts", "highlighted_text", "in_context", "level_label",
    "note_items", "programs_visible",
]

def programs_visible(repo: Repository, principal: Principal) -> list[str]:
    if principal.program is not None:
        return [principal.program]
    return repo.programs_in_use()


def back_link(value: str | None) -> str:
    """Where a form without JavaScript returns to: a page of this UI, never another site."""
    if value and value.startswith("/ui/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/ui/flags"


def goal_texts(repo: Repository, note_id: str) -> dict[str, str]:
    """Goal texts of the plan the note's current revision was scored against."""
    revision = repo.current_revision(repo.note(note_id))
    plan = repo.plan_by_pk(revision.plan_pk) if revision else None
    return {g.goal_id: g.text for g in plan.goals} if plan else {}


def current_texts(repo: Repository, note_ids: list[str]) -> dict[str, str]:
    if not note_ids:
        return {}
    rows = repo.session.execute(
        select(Note.note_id, NoteRevision.text).join(NoteRevision, (NoteRevision.note_pk == Note.id)
                                                     & (NoteRevision.revision == Note.current_revision))
        .where(Note.note_id.in_(set(note_ids))))
    return dict(rows.all())


def in_context(text: str, start: int, end: int, reach: int = 160) -> dict[str, str]:
    """The cited passage with up to `reach` characters either side, cut at a word boundary."""
    left = max(0, start - reach)
    if left > 0:
        space = text.find(" ", left, start)
        left = space + 1 if space != -1 else left
    right = min(len(text), end + reach)
    if right < len(text):
        space = text.rfind(" ", end, right)
        right = space if space != -1 else right
    return {"before": ("…" if left > 0 else "") + text[left:start], "cited": text[start:end],
            "after": text[end:right] + ("…" if right < len(text) else "")}


def level_label(rubric, domain: str, level: int) -> str:
    return next((d.label for d in rubric.domain(domain).levels if d.level == level), "")


def _level_descriptor(rubric, domain: str, level: int) -> str:
    return next((d.descriptor for d in rubric.domain(domain).levels if d.level == level), "")


@dataclass
class Item:
    """One result of a note as the note view shows it: a goal, a domain or a flag."""

    key: str                      # "goal-12", "domain-15", "flag-3": the id the highlighted spans carry
    kind: str
    id: int
    title: str
    subtitle: str
    citations: list               # CitationOut
    colour: int | None            # palette index; None when nothing is cited
    result: Any
    value: str = ""               # status, level or flag state, as shown
    reviewed_value: str | None = None
    cite_keys: list[str] = field(default_factory=list)


def note_items(note, goal_texts: dict[str, str], rubric) -> list[Item]:
    items: list[Item] = []
    for g in note.goals:
        items.append(Item(f"goal-{g.result_id}", "goal", g.result_id, f"Goal {g.goal_id}",
                          goal_texts.get(g.goal_id, ""), g.citations, None, g, g.status,
                          g.review.status if g.review and g.review.decision == "corrected" else None))
    for d in note.domains:
        label = level_label(rubric, d.domain, d.level)
        reviewed = None
        if d.review and d.review.decision == "corrected" and d.review.level:
            reviewed = f"{d.review.level} · {level_label(rubric, d.domain, d.review.level)}"
        items.append(Item(f"domain-{d.result_id}", "domain", d.result_id, rubric.domain(d.domain).title,
                          _level_descriptor(rubric, d.domain, d.level), d.citations, None, d,
                          f"{d.level} · {label}", reviewed))
    for f in note.flags:
        items.append(Item(f"flag-{f.flag_id}", "flag", f.flag_id, f"Flag: {rubric.flag(f.type).title}",
                          f"Severity {f.severity}", f.citations, None, f, f.status))
    colour = 0
    for item in items:
        item.cite_keys = [f"{item.key}-{i}" for i in range(len(item.citations))]
        if item.citations:
            item.colour = colour % PALETTE
            colour += 1
    return items


def highlighted_text(text: str, items: list[Item]) -> Markup:
    """The note split into runs at every citation boundary; each cited run is a span naming the
    results (`data-results`) and citations (`data-cites`) that cover it, filled in the colour of
    the first of them and underlined in the second's where results overlap. Offsets are exact:
    the spans of a citation join to text[start:end]."""
    cites = [(c.start, c.end, item, f"{item.key}-{i}") for item in items for i, c in enumerate(item.citations)
             if 0 <= c.start < c.end <= len(text)]
    bounds = sorted({0, len(text), *(s for s, _, _, _ in cites), *(e for _, e, _, _ in cites)})
    parts = []
    for a, b in zip(bounds, bounds[1:]):
        covering = [(item, key) for s, e, item, key in cites if s <= a and b <= e]
        chunk = _escape_text(text[a:b])
        if not covering:
            parts.append(chunk)
            continue
        results = list(dict.fromkeys(item.key for item, _ in covering))
        colours = list(dict.fromkeys(item.colour for item, _ in covering))
        classes = f"hl c{colours[0]}" + (f" multi u{colours[1]}" if len(colours) > 1 else "")
        parts.append(f'<span class="{classes}" data-results="{" ".join(results)}" '
                     f'data-cites="{" ".join(key for _, key in covering)}">{chunk}</span>')
    return Markup("".join(parts))


def _escape_text(text: str) -> str:
    # A raw carriage return would be folded into the newline by the HTML parser; a character
    # reference keeps it, so the DOM text is the note text exactly.
    return str(escape(text)).replace("\r", "&#13;")


# -- the goal timeline chart -----------------------------------------------------------------

