"""What the goal reader says about one goal over a whole note, as features for the status decision.

The goal reader (a fine-tuned cross-encoder) gives each segment it read the probabilities of
`irrelevant`, `improving`, `worsening`, `no-change`, `achieved` for one goal. The status of the
goal is decided by a small head that reads the linear status head's probabilities beside this
summary (`combined_features`); it is fitted on a split neither the heads nor the reader were
trained on, so it learns how far to trust each on notes they have not seen.

Pure functions over arrays: the house rules of `casenotes.reading.goals` apply first (context
gates change, an ongoing goal is never achieved).
"""

from __future__ import annotations

import numpy as np

from casenotes.reading.goals import DIRECTIONS, goal_scores

__all__ = ["READER_SUMMARY_SIZE", "combined_features", "reader_citations", "reader_relevance", "reader_summary"]

READER_SUMMARY_SIZE = 2 + 3 * len(DIRECTIONS)
RELEVANT = 0.5  # a segment the reader finds this relevant speaks to the goal


def reader_relevance(probs: np.ndarray) -> np.ndarray:
    """(n,) probability that each segment speaks to the goal."""
    return 1.0 - probs[:, 0] if len(probs) else np.zeros(0)


def reader_summary(probs: np.ndarray, gated: np.ndarray, ongoing: bool) -> np.ndarray:
    """Fourteen values: the two highest relevances; per direction, its best probability on any
    segment, its relevance-weighted mean, and its probability on the most relevant segment."""
    if not len(probs):
        return np.zeros(READER_SUMMARY_SIZE)
    relevance = reader_relevance(probs)
    scores = goal_scores(probs, gated, ongoing)
    ordered = np.sort(relevance)[::-1]
    second = ordered[1] if len(ordered) > 1 else 0.0
    mean = (scores * relevance[:, None]).sum(axis=0) / max(float(relevance.sum()), 1e-6)
    leading = scores[int(np.argmax(relevance))]
    return np.concatenate([[ordered[0], second], scores.max(axis=0), mean, leading])


def combined_features(status_probs: np.ndarray, probs: np.ndarray, gated: np.ndarray, ongoing: bool) -> np.ndarray:
    """The status head's probabilities (STATUSES order) followed by `reader_summary`."""
    return np.concatenate([np.asarray(status_probs, dtype=np.float64), reader_summary(probs, gated, ongoing)])


def reader_citations(status: str, probs: np.ndarray, gated: np.ndarray, ongoing: bool, most: int = 2) -> list[int]:
    """Segments the reader finds relevant, strongest for `status` first (at most `most`, the
    second only at 0.6 of the first or more); empty when the reader found none relevant."""
    relevance = reader_relevance(probs)
    relevant = relevance >= RELEVANT
    if not relevant.any():
        return []
    if status == "no-change" or status not in DIRECTIONS:
        strength = relevance
    else:
        strength = goal_scores(probs, gated, ongoing)[:, DIRECTIONS.index(status)] * relevance
    strength = np.where(relevant, strength, -1.0)
    ranked = [int(i) for i in np.argsort(-strength, kind="stable")[:most]]
    return [i for i in ranked if i == ranked[0] or strength[i] >= 0.6 * strength[ranked[0]] > 0]
