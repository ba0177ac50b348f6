"""Counts against a goal's target: whether a number in a note reaches, falls short of, or goes
over what the goal asks, which decides the direction for counted goals."""

from __future__ import annotations

import pytest

from casenotes.text.cues import count_against_target

REACHED, SHORT, OVER, WITHIN = ([1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0],
                                [0.0, 0.0, 0.0, 1.0])
NOTHING = [0.0, 0.0, 0.0, 0.0]


@pytest.mark.parametrize(("goal", "segment", "expected"), [
    ("Reduce elopement from the classroom to 2 or fewer times per week", "Para data this week: 8 elopements.", OVER),
    ("Reduce elopement from the classroom to 2 or fewer times per week", "Elopements: 2 this week.", WITHIN),
    ("Reduce office referrals to no more than 1 per month", "He got 3 office referrals in May.", OVER),
    ("Attend 3 AA meetings a week", "He went to three meetings this week.", REACHED),
    ("Attend 3 AA meetings a week", "She only made 1 meeting, she had the flu.", SHORT),
    ("Complete all 6 sessions of the parenting group", "She has attended 3 of 6 sessions.", SHORT),
    ("Complete all 6 sessions of the parenting group", "She attended session 6 and got her certificate.", REACHED),
    ("Attend full school days 4 of 5 days a week", "Full days 5 of 5 last week.", REACHED),
    ("Turn in at least 80% of assignments each week", "Assignments: 70% and 71% the last two weeks.", SHORT),
])
def test_cues_count_against_target_reads_the_count_the_goal_sets(goal, segment, expected):
    assert count_against_target(goal, segment) == expected


@pytest.mark.parametrize(("goal", "segment"), [
    ("Sign a lease for a 2BR unit by 11/30/25", "Cl signed a lease on 11/2 for unit 12."),  # dates are not counts
    ("Earn 3 credits through credit recovery by 6/5/26", "Her sister has 4 kids at home."),  # not the goal's thing
    ("Save $500 for a deposit", "She has $600 saved."),  # money is target_ratio's
    ("Find stable housing", "She viewed 3 apartments."),  # the goal sets no count
])
def test_cues_count_against_target_ignores_numbers_that_are_not_the_goals_count(goal, segment):
    assert count_against_target(goal, segment) == NOTHING
