"""Feature matrices for the trained heads, computed from one analysed note.

Pure functions of an `AnalysedNote` (segments, their context, embeddings and
rubric-anchor similarities) and of a goal; no I/O and no model loading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from casenotes.reading.match import AnchorScores
from casenotes.schema import DOMAINS, FLAG_TYPES, ContextLabels, Goal, Segment
from casenotes.text.cues import (
    DIRECTION_CUES,
    agency,
    change_marks,
    change_polarity,
    content_words,
    count_against_target,
    cue_counts,
    goal_action_done,
    target_ratio,
)

__all__ = [
    "GOAL_SHAPE_COUNTS",
    "AnalysedNote",
    "GoalView",
    "RubricLexicon",
    "direction_features",
    "level_features",
    "relevance_features",
    "segment_features",
]



@dataclass(frozen=True)
class RubricLexicon:
    """Compiled keyword and flag-cue patterns of a rubric."""

    domain_keywords: tuple[re.Pattern[str], ...]  # one per DOMAINS entry
    any_keyword: re.Pattern[str]  # every domain's keywords: most segments have none, found in one scan
    flag_cues: tuple[re.Pattern[str], ...]  # one per FLAG_TYPES entry: any of the type's cues

    @classmethod
    def from_rubric(cls, rubric) -> RubricLexicon:
        keywords = [_any_of(rubric.domain(domain_id).keywords) for domain_id in DOMAINS]
        cues = tuple(rubric.flag(flag_type).any_cue for flag_type in FLAG_TYPES)
        return cls(tuple(keywords), _any_of(w for d in DOMAINS for w in rubric.domain(d).keywords), cues)


def _any_of(words) -> re.Pattern[str]:
    words = sorted(set(words), key=len, reverse=True)
    if not words:
        return re.compile(r"(?!x)x")
    alternatives = "|".join(re.escape(w) for w in words)
    return re.compile(rf"(?<!\w){first_character_guard(words)}(?:{alternatives})(?!\w)", re.IGNORECASE)


def first_character_guard(words) -> str:
    """A lookahead for the characters the words start with. `re` tries every alternative at
    every position it reaches: a note of 100,000 "!" took seconds, with the GIL held."""
    return "(?=[" + "".join(sorted({re.escape(w[0]) for w in words})) + "])"


@dataclass(frozen=True)
class GoalView:
    goal: Goal
    vector: np.ndarray
    words: frozenset[str]
    ongoing: bool
    family: bool = False
    reduces_problem: bool = False  # the goal brings a problem down: a fall or a denial of it is progress

    @property
    def domain_index(self) -> int:
        return DOMAINS.index(self.goal.domain)


@dataclass
class AnalysedNote:
    text: str
    segments: list[Segment]
    contexts: list[ContextLabels]
    vectors: np.ndarray  # (segments, dim), unit length
    anchors: AnchorScores
    lexicon: RubricLexicon
    # `goal_shape` per goal text: the relevance and direction features and the goal's evidence
    # all read it, and its cue patterns run over every segment.
    goal_shapes: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @cached_property
    def keyword_hits(self) -> np.ndarray:
        hits = np.zeros((len(self.segments), len(DOMAINS)), dtype=np.float32)
        for row, segment in enumerate(self.segments):
            if self.lexicon.any_keyword.search(segment.text):
                hits[row] = [len(p.findall(segment.text)) for p in self.lexicon.domain_keywords]
        return hits

    @cached_property
    def flag_cue_hits(self) -> np.ndarray:
        return np.array([[float(cues.search(s.text) is not None) for cues in self.lexicon.flag_cues]
                         for s in self.segments], dtype=np.float32).reshape(len(self.segments), len(FLAG_TYPES))

    @cached_property
    def direction_cues(self) -> np.ndarray:
        return np.array([list(cue_counts(s.text).values()) for s in self.segments],
                        dtype=np.float32).reshape(len(self.segments), len(DIRECTION_CUES))

    @cached_property
    def context_matrix(self) -> np.ndarray:
        return np.array([[c.negated, c.hypothetical, c.historical, c.other_experiencer]
                         for c in self.contexts], dtype=np.float32).reshape(len(self.segments), 4)

    @cached_property
    def layout(self) -> np.ndarray:
        """Section and shape of each segment: plan, assessment, bullet, log length."""
        return np.array([[s.section == "plan", s.section in ("assessment", "response"), s.is_bullet,
                          np.log1p(len(s.text))] for s in self.segments],
                        dtype=np.float32).reshape(len(self.segments), 4)

    @cached_property
    def change_marks(self) -> list[list[float]]:
        return [change_marks(s.text) for s in self.segments]

    @cached_property
    def agency_matrix(self) -> np.ndarray:
        return np.array([agency(s.text) for s in self.segments], dtype=np.float32).reshape(len(self.segments), 4)

    @cached_property
    def segment_words(self) -> list[frozenset[str]]:
        return [content_words(s.text) for s in self.segments]


GOAL_SHAPE_COUNTS = slice(5, 9)  # the columns of `count_against_target`


def goal_shape(note: AnalysedNote, goal: GoalView) -> np.ndarray:
    """Per segment: the goal's action reported done, amount against the goal's target, word
    overlap, and counts against the goal's target or limit. Computed once per note and goal
    text (read-only)."""
    shape = note.goal_shapes.get(goal.goal.text)
    if shape is None:
        shape = note.goal_shapes[goal.goal.text] = _goal_shape(note, goal)
    return shape


def _goal_shape(note: AnalysedNote, goal: GoalView) -> np.ndarray:
    rows = []
    for segment, words in zip(note.segments, note.segment_words):
        ratio = target_ratio(goal.goal.text, segment.text)
        rows.append([goal_action_done(goal.goal.text, segment.text), ratio, ratio >= 1.0,
                     0 < ratio < 1.0, min(len(words & goal.words), 4),
                     *count_against_target(goal.goal.text, segment.text)])
    shape = np.array(rows, dtype=np.float32).reshape(len(note.segments), 9)
    shape.setflags(write=False)
    return shape


def segment_features(note: AnalysedNote) -> np.ndarray:
    """What a segment is about and how it is said: for the domain and flag heads."""
    return np.hstack([note.vectors, note.anchors.by_domain, np.minimum(note.keyword_hits, 3),
                      note.context_matrix, note.layout, note.direction_cues, note.flag_cue_hits])


def relevance_features(note: AnalysedNote, goal: GoalView, goal_cosines: np.ndarray) -> np.ndarray:
    """How strongly each segment speaks to one goal."""
    n = len(note.segments)
    if n == 0:
        return np.zeros((0, 13), dtype=np.float32)
    k = goal.domain_index
    overlap = np.array([len(words & goal.words) for words in note.segment_words], dtype=np.float32)
    jaccard = np.array([len(w & goal.words) / max(1, len(w | goal.words)) for w in note.segment_words],
                       dtype=np.float32)
    domain_sim = note.anchors.by_domain[:, k]
    top_domain = (note.anchors.by_domain.argmax(axis=1) == k).astype(np.float32)
    return np.column_stack([
        goal_cosines, goal_cosines - goal_cosines.max(), domain_sim, top_domain,
        np.minimum(note.keyword_hits[:, k], 3), np.minimum(overlap, 4), jaccard,
        note.context_matrix.any(axis=1), note.layout[:, 0], note.layout[:, 3],
        note.direction_cues.sum(axis=1) > 0, np.full(n, float(goal.ongoing)),
        goal_shape(note, goal)[:, 0],
    ]).astype(np.float32)


def direction_features(note: AnalysedNote, goal: GoalView, goal_cosines: np.ndarray) -> np.ndarray:
    """Which way each segment moves a goal: embeddings, cue counts, context, goal shape, the
    polarity of a change under this goal, and who acted."""
    n = len(note.segments)
    return np.hstack([
        note.vectors, note.vectors * goal.vector, note.direction_cues, note.context_matrix,
        note.layout[:, :1], goal_cosines.reshape(n, 1), np.full((n, 1), float(goal.ongoing)),
        goal_shape(note, goal), polarity_matrix(note, goal), note.agency_matrix,
    ]).astype(np.float32)


def polarity_matrix(note: AnalysedNote, goal: GoalView) -> np.ndarray:
    """Per segment: `change_polarity` under this goal, and a denial of the problem a goal
    brings down ("denies any alcohol use" for an abstinence goal) (7 values)."""
    negated = note.context_matrix[:, 0] if note.segments else np.zeros(0)
    rows = [change_polarity(marks, goal.reduces_problem) + [float(denied and goal.reduces_problem)]
            for marks, denied in zip(note.change_marks, negated)]
    return np.array(rows, dtype=np.float32).reshape(len(note.segments), 7)


def level_features(note: AnalysedNote, domain_index: int) -> np.ndarray:
    """How the segment reads against the rubric's level examples of one domain."""
    by_level = note.anchors.by_level[:, domain_index, :]
    shifted = np.exp((by_level - by_level.max(axis=1, keepdims=True)) * 20.0)
    soft = shifted / shifted.sum(axis=1, keepdims=True)
    return np.hstack([by_level, soft, note.vectors, note.direction_cues]).astype(np.float32)
