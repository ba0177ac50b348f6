"""The domain and flag decisions' rules, on synthetic evidence and note heads that always say
"present" or "absent": what holds whatever the trained heads learn."""

from __future__ import annotations

import numpy as np

from casenotes.reading.heads import LinearHead
from casenotes.reading.model import Thresholds
from casenotes.reading.score import (
    DOMAIN_SUMMARY_SIZE,
    FLAG_SUMMARY_SIZE,
    MOST_SEVERE,
    DomainEvidence,
    FlagEvidence,
    decide_domains,
    decide_flags,
)
from casenotes.schema import DOMAINS, FLAG_TYPES
from tests.conftest import segments_in

NOTE = "Cl signed a lease. Cl lost her job last week. Her sister was evicted."
SEGMENTS = segments_in(NOTE, [("Cl signed a lease.", "body"), ("Cl lost her job last week.", "body"),
                              ("Her sister was evicted.", "body")])
HOUSING, EMPLOYMENT = DOMAINS.index("housing"), DOMAINS.index("employment")
SEVERITY = {flag_type: 3 for flag_type in FLAG_TYPES}


def note_head(present: bool, size: int) -> LinearHead:
    """A binary note head that says present (or absent) with probability about 0.98, whatever it reads."""
    return LinearHead(classes=("0", "1"), kind="binary", mean=np.zeros(size), scale=np.ones(size),
                      coef=np.zeros((1, size)), intercept=np.array([4.0 if present else -4.0]))


def domain_evidence(usable=(True, True, False), level_of=None) -> DomainEvidence:
    """Segment 0 speaks of housing, segment 1 of employment, segment 2 of housing (someone else's)."""
    n = len(SEGMENTS)
    probs = np.zeros((n, len(DOMAINS)))
    probs[0, HOUSING], probs[1, EMPLOYMENT], probs[2, HOUSING] = 0.9, 0.8, 0.95
    levels = np.full((len(DOMAINS), n, 5), 0.2)
    for (domain, segment), level in (level_of or {}).items():
        levels[domain, segment] = np.eye(5)[level - 1]
    return DomainEvidence(probs=probs, levels=levels, usable=np.array(usable), keyword_hits=np.zeros((n, len(DOMAINS))),
                          anchor=np.zeros((n, len(DOMAINS))), plan_domains=frozenset())


def test_a_domain_is_levelled_from_its_own_current_statements_and_cites_them():
    results = decide_domains(domain_evidence(level_of={(HOUSING, 0): 4, (EMPLOYMENT, 1): 2}), SEGMENTS,
                             note_head(True, DOMAIN_SUMMARY_SIZE), Thresholds())
    by_domain = {r.domain: r for r in results}
    assert set(by_domain) == {"housing", "employment"}
    assert by_domain["housing"].level == 4 and [c.text for c in by_domain["housing"].citations] == ["Cl signed a lease."]
    assert by_domain["employment"].level == 2


def test_a_domain_only_someone_else_speaks_of_gets_no_level():
    results = decide_domains(domain_evidence(usable=(False, True, False)), SEGMENTS,
                             note_head(True, DOMAIN_SUMMARY_SIZE), Thresholds())
    assert [r.domain for r in results] == ["employment"]


def test_no_domain_is_levelled_when_the_note_head_finds_none_present():
    assert decide_domains(domain_evidence(), SEGMENTS, note_head(False, DOMAIN_SUMMARY_SIZE), Thresholds()) == []


def flag_evidence(k: int, probs=(0.0, 0.9, 0.0), cues=(0, 0, 0), gated=(False, False, False)) -> FlagEvidence:
    n = len(SEGMENTS)
    probs_all, cues_all, gated_all = np.zeros((n, len(FLAG_TYPES))), np.zeros((n, len(FLAG_TYPES))), np.zeros(
        (n, len(FLAG_TYPES)), dtype=bool)
    probs_all[:, k], cues_all[:, k], gated_all[:, k] = probs, cues, gated
    return FlagEvidence(probs=probs_all, cue_hits=cues_all, gated=gated_all, resolved=np.zeros(n, dtype=bool),
                        repeated=np.zeros(n, dtype=bool))


def test_a_flag_cites_the_segment_that_raises_it_with_the_rubrics_severity():
    k = FLAG_TYPES.index("housing_loss")
    flags = decide_flags(flag_evidence(k), SEGMENTS, note_head(True, FLAG_SUMMARY_SIZE), Thresholds(), SEVERITY)
    assert [(f.type, f.severity) for f in flags] == [("housing_loss", 3)]
    assert [c.text for c in flags[0].citations] == ["Cl lost her job last week."]


def test_a_segment_context_silences_raises_no_flag_even_if_the_note_head_says_present():
    k = FLAG_TYPES.index("housing_loss")
    evidence = flag_evidence(k, probs=(0.0, 0.0, 0.95), cues=(0, 0, 1), gated=(False, False, True))
    assert decide_flags(evidence, SEGMENTS, note_head(True, FLAG_SUMMARY_SIZE), Thresholds(), SEVERITY) == []


def test_a_rubric_cue_raises_a_most_severe_flag_by_itself_but_not_a_lesser_one():
    k = FLAG_TYPES.index("safety")
    evidence = flag_evidence(k, probs=(0.0, 0.1, 0.0), cues=(0, 1, 0))
    absent = note_head(False, FLAG_SUMMARY_SIZE)
    most_severe = {**SEVERITY, "safety": MOST_SEVERE}
    assert [f.type for f in decide_flags(evidence, SEGMENTS, absent, Thresholds(), most_severe)] == ["safety"]
    assert decide_flags(evidence, SEGMENTS, absent, Thresholds(), SEVERITY) == []
