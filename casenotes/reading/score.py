"""Decisions from head outputs: goal statuses, domain levels and flags, each with citations.

Pure functions over probability arrays. Context gates every decision: a negated, hypothetical,
historical or someone else's statement moves no goal (it may show the goal was spoken of) and
raises no flag, but for the exceptions each flag type has (`casenotes.reading.flags.RULES`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from casenotes.reading.flags import flag_is_gated
from casenotes.reading.heads import Calibrator, LinearHead, in_order
from casenotes.reading.model import Thresholds
from casenotes.reading.reader_summary import RELEVANT, combined_features, reader_citations, reader_relevance
from casenotes.schema import (
    DOMAINS,
    FLAG_TYPES,
    STATUSES,
    Citation,
    ContextLabels,
    DomainResult,
    Flag,
    GoalResult,
    Segment,
)

__all__ = [
    "DIRECTIONS", "DomainEvidence", "FlagEvidence", "GoalEvidence", "domain_summary",
    "flag_summary", "decide_domains", "decide_flags", "decide_goal",
    "goal_summary", "heads_status_probabilities", "status_probabilities",
]

DIRECTIONS = ("improving", "worsening", "no-change", "achieved")
_PROGRESS = {"achieved": 1.0, "improving": 0.5, "no-change": 0.0, "worsening": -0.5}
_CHANGES = ("improving", "worsening", "achieved")
MAX_CITATIONS = 2
MOST_SEVERE = 5


def _cite(segments: list[Segment], indices) -> tuple[Citation, ...]:
    ordered = sorted(set(int(i) for i in indices), key=lambda i: segments[i].start)
    return tuple(Citation(start=segments[i].start, end=segments[i].end, text=segments[i].text)
                 for i in ordered)


@dataclass(frozen=True)
class GoalEvidence:
    """Per segment of one note, for one goal, plus the goal's own shape."""

    relevance: np.ndarray  # (n,)
    direction: np.ndarray  # (n, 4) in DIRECTIONS order
    asserted: np.ndarray  # (n,) bool: context lets this segment move the goal
    action_done: np.ndarray  # (n,) the goal's verb reported done
    short_of_target: np.ndarray  # (n,) an amount below the goal's target
    in_plan: np.ndarray  # (n,) bool
    in_domain: np.ndarray  # (n,) the domain head's probability that the segment is about the goal's domain
    ongoing: bool
    family: bool
    reader: np.ndarray | None = None  # (n, 5) the goal reader's probabilities, when one read the note
    reader_gated: np.ndarray | None = None  # (n,) bool: context forbids the segment to move this goal
    counts: np.ndarray | None = None  # (n, 4) `count_against_target`: reached, short, over the limit, within it


SUMMARY_SIZE = 42


def _top2(values: np.ndarray) -> tuple[float, float]:
    ordered = np.sort(values)[::-1]
    return (float(ordered[0]) if ordered.size else 0.0, float(ordered[1]) if ordered.size > 1 else 0.0)


def goal_summary(e: GoalEvidence) -> np.ndarray:
    """A fixed-length view of one goal over a whole note: what the status head reads.
    Gated segments contribute relevance only, never a direction."""
    asserted_rel = np.where(e.asserted, e.relevance, 0.0)
    gated_rel = np.where(e.asserted, 0.0, e.relevance)
    weighted = e.direction * asserted_rel[:, None] if e.relevance.size else np.zeros((0, 4))
    best_change = weighted.max(axis=0) if weighted.size else np.zeros(4)
    mean_direction = weighted.sum(axis=0) / max(asserted_rel.sum(), 1e-6) if weighted.size else np.zeros(4)
    top = int(np.argmax(asserted_rel)) if e.relevance.size else None
    first, second = _top2(e.relevance)
    return np.array([
        first, second, _top2(asserted_rel)[0], _top2(gated_rel)[0],
        float((e.relevance >= 0.5).sum()), float((asserted_rel >= 0.5).sum()),
        *best_change, *mean_direction,
        _top2(np.where(e.in_plan, e.relevance, 0.0))[0], float(e.ongoing), float(e.family),
        float(e.action_done[top]) if top is not None else 0.0,
        float(e.short_of_target[top]) if top is not None else 0.0,
        float((e.action_done * asserted_rel).max()) if e.relevance.size else 0.0,
        float((e.short_of_target * asserted_rel).max()) if e.relevance.size else 0.0,
        *_leading_directions(e, asserted_rel), *_in_domain_directions(e), *_counts_against_target(e, asserted_rel),
    ], dtype=np.float64)


def _counts_against_target(e: GoalEvidence, asserted_rel: np.ndarray) -> np.ndarray:
    """How the note's counts stand against the goal's target, in its relevant asserted segments
    (4 values, as `count_against_target`)."""
    if e.counts is None or not e.relevance.size:
        return np.zeros(4)
    return (e.counts * asserted_rel[:, None]).max(axis=0)


