"""The fake pipeline with the readings a test chooses: a note that says `[G1=worsening]` is read
so for goal G1 (a goal it does not mark, as not addressed), and one that says `[housing:2]` at
level 2 for housing (a domain it does not mark, not at all), each citing its mark; flags are the
fake pipeline's. For tests of what the record makes of readings (standings, exports), which the
fake encoder's readings leave to chance."""

from __future__ import annotations

import dataclasses
import re

from casenotes.schema import Citation, DomainResult, Note

__all__ = ["ScriptedPipeline"]

_MARK = re.compile(r"\[(?P<goal>[A-Za-z0-9_-]+)=(?P<status>[a-z-]+)\]")
_LEVEL = re.compile(r"\[(?P<domain>[a-z_]+):(?P<level>[1-5])\]")
_SCORE = {"improving": 0.5, "achieved": 1.0, "no-change": 0.0, "worsening": -0.5, "not-addressed": 0.0}


class ScriptedPipeline:
    def __init__(self, inner) -> None:
        self.inner = inner

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def read_many(self, items):
        return [self._scripted(note if isinstance(note, Note) else Note(text=note), scored)
                for (note, _), scored in zip(items, self.inner.read_many(items))]

    def _scripted(self, note: Note, scored):
        marks = {m["goal"]: m for m in _MARK.finditer(note.text)}
        goals = tuple(_goal_as_marked(goal, marks.get(goal.goal_id), note.text) for goal in scored.result.goals)
        domains = tuple(DomainResult(domain=m["domain"], level=int(m["level"]), confidence=0.9,
                                     citations=(_cite(m, note.text),)) for m in _LEVEL.finditer(note.text))
        return dataclasses.replace(scored, result=scored.result.model_copy(update={"goals": goals, "domains": domains}))


def _goal_as_marked(goal, mark, text: str):
    if mark is None:
        return goal.model_copy(update={"status": "not-addressed", "score": 0.0, "citations": ()})
    status = mark["status"]
    citations = () if status == "not-addressed" else (_cite(mark, text),)
    return goal.model_copy(update={"status": status, "score": _SCORE[status], "citations": citations})


def _cite(mark: re.Match, text: str) -> Citation:
    return Citation(start=mark.start(), end=mark.end(), text=text[mark.start():mark.end()])
