"""Decisions from head outputs: goal statuses, domain levels and flags, each with citations.

Pure functions over probability arrays. Context gates every decision: a
negated, hypothetical, historical or someone else's statement moves no goal
and raises no flag; it can at most show that a goal was spoken of (no-change).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from casenotes.heads import Calibrator
from casenotes.model import Thresholds
from casenotes.schema import (
    DOMAINS, FLAG_TYPES, Citation, ContextLabels, DomainResult, Flag, GoalResult, Segment,
)

__all__ = ["DIRECTIONS", "FLAG_SEVERITY", "decide_domains", "decide_flags", "decide_goal"]

DIRECTIONS = ("improving", "worsening", "no-change", "achieved")
_PROGRESS = {"achieved": 1.0, "improving": 0.5, "no-change": 0.0, "worsening": -0.5}
_CHANGES = ("improving", "worsening", "achieved")
FLAG_SEVERITY = {"safety": 5, "crisis": 5, "housing_loss": 4, "legal": 3, "disengagement": 2}
MAX_CITATIONS = 2


def _cite(segments: list[Segment], indices) -> tuple[Citation, ...]:  # noqa: ANN001
    ordered = sorted(set(int(i) for i in indices), key=lambda i: segments[i].start)
    return tuple(Citation(start=segments[i].start, end=segments[i].end, text=segments[i].text)
                 for i in ordered)


@dataclass(frozen=True)
class GoalEvidence:
    """Per segment of one note, for one goal."""

    relevance: np.ndarray  # (n,)
    direction: np.ndarray  # (n, 4) in DIRECTIONS order
    asserted: np.ndarray  # (n,) bool


def decide_goal(goal_id: str, ongoing: bool, evidence: GoalEvidence, segments: list[Segment],
                thresholds: Thresholds, calibrator: Calibrator | None = None) -> GoalResult:
    relevant = np.flatnonzero(evidence.relevance >= thresholds.relevance)
    if relevant.size == 0:
        top = float(evidence.relevance.max()) if evidence.relevance.size else 0.0
        return GoalResult(goal_id=goal_id, status="not-addressed", score=0.0,
                          confidence=_calibrated(calibrator, 1.0 - top))
    status, cited, strength = _strongest_change(ongoing, evidence, relevant, thresholds.change)
    if status is None:
        best = relevant[np.argmax(evidence.relevance[relevant])]
        status, cited = "no-change", [best]
        strength = float(evidence.relevance[best])
    direction = evidence.direction[cited[0]] if evidence.asserted[cited[0]] else None
    return GoalResult(goal_id=goal_id, status=status, score=_progress(status, direction),
                      confidence=_calibrated(calibrator, strength), citations=_cite(segments, cited))


def _strongest_change(ongoing: bool, evidence: GoalEvidence, relevant: np.ndarray,
                      change_threshold: float) -> tuple[str | None, list[int], float]:
    asserted = [i for i in relevant if evidence.asserted[i]]
    if not asserted:
        return None, [], 0.0
    probs = evidence.direction[asserted].copy()
    if ongoing:  # an ongoing goal is never achieved: that step is one more step
        probs[:, 0] += probs[:, 3]
        probs[:, 3] = 0.0
    weighted = probs * evidence.relevance[asserted, None]
    change_columns = [DIRECTIONS.index(c) for c in _CHANGES]
    best_row, best_col = np.unravel_index(np.argmax(weighted[:, change_columns]), (len(asserted), 3))
    strength = float(weighted[best_row, change_columns[best_col]])
    if strength < change_threshold:
        return None, [], 0.0
    column = change_columns[best_col]
    status = DIRECTIONS[column]
    ranked = np.argsort(-weighted[:, column])
    cited = [asserted[r] for r in ranked[:MAX_CITATIONS]
             if weighted[r, column] >= change_threshold and probs[r].argmax() == column]
    return status, cited or [asserted[best_row]], strength


def _progress(status: str, direction: np.ndarray | None) -> float:
    if direction is None or status == "no-change":
        return _PROGRESS[status]
    expected = sum(float(p) * _PROGRESS[d] for p, d in zip(direction, DIRECTIONS))
    return float(np.clip((expected + _PROGRESS[status]) / 2.0, -1.0, 1.0))


def _calibrated(calibrator: Calibrator | None, raw: float) -> float:
    value = calibrator(raw) if calibrator else raw
    return float(np.clip(value, 0.0, 1.0))


def speaks_of_current_state(context: ContextLabels) -> bool:
    """A domain's level reads from current statements about the client, negated or not."""
    return not (context.hypothetical or context.historical or context.other_experiencer)


def decide_domains(domain_probs: np.ndarray, level_probs_for, contexts: list[ContextLabels],  # noqa: ANN001
                   segments: list[Segment], thresholds: Thresholds,
                   calibrator: Calibrator | None = None) -> list[DomainResult]:
    """`level_probs_for(domain_index, segment_indices)` returns (k, 5) level probabilities."""
    usable = np.array([speaks_of_current_state(c) for c in contexts], dtype=bool)
    results = []
    for k, domain in enumerate(DOMAINS):
        scores = np.where(usable, domain_probs[:, k], 0.0) if len(segments) else np.zeros(0)
        if scores.size == 0 or scores.max() < thresholds.domain:
            continue
        ranked = [int(i) for i in np.argsort(-scores)[:MAX_CITATIONS] if scores[i] >= thresholds.domain]
        levels = level_probs_for(k, ranked)
        weights = scores[ranked] / scores[ranked].sum()
        mean_probs = (levels * weights[:, None]).sum(axis=0)
        expected = float(mean_probs @ np.arange(1, 6))
        level = int(np.clip(round(expected), 1, 5))
        raw = float(scores[ranked[0]]) * float(mean_probs[level - 1] + mean_probs[max(0, level - 2)] * 0.5)
        results.append(DomainResult(domain=domain, level=level, confidence=_calibrated(calibrator, raw),
                                    citations=_cite(segments, ranked)))
    return results


def flag_is_gated(flag_type: str, context: ContextLabels) -> bool:
    """Context that silences a flag. Disengagement is said with negations ("no answer",
    "did not show"), so negation alone does not silence it; its cues carry the polarity."""
    if context.hypothetical or context.historical or context.other_experiencer:
        return True
    return context.negated and flag_type != "disengagement"


def decide_flags(flag_probs: np.ndarray, cue_hits: np.ndarray, contexts: list[ContextLabels],
                 segments: list[Segment], thresholds: Thresholds,
                 calibrator: Calibrator | None = None) -> list[Flag]:
    flags = []
    for t, flag_type in enumerate(FLAG_TYPES):
        scores = np.array([0.0 if flag_is_gated(flag_type, c) else 0.6 * p + 0.4 * hit
                           for c, p, hit in zip(contexts, flag_probs[:, t], cue_hits[:, t])])
        threshold = thresholds.flag.get(flag_type, 0.5)
        if scores.size == 0 or scores.max() < threshold:
            continue
        ranked = [int(i) for i in np.argsort(-scores)[:MAX_CITATIONS] if scores[i] >= threshold]
        flags.append(Flag(type=flag_type, severity=FLAG_SEVERITY[flag_type],
                          confidence=_calibrated(calibrator, float(scores[ranked[0]])),
                          citations=_cite(segments, ranked)))
    return flags
