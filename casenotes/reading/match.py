"""Similarity of note segments to plan goals and to the rubric's anchor statements (faiss).

The rubric's level examples are embedded once into a flat inner-product index;
each note's segments are searched against it, and against its plan's goals, to
give the cosine similarities the scoring features are built from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from casenotes.embed.encoder import Encoder
from casenotes.schema import DOMAINS

__all__ = ["RubricAnchors", "cosine_matrix"]


def _flat_index(vectors: np.ndarray):
    import faiss

    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def cosine_matrix(queries: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(len(queries), len(targets)) cosine similarities of unit vectors, searched with faiss."""
    if len(queries) == 0 or len(targets) == 0:
        return np.zeros((len(queries), len(targets)), dtype=np.float32)
    index = _flat_index(targets)
    scores, ids = index.search(np.ascontiguousarray(queries, dtype=np.float32), len(targets))
    matrix = np.empty_like(scores)
    np.put_along_axis(matrix, ids, scores, axis=1)
    return matrix


@dataclass(frozen=True)
class AnchorScores:
    """Per segment: best similarity to each domain, and to each (domain, level)."""

    by_domain: np.ndarray  # (segments, 14)
    by_level: np.ndarray  # (segments, 14, 5)


class RubricAnchors:
    """The rubric's example statements, embedded and indexed by domain and level."""

    def __init__(self, rubric, encoder: Encoder) -> None:
        texts, domain_ids, levels = [], [], []
        for domain in rubric.domains:
            for level in domain.levels:
                for example in level.examples:
                    texts.append(example)
                    domain_ids.append(DOMAINS.index(domain.id))
                    levels.append(level.level - 1)
        from casenotes.text.shorthand import expand_shorthand

        self.vectors = encoder.encode([expand_shorthand(t) for t in texts])
        self.domain_of = np.asarray(domain_ids)
        self.level_of = np.asarray(levels)
        self._index = _flat_index(self.vectors)

    def score(self, segment_vectors: np.ndarray) -> AnchorScores:
        n = len(segment_vectors)
        by_level = np.full((n, len(DOMAINS), 5), -1.0, dtype=np.float32)
        if n:
            sims, ids = self._index.search(np.ascontiguousarray(segment_vectors), len(self.vectors))
            rows = np.repeat(np.arange(n), ids.shape[1])
            np.maximum.at(by_level, (rows, self.domain_of[ids.ravel()], self.level_of[ids.ravel()]),
                          sims.ravel())
        return AnchorScores(by_domain=by_level.max(axis=2), by_level=by_level)