def _in_domain_directions(e: GoalEvidence) -> np.ndarray:
    """A change in the goal's domain moves the goal even when worded away from it
    ("laid off" for a job goal): per direction, the strongest asserted in-domain segment,
    and how strongly any segment is in the domain (5 values)."""
    if not e.relevance.size:
        return np.zeros(5)
    in_domain = np.where(e.asserted, e.in_domain, 0.0)
    return np.concatenate([(e.direction * in_domain[:, None]).max(axis=0), [e.in_domain.max()]])


def _leading_directions(e: GoalEvidence, asserted_rel: np.ndarray) -> np.ndarray:
    """Direction of the most relevant segment, of the most relevant asserted one, and
    the relevance-weighted mix of the two most relevant asserted ones (12 values)."""
    if not e.relevance.size:
        return np.zeros(12)
    top, top_asserted = int(np.argmax(e.relevance)), int(np.argmax(asserted_rel))
    leading = np.argsort(-asserted_rel)[:2]
    weights = asserted_rel[leading]
    mix = (e.direction[leading] * weights[:, None]).sum(axis=0) / max(weights.sum(), 1e-6)
    return np.concatenate([e.direction[top] * e.relevance[top],
                           e.direction[top_asserted] * asserted_rel[top_asserted], mix])


def decide_goal(goal_id: str, evidence: GoalEvidence, segments: list[Segment], status_head: LinearHead,
                thresholds: Thresholds, calibrator: Calibrator | None = None,
                reader_head: LinearHead | None = None) -> GoalResult:
    """A goal's status, confidence and citations. With a goal reader's reading and the head that
    combines it with the status head's, that head decides and the reader's segments are cited."""
    probs = heads_status_probabilities(evidence, status_head, thresholds)
    combined = reader_head is not None and evidence.reader is not None and evidence.relevance.size > 0
    if combined:
        probs = _combined_probabilities(evidence, probs, reader_head, thresholds.relevance)
    status = STATUSES[int(np.argmax(probs))]
    confidence = _calibrated(calibrator, float(probs.max()))
    if status == "not-addressed":
        return GoalResult(goal_id=goal_id, status=status, score=0.0, confidence=confidence)
    cited = (reader_citations(status, evidence.reader, evidence.reader_gated, evidence.ongoing) if combined
             else []) or _goal_citations(status, evidence, thresholds.relevance)
    direction = evidence.direction[cited[0]] if evidence.asserted[cited[0]] else None
    return GoalResult(goal_id=goal_id, status=status, score=_progress(status, direction),
                      confidence=confidence, citations=_cite(segments, cited))


def heads_status_probabilities(evidence: GoalEvidence, status_head: LinearHead, thresholds: Thresholds) -> np.ndarray:
    """`status_probabilities`, and a goal with a segment at `thresholds.addressed` is addressed."""
    probs = status_probabilities(evidence, status_head, thresholds.relevance)
    if evidence.relevance.size and evidence.relevance.max() >= thresholds.addressed:
        probs[STATUSES.index("not-addressed")] = 0.0  # a segment this relevant speaks to the goal
        probs = probs / probs.sum()
    return probs


def status_probabilities(evidence: GoalEvidence, status_head: LinearHead, floor: float) -> np.ndarray:
    """The status head's probabilities in STATUSES order, with the house rules applied:
    an ongoing goal is never achieved, and only an asserted, relevant segment can move a goal."""
    raw = status_head.predict_proba(goal_summary(evidence)[None, :])[0]
    may_change = bool((evidence.asserted & (evidence.relevance >= floor)).any())
    probs = _with_house_rules(raw, status_head.classes, evidence.ongoing, may_change)
    if not evidence.relevance.size:
        probs[:] = 0.0
        probs[STATUSES.index("not-addressed")] = 1.0
    return probs / probs.sum()


def _with_house_rules(raw: np.ndarray, classes, ongoing: bool, may_change: bool) -> np.ndarray:
    """A head's status probabilities in STATUSES order, normalised, after the house rules: an
    ongoing goal is never achieved (that mass goes to improving), and without a segment that
    may move the goal a change is no change."""
    probs = in_order(raw[None, :], classes, STATUSES)[0]
    if ongoing:
        probs[STATUSES.index("improving")] += probs[STATUSES.index("achieved")]
        probs[STATUSES.index("achieved")] = 0.0
    if not may_change:
        for change in _CHANGES:
            probs[STATUSES.index("no-change")] += probs[STATUSES.index(change)]
            probs[STATUSES.index(change)] = 0.0
    return probs / probs.sum()


