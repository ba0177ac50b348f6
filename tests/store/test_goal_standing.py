"""Where a client stands on a goal, on plain readings: the latest note that spoke to it decides
(a setback stays a setback when later notes say nothing of the goal), a reviewer's value wins
with the machine's kept beside it, the trend of the last notes, and the days since evidence."""

from __future__ import annotations

from datetime import date

import pytest

from casenotes.schema import Citation
from casenotes.store.goal_standing import GoalReading, goal_standing, trend_of

AS_OF = date(2026, 4, 1)


def reading(day: int, status: str, machine: str | None = None, month: int = 3, review: str | None = None,
            note_id: str | None = None) -> GoalReading:
    return GoalReading(note_id=note_id or f"N-{month}-{day}", note_date=date(2026, month, day), result_id=day,
                       status=status, machine_status=machine or status, review=review,
                       citations=(Citation(start=0, end=4, text="Cl l"),))


def test_goal_standing_after_a_setback_is_worsening_not_not_addressed():
    readings = [reading(1, "improving"), reading(10, "worsening"), reading(20, "not-addressed"),
                reading(25, "not-addressed")]
    standing = goal_standing("G1", readings, as_of=AS_OF)
    assert standing.status == "worsening"
    assert standing.evidence.note_id == "N-3-10"
    assert standing.evidence.citations == (Citation(start=0, end=4, text="Cl l"),)


def test_goal_standing_a_correction_wins_and_the_machine_value_is_kept():
    readings = [reading(1, "improving"), reading(10, "worsening", machine="no-change", review="corrected")]
    standing = goal_standing("G1", readings, as_of=AS_OF)
    assert (standing.status, standing.machine_status, standing.evidence.review) == ("worsening", "no-change",
                                                                                     "corrected")


def test_goal_standing_a_note_corrected_to_not_addressed_no_longer_speaks_to_the_goal():
    readings = [reading(1, "no-change"), reading(10, "not-addressed", machine="achieved", review="corrected")]
    standing = goal_standing("G1", readings, as_of=AS_OF)
    assert (standing.status, standing.evidence.note_id) == ("no-change", "N-3-1")


def test_goal_standing_a_note_the_machine_missed_but_a_reviewer_read_counts():
    readings = [reading(1, "no-change"), reading(10, "improving", machine="not-addressed", review="corrected")]
    standing = goal_standing("G1", readings, as_of=AS_OF)
    assert (standing.status, standing.machine_status) == ("improving", "not-addressed")


@pytest.mark.parametrize(("as_of", "days", "note_id"), [
    (date(2026, 3, 10), 0, "N-3-10"),
    (date(2026, 4, 1), 22, "N-3-10"),
    (date(2026, 3, 9), 8, "N-3-1"),  # a note after the day asked about does not count yet
])
def test_goal_standing_days_since_evidence_count_to_the_day_asked_about(as_of, days, note_id):
    standing = goal_standing("G1", [reading(1, "improving"), reading(10, "worsening")], as_of=as_of)
    assert (standing.days_since_evidence, standing.evidence.note_id) == (days, note_id)


def test_goal_standing_no_note_spoke_to_the_goal_leaves_no_standing():
    for readings in ([], [reading(1, "not-addressed")]):
        standing = goal_standing("G1", readings, as_of=AS_OF)
        assert standing.evidence is None and standing.status is None and standing.machine_status is None
        assert standing.days_since_evidence is None
        assert standing.trend.statuses == () and standing.trend.summary is None


def test_goal_standing_trend_is_the_last_notes_that_spoke_to_the_goal_oldest_first():
    readings = [reading(1, "worsening"), reading(5, "no-change"), reading(8, "not-addressed"), reading(12, "improving"),
                reading(20, "improving"), reading(22, "not-addressed")]
    standing = goal_standing("G1", list(reversed(readings)), as_of=AS_OF)  # given in any order
    assert standing.trend.statuses == ("no-change", "improving", "improving")
    assert standing.trend.summary == "improving"
    assert goal_standing("G1", readings, as_of=AS_OF, window=5).trend.statuses == (
        "worsening", "no-change", "improving", "improving")


def test_goal_standing_notes_of_one_day_keep_their_order():
    readings = [reading(3, "improving", note_id="N-a"), reading(3, "worsening", note_id="N-b")]
    assert goal_standing("G1", readings, as_of=AS_OF).evidence.note_id == "N-b"


@pytest.mark.parametrize(("statuses", "summary"), [
    ((), None),
    (("improving",), "improving"),
    (("no-change", "achieved"), "improving"),
    (("worsening", "no-change", "worsening"), "worsening"),
    (("no-change", "no-change"), "steady"),
    (("improving", "improving", "worsening"), "mixed"),
    (("worsening", "achieved"), "mixed"),
])
def test_goal_standing_trend_summary(statuses, summary):
    assert trend_of(statuses).summary == summary
