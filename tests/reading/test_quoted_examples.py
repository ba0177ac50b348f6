"""The errors issue 13 quotes, each with the answer the label rules give.

Each test states the right answer. Where today's reader still gets it wrong the test is a
strict xfail naming the miss, so a reader that fixes it turns the test red until the mark
goes: the list of known misses can only shrink.
"""

import pytest

from casenotes.schema import Goal, Plan

HOUSING = Goal(goal_id="G1", text="Keep stable housing and pay rent on time each month", domain="housing")
SOBRIETY = Goal(goal_id="G2", text="Remain abstinent from alcohol", domain="substance_use")
MOOD = Goal(goal_id="G3", text="Reduce depressive symptoms and stay out of the hospital", domain="mental_health")
TANTRUMS = Goal(goal_id="G4", text="Reduce tantrums to 2 or fewer per day", domain="mental_health")
READING = Goal(goal_id="G5", text="Read grade-level passages with 80% accuracy", domain="education")
TRANSPORT = Goal(goal_id="G6", text="Get to work on her own using public transit", domain="transportation")
FOOD = Goal(goal_id="G7", text="Apply for SNAP benefits", domain="food")
JOB = Goal(goal_id="G8", text="Find a part-time job by March", domain="employment")

READER_MISS = ("issue 13: casenotes 0.2.0 and 0.3.0 read this as improving: the polarity feature marks "
               "a problem that rose and 0.3.0's count feature a count over the goal's limit, but the heads "
               "weigh 'up from 4' more (status head improving 0.82); 'Tantrums increased this week.' alone is "
               "read as worsening")
MISS = pytest.mark.xfail(strict=True, reason=READER_MISS)
EVICTION_MISS = pytest.mark.xfail(strict=True, reason=(
    "issue 13: casenotes 0.3.0 reads this as no-change (0.2.0 read worsening): its status head, refitted on "
    "17 writers, gives no-change 0.81 for this ongoing goal ('each month') although the reader leans "
    "worsening; the housing_loss flag is raised"))
OVERDOSE_MISS = pytest.mark.xfail(strict=True, reason=(
    "issue 13: casenotes 0.3.0 reads this as not-addressed (0.2.0 read worsening, narrowly): the goal reader "
    "finds a psychiatric hold irrelevant to 'stay out of the hospital' (0.02) and the refitted combining head "
    "trusts it over the heads' worsening 0.71; the crisis flag is raised"))


def status(pipeline, text, *goals):
    result = pipeline.score(text, Plan(goals=goals))
    return {g.goal_id: g.status for g in result.goals}


def flag_types(pipeline, text, *goals):
    return {f.type for f in pipeline.score(text, Plan(goals=goals or (HOUSING,))).flags}


@EVICTION_MISS
def test_quoted_eviction_notice_is_a_setback_and_a_housing_loss_flag(pipeline):
    text = "Rent is 2 months behind and an eviction notice was posted on her door Monday."
    assert status(pipeline, text, HOUSING)["G1"] == "worsening"
    assert "housing_loss" in flag_types(pipeline, text, HOUSING)


def test_quoted_denied_use_and_a_negative_screen_are_progress(pipeline):
    text = "Cl denies any alcohol use since last contact; UDS neg today."
    assert status(pipeline, text, SOBRIETY)["G2"] == "improving"


@OVERDOSE_MISS
def test_quoted_overdose_and_a_hold_are_a_setback_and_a_crisis(pipeline):
    text = "Cl overdosed on Saturday and was placed on a 72-hour hold at County Psych."
    assert status(pipeline, text, MOOD)["G3"] == "worsening"
    assert "crisis" in flag_types(pipeline, text, MOOD)


@MISS
def test_quoted_a_problem_behaviour_that_rose_is_a_setback(pipeline):
    text = "Tantrums rose to 9 per day this week, up from 4 last week."
    assert status(pipeline, text, TANTRUMS)["G4"] == "worsening"


def test_quoted_a_strength_that_fell_is_a_setback(pipeline):
    text = "Reading accuracy fell to 55% on grade-level passages, down from 70% in October."
    assert status(pipeline, text, READING)["G5"] == "worsening"


@pytest.mark.parametrize("text, goal", [
    pytest.param("CM provided cl with a monthly bus pass.", TRANSPORT, id="provided"),
    pytest.param("CM suggested cl apply for SNAP at the county office.", FOOD, id="suggested"),
    pytest.param("CM scheduled an appointment for cl at the job center.", JOB, id="scheduled"),
])
def test_quoted_what_staff_did_or_suggested_is_not_the_clients_progress(pipeline, text, goal):
    assert status(pipeline, text, goal)[goal.goal_id] in ("no-change", "not-addressed")


def test_quoted_a_goal_the_note_never_speaks_of_is_not_addressed(pipeline):
    text = "Cl signed up for an evening GED class and attended the first session."
    assert status(pipeline, text, HOUSING, SOBRIETY) == {"G1": "not-addressed", "G2": "not-addressed"}


@pytest.mark.parametrize("text", [
    pytest.param("MSE: A&Ox4, mood 'ok', affect congruent. No SI/HI. Risk: SI denied, HI denied, no plan.",
                 id="no-si-hi-checklist"),
    pytest.param("Cl admitted he relapsed on beer over the weekend.", id="confessed-relapse"),
    pytest.param("The protective order was extended for another year.", id="order-extended"),
    pytest.param("APS closed the case after the home visit.", id="aps-closed"),
    pytest.param("Goal 1: prevent eviction and keep the apartment.", id="plan-goal-line"),
    pytest.param("Cl recalled being evicted back in 2019, before she came to the program.", id="recalled-eviction"),
])
def test_quoted_no_flag_for_negated_resolved_planned_or_recalled_statements(pipeline, text):
    assert flag_types(pipeline, text, HOUSING, SOBRIETY, MOOD) == set()


def test_quoted_self_harm_in_behavioural_data_language_is_a_safety_flag(pipeline):
    text = "SIB (head-banging against the wall) occurred 14 times during the session."
    assert "safety" in flag_types(pipeline, text, TANTRUMS)


def test_quoted_a_bare_contact_line_is_no_evidence_of_an_employment_level(pipeline):
    text = "Brief phone contact. Cl said she started a part-time job at the bakery on Monday."
    result = pipeline.score(text, Plan(goals=(JOB,)))
    cited = [c.text for d in result.domains if d.domain == "employment" for c in d.citations]
    assert "Brief phone contact." not in cited