def _combined_probabilities(e: GoalEvidence, status_probs: np.ndarray, reader_head: LinearHead,
                            floor: float) -> np.ndarray:
    """The combining head's probabilities in STATUSES order, under the same house rules: an
    ongoing goal is never achieved, and a change needs an asserted segment that the heads or
    the reader find relevant."""
    features = combined_features(status_probs, e.reader, e.reader_gated, e.ongoing)
    raw = reader_head.predict_proba(features[None, :])[0]
    speaking = (e.relevance >= floor) | (reader_relevance(e.reader) >= RELEVANT)
    return _with_house_rules(raw, reader_head.classes, e.ongoing, bool((~e.reader_gated & speaking).any()))


def _goal_citations(status: str, e: GoalEvidence, floor: float) -> list[int]:
    if status == "no-change":
        return [int(np.argmax(e.relevance))]
    column = DIRECTIONS.index(status)
    scores = np.where(e.asserted & (e.relevance >= floor), e.relevance * e.direction[:, column], -1.0)
    ranked = [int(i) for i in np.argsort(-scores)[:MAX_CITATIONS]]
    cited = [ranked[0]]
    if len(ranked) > 1 and scores[ranked[1]] >= 0.6 * scores[ranked[0]] > 0 \
            and e.direction[ranked[1]].argmax() == column:
        cited.append(ranked[1])
    return cited


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


@dataclass(frozen=True)
class DomainEvidence:
    """Per segment of one note, for every rubric domain."""

    probs: np.ndarray  # (n, 14) segment is about the domain
    levels: np.ndarray  # (14, n, 5) level probabilities, levels 1..5
    usable: np.ndarray  # (n,) bool: a current statement about the client
    keyword_hits: np.ndarray  # (n, 14)
    anchor: np.ndarray  # (n, 14) best similarity to the domain's rubric examples
    plan_domains: frozenset[int]  # domains of the plan's goals


DOMAIN_SUMMARY_SIZE = 8 + len(DOMAINS)


def domain_summary(e: DomainEvidence, k: int) -> np.ndarray:
    """A fixed-length view of one domain over a whole note: what the domain head reads."""
    usable = np.where(e.usable, e.probs[:, k], 0.0) if e.probs.size else np.zeros(0)
    first, second = _top2(usable)
    one_hot = np.zeros(len(DOMAINS))
    one_hot[k] = 1.0
    return np.array([
        first, second, float((usable >= 0.5).sum()), _top2(e.probs[:, k])[0] if e.probs.size else 0.0,
        float(min(5, e.keyword_hits[e.usable, k].sum())) if e.probs.size else 0.0,
        _top2(e.anchor[:, k])[0] if e.probs.size else 0.0, float(k in e.plan_domains),
        np.log1p(len(usable)), *one_hot,
    ])


def _presence(head: LinearHead, summaries: list[np.ndarray]) -> np.ndarray:
    """A note-level binary head's probability that each summarised item is present."""
    return head.predict_proba(np.stack(summaries))[:, list(head.classes).index("1")]


def _strongest(scores: np.ndarray) -> list[int]:
    """The segments to cite: the best, and the runner-up when it is nearly as strong."""
    return [int(i) for i in np.argsort(-scores)[:MAX_CITATIONS] if scores[i] >= 0.6 * scores.max()]


def decide_domains(e: DomainEvidence, segments: list[Segment], domain_head: LinearHead,
                   thresholds: Thresholds, calibrator: Calibrator | None = None) -> list[DomainResult]:
    if not segments:
        return []
    present = _presence(domain_head, [domain_summary(e, k) for k in range(len(DOMAINS))])
    results = []
    for k, domain in enumerate(DOMAINS):
        scores = np.where(e.usable, e.probs[:, k], 0.0)
        if present[k] < thresholds.domain or scores.max() <= 0.0:
            continue
        ranked = _strongest(scores)
        weights = scores[ranked] / scores[ranked].sum()
        mean_probs = (e.levels[k][ranked] * weights[:, None]).sum(axis=0)
        level = int(np.clip(round(float(mean_probs @ np.arange(1, 6))), 1, 5))
        raw = float(present[k]) * float(mean_probs[max(0, level - 2): level + 1].sum())
        results.append(DomainResult(domain=domain, level=level, confidence=_calibrated(calibrator, raw),
                                    citations=_cite(segments, ranked)))
    return results


