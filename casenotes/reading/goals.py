"""Goal decisions from the goal reader's outputs: pure functions over probability arrays.

Per goal, the reader gives each segment probabilities of LABELS (irrelevant, improving,
worsening, no-change, achieved). The rules:

- **Not addressed** when no segment's relevance (1 - p(irrelevant)) reaches `addressed`.
- **Context gates change**: a negated, planned, historical or someone else's segment can show
  the goal was spoken of (its change mass counts as no-change), never a change. News about
  the client's children counts for a goal that concerns them (as the pipeline reads it).
- **An ongoing goal is never achieved**: its achieved mass counts as improving.
- The status is the label with the highest weighted probability on any relevant segment
  (weights per status, tuned on dev); the citations are the relevant segments that carry that
  status at `cite_ratio` of the best or more, at most MAX_CITATIONS, in note order.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from casenotes.schema import Citation, ContextLabels, GoalResult, Segment

__all__ = ["DIRECTIONS", "MAX_CITATIONS", "ReaderThresholds", "decide_goal", "gated_segments", "goal_scores"]

DIRECTIONS = ("improving", "worsening", "no-change", "achieved")  # LABELS[1:]
MAX_CITATIONS = 2
_PROGRESS = {"achieved": 1.0, "improving": 0.5, "no-change": 0.0, "worsening": -0.5}
_IMPROVING, _WORSENING, _NO_CHANGE, _ACHIEVED = range(4)


@dataclass(frozen=True)
class ReaderThresholds:
    addressed: float = 0.5  # least relevance of a segment that speaks to the goal
    weights: dict[str, float] = field(default_factory=lambda: dict.fromkeys(DIRECTIONS, 1.0))
    cite_ratio: float = 0.6

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict | None) -> ReaderThresholds:
        return cls(**data) if data else cls()


def gated_segments(contexts: list[ContextLabels], family: bool) -> np.ndarray:
    """(n,) bool: the segment's context forbids it to move the goal."""
    def asserted(c: ContextLabels) -> bool:
        if family and c.other_experiencer:
            return not (c.negated or c.hypothetical or c.historical)
        return c.asserted
    return np.array([not asserted(c) for c in contexts], dtype=bool)


def goal_scores(probs: np.ndarray, gated: np.ndarray, ongoing: bool) -> np.ndarray:
    """(n, 4) probabilities of DIRECTIONS per segment after the house rules (gating, ongoing)."""
    scores = np.array(probs[:, 1:], dtype=np.float64, copy=True)
    if scores.size == 0:
        return scores.reshape(0, len(DIRECTIONS))
    if ongoing:
        scores[:, _IMPROVING] += scores[:, _ACHIEVED]
        scores[:, _ACHIEVED] = 0.0
    if gated.any():
        moved = scores[gated][:, [_IMPROVING, _WORSENING, _ACHIEVED]].sum(axis=1)
        scores[gated, _NO_CHANGE] += moved
        scores[np.ix_(gated, [_IMPROVING, _WORSENING, _ACHIEVED])] = 0.0
    return scores


def decide_goal(goal_id: str, probs: np.ndarray, segments: list[Segment], gated: np.ndarray, ongoing: bool,
                thresholds: ReaderThresholds) -> GoalResult:
    """The goal's status, confidence and citations from the reader's (n, 5) probabilities."""
    relevance = 1.0 - probs[:, 0] if len(probs) else np.zeros(0)
    if not relevance.size or relevance.max() < thresholds.addressed:
        top = float(relevance.max()) if relevance.size else 0.0
        return GoalResult(goal_id=goal_id, status="not-addressed", score=0.0, confidence=float(1.0 - top))
    relevant = relevance >= thresholds.addressed
    scores = goal_scores(probs, gated, ongoing)
    weights = np.array([thresholds.weights.get(d, 1.0) for d in DIRECTIONS])
    weighted = np.where(relevant[:, None], scores * weights[None, :], -1.0)
    best_per_status = weighted.max(axis=0)
    column = int(np.argmax(best_per_status))
    status = DIRECTIONS[column]
    ranked = [int(i) for i in np.argsort(-weighted[:, column], kind="stable")]
    best = weighted[ranked[0], column]
    cited = [i for i in ranked[:MAX_CITATIONS] if weighted[i, column] >= thresholds.cite_ratio * best
             and weighted[i, column] > 0] or ranked[:1]
    cited.sort(key=lambda i: segments[i].start)
    confidence = float(np.clip(scores[ranked[0], column], 0.0, 1.0))
    return GoalResult(goal_id=goal_id, status=status, score=_PROGRESS[status], confidence=confidence,
                      citations=tuple(Citation(start=segments[i].start, end=segments[i].end, text=segments[i].text)
                                      for i in cited))
