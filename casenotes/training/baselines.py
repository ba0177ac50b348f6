"""Two baselines, scored beside the pipeline in every eval run.

- `keyword`: content-word overlap with the goal and the rubric's domain keywords
  decide relevance; direction cue words decide the status; the rubric's flag
  cues fire wherever they match. No embeddings, no context, nothing learned.
- `embedding`: cosine similarity alone, at fixed thresholds: segment to goal for
  relevance, segment to status prototypes for the status, segment to rubric
  examples for domains, levels and flags. No context, nothing learned.

Both read the same segments as the pipeline, so the comparison isolates the
decisions, not the segmentation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from casenotes.reading.features import AnalysedNote, GoalView
from casenotes.reading.match import cosine_matrix
from casenotes.schema import DOMAINS, FLAG_TYPES, Plan
from casenotes.text.cues import cue_counts

__all__ = ["BASELINES", "embedding_baseline", "keyword_baseline"]

_STATUS_PROTOTYPES = {
    "achieved": "The client reached the goal; it is completed and done.",
    "improving": "The client took a step forward and made progress toward the goal.",
    "worsening": "The client had a setback and things got worse; a loss or relapse.",
    "no-change": "No change yet; the client is still waiting and nothing has happened.",
}
GOAL_SIMILARITY = 0.45
DOMAIN_SIMILARITY = 0.55
FLAG_SIMILARITY = 0.6


def _span(note: AnalysedNote, index: int) -> list[int]:
    segment = note.segments[index]
    return [segment.start, segment.end]


def keyword_baseline(note: AnalysedNote, goals: list[GoalView], case_id: str) -> dict[str, Any]:
    goals_out = {}
    for view in goals:
        k = view.domain_index
        relevant = [i for i, words in enumerate(note.segment_words)
                    if len(words & view.words) >= 2 or (note.keyword_hits[i, k] and words & view.words)]
        goals_out[view.goal.goal_id] = _keyword_status(note, relevant)
    domains = {}
    for k, domain in enumerate(DOMAINS):
        hits = np.flatnonzero(note.keyword_hits[:, k]) if len(note.segments) else []
        if len(hits):
            cues = cue_counts(note.segments[hits[0]].text)
            level = 2 if cues["worsening"] else 4 if cues["achieved"] else 3
            domains[domain] = {"level": level, "confidence": 0.5, "citations": [_span(note, hits[0])]}
    flags = []
    for t, flag_type in enumerate(FLAG_TYPES):
        hits = np.flatnonzero(note.flag_cue_hits[:, t]) if len(note.segments) else []
        if len(hits):
            flags.append({"type": flag_type, "confidence": 0.5, "citations": [_span(note, i) for i in hits[:2]]})
    return {"id": case_id, "goals": goals_out, "domains": domains, "flags": flags}


def _keyword_status(note: AnalysedNote, relevant: list[int]) -> dict[str, Any]:
    if not relevant:
        return {"status": "not-addressed", "confidence": 0.5, "citations": []}
    counts = {name: 0 for name in ("achieved", "worsening", "improving")}
    for i in relevant:
        for name, n in cue_counts(note.segments[i].text).items():
            if name in counts:
                counts[name] += n
    status = next((s for s in ("achieved", "worsening", "improving") if counts[s]), "no-change")
    return {"status": status, "confidence": 0.5, "citations": [_span(note, i) for i in relevant[:2]]}


def embedding_baseline(note: AnalysedNote, goals: list[GoalView], case_id: str, prototypes: np.ndarray,
                       flag_examples: dict[str, np.ndarray]) -> dict[str, Any]:
    goals_out = {}
    status_names = list(_STATUS_PROTOTYPES)
    for view in goals:
        cosines = cosine_matrix(note.vectors, view.vector[None, :])[:, 0]
        if cosines.size == 0 or cosines.max() < GOAL_SIMILARITY:
            goals_out[view.goal.goal_id] = {"status": "not-addressed", "confidence": 0.5, "citations": []}
            continue
        best = int(cosines.argmax())
        status = status_names[int((prototypes @ note.vectors[best]).argmax())]
        goals_out[view.goal.goal_id] = {"status": status, "confidence": float(cosines[best]),
                                        "citations": [_span(note, best)]}
    domains = {}
    for k, domain in enumerate(DOMAINS):
        if not len(note.segments) or note.anchors.by_domain[:, k].max() < DOMAIN_SIMILARITY:
            continue
        best = int(note.anchors.by_domain[:, k].argmax())
        level = int(note.anchors.by_level[best, k].argmax()) + 1
        domains[domain] = {"level": level, "confidence": float(note.anchors.by_domain[best, k]),
                           "citations": [_span(note, best)]}
    flags = []
    for flag_type, examples in flag_examples.items():
        sims = cosine_matrix(note.vectors, examples).max(axis=1) if len(note.segments) else np.zeros(0)
        if sims.size and sims.max() >= FLAG_SIMILARITY:
            flags.append({"type": flag_type, "confidence": float(sims.max()),
                          "citations": [_span(note, int(sims.argmax()))]})
    return {"id": case_id, "goals": goals_out, "domains": domains, "flags": flags}


class BaselineRunner:
    """Runs both baselines over analysed notes with one pipeline's encoder and rubric."""

    def __init__(self, pipeline) -> None:
        self.pipeline = pipeline
        self.prototypes = pipeline.encoder.encode(list(_STATUS_PROTOTYPES.values()))
        self.flag_examples = {t: pipeline.encoder.encode(list(pipeline.rubric.flag(t).examples))
                              for t in FLAG_TYPES}

    def predict(self, name: str, note: AnalysedNote, plan: Plan, case_id: str) -> dict[str, Any]:
        goals = self.pipeline.goal_views(plan)
        if name == "keyword":
            return keyword_baseline(note, goals, case_id)
        return embedding_baseline(note, goals, case_id, self.prototypes, self.flag_examples)


BASELINES = ("keyword", "embedding")
