"""How the goal reader's reading enters a goal's status: the summary, the house rules, citations."""

import numpy as np
import pytest

from casenotes.reading.goal_reader import LABELS
from casenotes.reading.heads import LinearHead
from casenotes.reading.model import Thresholds
from casenotes.reading.reader_summary import READER_SUMMARY_SIZE, combined_features, reader_citations, reader_summary
from casenotes.reading.score import GoalEvidence, decide_goal
from casenotes.schema import STATUSES
from tests.conftest import segments_in

TEXT = "D: Cl signed a lease today. She is still looking for work. P: apply for SNAP."
SEGMENTS = segments_in(TEXT, [("Cl signed a lease today.", "data"), ("She is still looking for work.", "data"),
                              ("apply for SNAP.", "plan")])
OPEN = np.zeros(3, dtype=bool)


def _reading(*rows: dict[str, float]) -> np.ndarray:
    out = np.zeros((len(rows), len(LABELS)))
    for i, row in enumerate(rows):
        for label, p in row.items():
            out[i, LABELS.index(label)] = p
        out[i, 0] = 1.0 - sum(row.values())
    return out


def test_reader_summary_has_a_fixed_size_even_for_an_empty_note() -> None:
    assert reader_summary(np.zeros((0, 5)), np.zeros(0, dtype=bool), False).shape == (READER_SUMMARY_SIZE,)
    reading = _reading({"achieved": 0.9}, {}, {})
    assert combined_features(np.full(5, 0.2), reading, OPEN, False).shape == (5 + READER_SUMMARY_SIZE,)


def test_reader_summary_moves_a_gated_segments_change_to_no_change() -> None:
    reading = _reading({}, {}, {"improving": 0.9})  # only the plan line speaks to the goal
    summary = reader_summary(reading, np.array([False, False, True]), ongoing=False)
    best = summary[2:6]  # per direction: improving, worsening, no-change, achieved
    assert best[0] == 0.0 and best[2] == pytest.approx(0.9)


def test_reader_citations_are_the_segments_carrying_the_status() -> None:
    reading = _reading({"achieved": 0.8}, {"no-change": 0.7}, {})
    assert reader_citations("achieved", reading, OPEN, False) == [0]
    assert reader_citations("no-change", reading, OPEN, False) == [0, 1]  # both speak to the goal
    assert reader_citations("improving", _reading({}, {}, {}), OPEN, False) == []


def _head_trusting_the_reader() -> LinearHead:
    """A combining head that follows the reader's best direction on the most relevant segment."""
    size = 5 + READER_SUMMARY_SIZE
    coef = np.zeros((len(STATUSES), size))
    leading = 5 + 2 + 8  # the status head's 5, two relevances, best and mean per direction
    for column, status in enumerate(STATUSES):
        if status in ("improving", "worsening", "no-change", "achieved"):
            coef[column, leading + ("improving", "worsening", "no-change", "achieved").index(status)] = 10.0
    coef[STATUSES.index("not-addressed"), 5] = -10.0  # low reader relevance: not addressed
    return LinearHead(tuple(STATUSES), "softmax", np.zeros(size), np.ones(size), coef,
                      np.array([0, 0, 0, 0, 5.0]))


class _AlwaysImproving:
    classes = tuple(STATUSES)

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        return np.tile([0.9, 0.025, 0.025, 0.025, 0.025], (len(features), 1))


def _evidence(reading: np.ndarray, asserted: np.ndarray, ongoing: bool = False) -> GoalEvidence:
    n = len(reading)
    return GoalEvidence(relevance=np.full(n, 0.6), direction=np.tile([0.7, 0.1, 0.1, 0.1], (n, 1)),
                        asserted=asserted, action_done=np.zeros(n), short_of_target=np.zeros(n),
                        in_plan=np.zeros(n, dtype=bool), in_domain=np.zeros(n), ongoing=ongoing, family=False,
                        reader=reading, reader_gated=~asserted)


def test_score_the_combining_head_decides_and_the_reader_is_cited() -> None:
    reading = _reading({}, {"worsening": 0.9}, {})
    result = decide_goal("G1", _evidence(reading, ~OPEN), SEGMENTS, _AlwaysImproving(), Thresholds(),
                         reader_head=_head_trusting_the_reader())
    assert result.status == "worsening"
    assert [c.text for c in result.citations] == ["She is still looking for work."]


def test_score_without_a_reading_the_status_head_decides() -> None:
    evidence = _evidence(_reading({}, {"worsening": 0.9}, {}), ~OPEN)
    evidence = GoalEvidence(**{**evidence.__dict__, "reader": None, "reader_gated": None})
    result = decide_goal("G1", evidence, SEGMENTS, _AlwaysImproving(), Thresholds(),
                         reader_head=_head_trusting_the_reader())
    assert result.status == "improving"


def test_score_the_combination_keeps_the_house_rules() -> None:
    achieved = _reading({"achieved": 0.95}, {}, {})
    ongoing = decide_goal("G1", _evidence(achieved, ~OPEN, ongoing=True), SEGMENTS, _AlwaysImproving(),
                          Thresholds(), reader_head=_head_trusting_the_reader())
    assert ongoing.status != "achieved"
    gated = decide_goal("G1", _evidence(_reading({"worsening": 0.95}, {}, {}), OPEN), SEGMENTS,
                        _AlwaysImproving(), Thresholds(), reader_head=_head_trusting_the_reader())
    assert gated.status in ("no-change", "not-addressed")
