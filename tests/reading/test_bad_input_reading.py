"""Bad input to the reader (issue 13): a template with empty fields, a one-word note, a
one-word goal, a goal in another language, a plan of 30 goals and a 100,000-character note
each get a defined result, and a note one character over the limit a clear error."""

import pytest

from casenotes.errors import NoteTooLarge
from casenotes.schema import DEFAULT_MAX_NOTE_CHARS, STATUSES, Goal, Plan

PLAN = Plan(goals=(
    Goal(goal_id="G1", text="Move into permanent housing by June 30", domain="housing"),
    Goal(goal_id="G2", text="Obtain a full-time job paying at least $17/hr", domain="employment"),
    Goal(goal_id="G3", text="Attend 3 NA meetings every week", domain="substance_use"),
))
HOUSING_NOTE = ("D: Met cl at the office. Cl signed a lease for a 1BR on Elm St and got the keys today.\n"
                "A: Housing secured.\nP: CM will f/u re: deposit assistance next wk.")

THIRTY_GOALS = [
    ("Move into permanent housing by June 30", "housing"),
    ("Pay the security deposit on the new apartment", "housing"),
    ("Pass the monthly apartment inspection", "housing"),
    ("Obtain a full-time job paying at least $17/hr", "employment"),
    ("Finish the forklift certification course", "employment"),
    ("Apply to 5 jobs every week", "employment"),
    ("Open a checking account", "income"),
    ("Follow a monthly budget", "income"),
    ("Apply for SSI benefits", "income"),
    ("Enroll in SNAP benefits", "food"),
    ("Visit the food pantry twice a month", "food"),
    ("Schedule a dental appointment", "health"),
    ("Take blood pressure medication every day", "health"),
    ("Attend weekly therapy sessions", "mental_health"),
    ("Learn two coping skills for anxiety", "mental_health"),
    ("Attend 3 NA meetings every week", "substance_use"),
    ("Stay sober for 90 days", "substance_use"),
    ("Complete a safety plan with the advocate", "safety"),
    ("Obtain a protective order", "safety"),
    ("Attend every court date", "legal"),
    ("Pay off the outstanding traffic fines", "legal"),
    ("Enroll in GED classes", "education"),
    ("Pass the GED math test", "education"),
    ("Get a monthly bus pass", "transportation"),
    ("Obtain a driver's license", "transportation"),
    ("Enroll her son in after-school care", "childcare"),
    ("Apply for a childcare subsidy", "childcare"),
    ("Reconnect with her sister", "social_support"),
    ("Join a parenting support group", "social_support"),
    ("Keep a weekly calendar of appointments", "life_skills"),
]


def visit_notes(length: int) -> str:
    """Realistic visit notes, each numbered so no two are the same, cut at `length` characters."""
    visit = ("Visit {n}: Met cl at the drop-in center. Cl reports she applied for 2 jobs at the warehouse "
             "this week and is waiting to hear back. Cl is still staying with her sister on Elm St; the lease "
             "application for the 1BR is pending. Cl attended NA meetings on Monday and Thursday. Cl denies "
             "SI/HI. P: CM will f/u on the deposit assistance and bus pass next wk.\n")
    text, n = "", 0
    while len(text) < length:
        n += 1
        text += visit.format(n=n)
    return text[:length]


def assert_well_formed(result, text: str, plan: Plan) -> None:
    """One result per goal in plan order, each status one of the five, every offset exact."""
    assert [g.goal_id for g in result.goals] == [g.goal_id for g in plan.goals]
    assert all(g.status in STATUSES for g in result.goals)
    for segment in result.segments:
        assert text[segment.start:segment.end] == segment.text
    for found in (*result.goals, *result.domains, *result.flags):
        for citation in found.citations:
            assert text[citation.start:citation.end] == citation.text


def assert_reads_nothing(result) -> None:
    assert {g.status for g in result.goals} == {"not-addressed"}
    assert all(g.citations == () for g in result.goals)
    assert result.domains == () and result.flags == ()


# An unfilled template states nothing about the client: its field labels are not segments.
TEMPLATES = [
    pytest.param("Subjective:\nObjective:\nAssessment:\nPlan:\nRisk: SI/HI:\nMSE: Mood: Affect:", id="SOAP"),
    pytest.param("D:\nA:\nP:\n", id="DAP"),
    pytest.param("Behavior:\nIntervention:\nResponse:\nPlan:", id="BIRP"),
    pytest.param("Subjective:\nObjective:\nRisk: SI/HI:\nMSE: Mood: Affect:\nAssessment:\nPlan:",
                 id="SOAP-risk-under-objective"),
    pytest.param("Housing status:\nEmployment:\nEviction notice:\nMissed appts:\nNext appt:",
                 id="intake-fields"),
]


@pytest.mark.parametrize("template", TEMPLATES)
def test_a_template_with_empty_fields_addresses_no_goal_and_raises_nothing(pipeline, template):
    result = pipeline.score(template, PLAN)
    assert_well_formed(result, template, PLAN)
    assert_reads_nothing(result)


def test_a_one_word_note_addresses_no_goal(pipeline):
    result = pipeline.score("Cancelled.", PLAN)
    assert_well_formed(result, "Cancelled.", PLAN)
    assert_reads_nothing(result)


def test_a_one_word_goal_is_accepted_and_read(pipeline):
    # The reader promises no status for so bare a goal, only a well-formed result.
    plan = Plan(goals=(Goal(goal_id="G1", text="Housing", domain="housing"),))
    assert_well_formed(pipeline.score(HOUSING_NOTE, plan), HOUSING_NOTE, plan)


def test_a_goal_in_another_language_is_accepted_and_read(pipeline):
    # The reader is English only (its encoder, cues and context rules): a Spanish goal is
    # accepted and read with them, and no status is promised for it.
    plan = Plan(goals=(Goal(goal_id="G1", text="Conseguir una vivienda estable y pagar el depósito antes de junio",
                            domain="housing"),))
    assert_well_formed(pipeline.score(HOUSING_NOTE, plan), HOUSING_NOTE, plan)


def test_a_plan_of_thirty_goals_gets_thirty_results_in_plan_order(pipeline):
    plan = Plan(goals=tuple(Goal(goal_id=f"G{i:02d}", text=text, domain=domain)
                            for i, (text, domain) in enumerate(THIRTY_GOALS, start=1)))
    result = pipeline.score(HOUSING_NOTE, plan)
    assert len(result.goals) == 30
    assert_well_formed(result, HOUSING_NOTE, plan)


def test_a_note_at_the_length_limit_is_read_to_its_end_with_exact_offsets(pipeline):
    text = visit_notes(DEFAULT_MAX_NOTE_CHARS)
    result = pipeline.score(text, PLAN)
    assert_well_formed(result, text, PLAN)
    assert result.segments[-1].end == len(text)  # nothing past some point is dropped


def test_a_note_one_character_over_the_limit_is_refused_naming_the_limit(pipeline):
    with pytest.raises(NoteTooLarge, match=f"limit is {DEFAULT_MAX_NOTE_CHARS}") as error:
        pipeline.score(visit_notes(DEFAULT_MAX_NOTE_CHARS + 1), PLAN)
    assert "drop-in" not in str(error.value)