@dataclass(frozen=True)
class FlagEvidence:
    """Per segment of one note, for every flag type."""

    probs: np.ndarray  # (n, 5) the segment flag head
    cue_hits: np.ndarray  # (n, 5) a rubric cue matches
    gated: np.ndarray  # (n, 5) bool: context silences this segment for this type
    resolved: np.ndarray  # (n,) bool: the segment reports a resolution ("dismissed", "no new charges")
    repeated: np.ndarray  # (n,) bool: the segment counts more than one ("x2", "both", "again")

    @classmethod
    def build(cls, probs: np.ndarray, cue_hits: np.ndarray, contexts: list[ContextLabels],
              segments: list[Segment]) -> FlagEvidence:
        gated = np.array([[flag_is_gated(t, c, s.text, bool(cue_hits[i, k]), s.section)
                           for k, t in enumerate(FLAG_TYPES)]
                          for i, (c, s) in enumerate(zip(contexts, segments))], dtype=bool)
        return cls(probs=probs, cue_hits=cue_hits, gated=gated.reshape(len(segments), len(FLAG_TYPES)),
                   resolved=np.array([bool(_RESOLVED.search(s.text)) for s in segments], dtype=bool),
                   repeated=np.array([bool(_REPEATED.search(s.text)) for s in segments], dtype=bool))

    def segment_scores(self, k: int) -> np.ndarray:
        """How strongly each segment raises flag type k; 0 where context silences it."""
        return np.where(self.gated[:, k], 0.0, 0.6 * self.probs[:, k] + 0.4 * self.cue_hits[:, k])


_RESOLVED = re.compile(
    r"\b(?:dismissed|quashed|recalled|withdrawn|resolved|cleared|granted|lifted|in compliance|compliant|"
    r"no new|closed|expunged|reinstated|continued|no jail|rescinded|paid (?:off|in full)|caught up|"
    r"extended|made permanent|renewed|no contact)\b",
    re.IGNORECASE)
# Disengagement needs two or more missed contacts: words that count past one.
_REPEATED = re.compile(
    r"\b(?:x ?[2-9]|[2-9]x|twice|two|three|four|both|several|multiple|again|another|repeated(?:ly)?|"
    r"consecutive|all (?:week|month)|\d+ (?:times|appts|appointments|calls|sessions))\b"
    r"|(?<!\d)\d++/\d++\s*(?:and|&|,)\s*\d+/\d+",  # dates start where digits start: linear on a run of digits
    re.IGNORECASE)
FLAG_SUMMARY_SIZE = 11 + len(FLAG_TYPES)


def flag_summary(e: FlagEvidence, k: int) -> np.ndarray:
    """A fixed-length view of one flag type over a whole note: what the flag head reads.
    Its evidence features come from segments context lets speak; gated ones only inform."""
    scores = e.segment_scores(k)
    open_probs = np.where(e.gated[:, k], 0.0, e.probs[:, k])
    open_cues = np.where(e.gated[:, k], 0.0, e.cue_hits[:, k])
    top = int(np.argmax(scores)) if scores.size else None
    one_hot = np.zeros(len(FLAG_TYPES))
    one_hot[k] = 1.0
    return np.array([
        *_top2(scores), _top2(open_probs)[0], float(open_cues.sum() > 0), float(min(3, open_cues.sum())),
        _top2(np.where(e.gated[:, k], e.probs[:, k], 0.0))[0],
        float(((e.cue_hits[:, k] > 0) & e.gated[:, k]).any()),
        float(e.resolved[top]) if top is not None else 0.0, float(e.resolved.any()),
        float((open_cues > 0).sum() >= 2), float(((open_cues > 0) & e.repeated).any()), *one_hot,
    ])


# A flag cites the segment that raises it: with no segment context lets speak at this score
# (the segment head's probability and the rubric cue, blended), there is nothing to cite.
MIN_FLAG_EVIDENCE = 0.02


def decide_flags(e: FlagEvidence, segments: list[Segment], flag_head: LinearHead, thresholds: Thresholds,
                 severity: dict[str, int], calibrator: Calibrator | None = None) -> list[Flag]:
    """Flags with the rubric's `severity` per type; the queue sorts by it. For the most
    severe types a rubric cue in a segment context lets speak raises the flag by itself:
    there a miss costs more than any false alarm."""
    if not segments:
        return []
    present = _presence(flag_head, [flag_summary(e, k) for k in range(len(FLAG_TYPES))])
    flags = []
    for k, flag_type in enumerate(FLAG_TYPES):
        scores = e.segment_scores(k)
        cue_backed = severity[flag_type] >= MOST_SEVERE and bool((e.cue_hits[:, k] > 0)[~e.gated[:, k]].any())
        if scores.max() < MIN_FLAG_EVIDENCE or (present[k] < thresholds.flag.get(flag_type, 0.5) and not cue_backed):
            continue
        ranked = _strongest(scores)
        flags.append(Flag(type=flag_type, severity=severity[flag_type],
                          confidence=_calibrated(calibrator, float(present[k])),
                          citations=_cite(segments, ranked)))
    return flags


def feature_signature() -> str:
    """Changes whenever the features the heads read change shape: a model must match it."""
    return f"segment-v2/direction-v3/goal-{SUMMARY_SIZE}/domain-{DOMAIN_SUMMARY_SIZE}/flag-{FLAG_SUMMARY_SIZE}"
