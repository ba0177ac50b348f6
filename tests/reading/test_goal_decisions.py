"""The goal decision's house rules, on synthetic evidence and a status head that always says
one thing: what stays true whatever the trained heads learn."""

from __future__ import annotations

import numpy as np
import pytest

from casenotes.reading.heads import LinearHead
from casenotes.reading.model import Thresholds
from casenotes.reading.score import SUMMARY_SIZE, GoalEvidence, decide_goal
from casenotes.schema import STATUSES
from tests.conftest import segments_in

NOTE = "Cl toured two units. Cl signed the lease today. Staff will call the landlord."
SEGMENTS = segments_in(NOTE, [("Cl toured two units.", "body"), ("Cl signed the lease today.", "body"),
                              ("Staff will call the landlord.", "plan")])
THRESHOLDS = Thresholds(relevance=0.5, addressed=0.8)


def head_saying(status: str) -> LinearHead:
    """A status head whose answer is `status` (probability about 0.98) whatever it reads."""
    intercept = np.where(np.array(STATUSES) == status, 6.0, 0.0)
    return LinearHead(classes=STATUSES, kind="softmax", mean=np.zeros(SUMMARY_SIZE), scale=np.ones(SUMMARY_SIZE),
                      coef=np.zeros((len(STATUSES), SUMMARY_SIZE)), intercept=intercept)


def evidence(relevance=(0.6, 0.9, 0.3), asserted=(True, True, False), ongoing=False, leaning=(0, 3, 0)):
    """Each segment leans 0.7 to one direction (DIRECTIONS: improving, worsening, no-change, achieved)."""
    n = len(relevance)
    direction = np.full((n, 4), 0.1)
    direction[np.arange(n), list(leaning)[:n]] = 0.7
    return GoalEvidence(relevance=np.array(relevance, dtype=float), direction=direction,
                        asserted=np.array(asserted, dtype=bool), action_done=np.zeros(n), short_of_target=np.zeros(n),
                        in_plan=np.zeros(n, dtype=bool), in_domain=np.zeros(n), ongoing=ongoing, family=False)


def test_goal_decision_follows_the_head_when_no_rule_applies():
    result = decide_goal("G1", evidence(), SEGMENTS, head_saying("achieved"), THRESHOLDS)
    assert result.status == "achieved"
    assert [c.text for c in result.citations] == ["Cl signed the lease today."]


def test_goal_decision_an_ongoing_goal_is_never_achieved():
    result = decide_goal("G1", evidence(ongoing=True), SEGMENTS, head_saying("achieved"), THRESHOLDS)
    assert result.status == "improving"


@pytest.mark.parametrize("change", ["improving", "worsening", "achieved"])
def test_goal_decision_without_an_asserted_relevant_segment_a_change_is_no_change(change):
    gated = evidence(asserted=(False, False, True))  # the only asserted segment is not relevant
    assert decide_goal("G1", gated, SEGMENTS, head_saying(change), THRESHOLDS).status == "no-change"


def test_goal_decision_a_note_without_segments_does_not_address_the_goal():
    empty = evidence(relevance=(), asserted=())
    result = decide_goal("G1", empty, [], head_saying("improving"), THRESHOLDS)
    assert result.status == "not-addressed" and result.citations == ()


def test_goal_decision_a_segment_past_the_addressed_threshold_speaks_to_the_goal():
    result = decide_goal("G1", evidence(), SEGMENTS, head_saying("not-addressed"), THRESHOLDS)
    assert result.status != "not-addressed"
    quiet = evidence(relevance=(0.6, 0.7, 0.3))  # nothing reaches 0.8
    assert decide_goal("G1", quiet, SEGMENTS, head_saying("not-addressed"), THRESHOLDS).status == "not-addressed"


def test_goal_decision_citations_are_exact_note_spans_in_note_order():
    both = evidence(relevance=(0.85, 0.9, 0.3), leaning=(3, 3, 0))
    result = decide_goal("G1", both, SEGMENTS, head_saying("achieved"), THRESHOLDS)
    assert [c.start for c in result.citations] == sorted(c.start for c in result.citations)
    assert all(NOTE[c.start:c.end] == c.text for c in result.citations)
    assert len(result.citations) == 2
