"""Polarity and agency cues: what rose or fell, whether it is a problem, and who acted."""

import pytest

from casenotes.text.cues import agency, change_marks, change_polarity, reduces_problem


@pytest.mark.parametrize("goal, expected", [
    ("Reduce tantrums to 2 or fewer per day", True),
    ("Remain abstinent from alcohol", True),
    ("Stay out of the hospital", True),
    ("Read grade-level passages with 80% accuracy", False),
    ("Find a part-time job by March", False),
])
def test_cues_reduces_problem_knows_goals_that_bring_a_problem_down(goal: str, expected: bool) -> None:
    assert reduces_problem(goal) is expected


def test_cues_a_problem_that_rose_under_a_problem_goal_is_marked_as_such() -> None:
    marks = change_marks("Tantrums rose to 9 per day, up from 4 last week.")
    rise_problem_goal, fall_problem_goal, rise_other, fall_other, rise_problem, fall_problem = \
        change_polarity(marks, problem_goal=True)
    assert (rise_problem_goal, fall_problem_goal, rise_other, fall_other) == (True, False, False, False)
    assert (rise_problem, fall_problem) == (True, False)


def test_cues_a_strength_that_fell_names_no_problem() -> None:
    marks = change_marks("Reading accuracy fell to 55%, down from 70% in October.")
    assert marks == [False, True, False]
    assert change_polarity(marks, problem_goal=False)[3] is True  # a fall under a goal that is no problem


@pytest.mark.parametrize("text, staff, staff_verb_first, suggests, client", [
    ("CM scheduled an appointment for cl at the job center.", True, False, False, False),
    ("I met with cl at the office.", True, False, False, False),
    ("Provided cl with a bus pass.", False, True, False, False),
    ("Writer encouraged cl to apply for SNAP.", True, False, True, False),
    ("Cl signed the lease on Monday.", False, False, False, True),
    ("I: Client attended the group.", False, False, False, True),  # "I:" is a BIRP header, not the writer
])
def test_cues_agency_tells_staff_actions_from_the_clients(text, staff, staff_verb_first, suggests, client) -> None:
    assert agency(text) == [staff, staff_verb_first, suggests, client]
