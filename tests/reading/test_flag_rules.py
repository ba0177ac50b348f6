"""The flag rules of casenotes.reading.flag_rules, each with phrasings it must and must not silence.

No trained model is needed: the rules are regexes over one segment's text (and its section),
with the packaged rubric's cues.
"""

import pytest

from casenotes.reading.flag_rules import is_confession_without_crisis, is_plan_goal_line
from casenotes.reading.flags import flag_is_gated, resolves, rule_gates
from casenotes.rubric import load_rubric
from casenotes.schema import FLAG_TYPES, ContextLabels


@pytest.mark.parametrize("text", [
    "Goal 1: prevent eviction and keep the apartment.",
    "Goal #2 - stay out of the hospital and keep weekly therapy.",
    "Objective 2a: no new arrests or probation violations.",
    "Long-term goal: remain safe from her ex-partner.",
    "Plan goal 3: maintain sobriety.",
    "- Treatment goals: reduce SI and self-harm urges.",
    "Short-term objective: pay rent on time to avoid eviction.",
])
def test_a_goal_line_is_silenced_for_every_type(text):
    assert is_plan_goal_line(text)
    assert all(rule_gates(t, text) for t in FLAG_TYPES)


def test_a_segment_of_the_goal_section_is_a_goal_line():
    assert is_plan_goal_line("Return-to-school plan after hospitalization.", section="goal")
    assert not is_plan_goal_line("Return-to-school plan after hospitalization.", section="response")


@pytest.mark.parametrize("text", [
    "Cl met her goal: she paid rent on time.",
    "Cl received an eviction notice on Monday; goal 1 is at risk.",
    "Goals were reviewed, then cl said her boyfriend hit her.",
    "The objective of the visit was to check on the kids.",
])
def test_an_event_that_names_a_goal_is_no_goal_line(text):
    assert not is_plan_goal_line(text)


@pytest.mark.parametrize("flag_type, text", [
    ("safety", "APS closed the case after the home visit."),
    ("safety", "The CPS referral was screened out."),
    ("safety", "The allegations were unfounded and the investigation was closed 3/2."),
    ("safety", "Threat assessment team closed the case 11/5."),
    ("safety", "The protective order was extended for another year."),
    ("safety", "Judge extended the order one year."),
    ("safety", "Judge granted a 2-year protective order."),
    ("safety", "Restraining order remains in effect through 2027."),
    ("housing_loss", "The eviction case was dismissed."),
    ("housing_loss", "Landlord withdrew the eviction notice after cl paid the arrears."),
    ("housing_loss", "Eviction resolved."),
    ("legal", "The warrant was recalled."),
    ("legal", "Judge dismissed the charges at the 9/8 hearing."),
    ("legal", "Bench warrant quashed, case dismissed."),
])
def test_a_resolution_or_a_protection_continuing_is_no_new_risk(flag_type, text):
    assert resolves(flag_type, text)
    assert rule_gates(flag_type, text)


@pytest.mark.parametrize("flag_type, text", [
    ("safety", "APS opened an investigation after the home visit."),
    ("safety", "CM made a CPS report after the 4-yr-old was found home alone."),
    ("safety", "Protective order granted after he choked her on Saturday."),
    ("safety", "Her boyfriend hit her so CPS closed the case."),
    ("housing_loss", "Cl received an eviction notice on Monday."),
    ("housing_loss", "Court granted the landlord's eviction; cl must move out by Friday."),
    ("housing_loss", "The eviction case was dismissed but the landlord changed the locks anyway."),
    ("legal", "Cl was arrested Friday; the old warrant was recalled."),
    ("legal", "A new warrant was issued for FTA."),
])
def test_a_new_risk_beside_or_instead_of_a_resolution_still_flags(flag_type, text):
    assert not resolves(flag_type, text)


def test_a_resolution_silences_only_the_types_it_resolves():
    assert not resolves("safety", "The eviction case was dismissed after cl's partner threatened the landlord.")
    assert not resolves("crisis", "The case was closed after the ER visit.")
    assert not resolves("disengagement", "Case closed: no contact since 3/1.")
    assert resolves("safety", "The protective order was extended.") and not resolves("legal", "The PFA was renewed.")


@pytest.mark.parametrize("text", [
    "Cl admitted he relapsed on beer over the weekend.",
    "Admitted she used meth the weekend of 4/26 after a fight w/ Carla.",
    "She admitted smoking THC once at a party.",
    "Cl disclosed drinking every night since the layoff.",
    "He reported using fentanyl twice this week.",
    "Cl admitted that he stopped his lithium about 2 weeks ago.",
])
def test_a_confession_of_use_is_no_crisis(text):
    assert is_confession_without_crisis(text)
    assert rule_gates("crisis", text)


@pytest.mark.parametrize("text", [
    "Cl relapsed and was found unresponsive.",
    "Cl admitted he relapsed and was found unresponsive by his roommate.",
    "Cl admitted to using heroin and overdosed Saturday; revived with Narcan.",
    "Cl reported she used meth and went to the ER with chest pain.",
    "Cl was admitted to the hospital after she reported using.",
    "Cl was admitted after she reported using.",
    "Admitted to County General overnight for DKA.",
    "Cl admitted he relapsed and was placed on a 72-hour hold.",
])
def test_a_confession_beside_a_crisis_sign_or_a_hospital_admission_is_still_crisis(text):
    assert not is_confession_without_crisis(text)
    assert not rule_gates("crisis", text)


def test_a_confession_silences_only_crisis():
    text = "Cl admitted he relapsed and threatened to kill himself."
    assert rule_gates("crisis", text) and not rule_gates("safety", text)


@pytest.mark.parametrize("text", [
    "SIB (head-banging against the wall) occurred 14 times during the session.",
    "Self-injurious behavior x3 during math.",
    "Self-injury observed at lunch (biting hand).",
    "Bit herself on the forearm twice when the schedule changed.",
    "Hits himself in the face when frustrated.",
    "Mateo banged his head on the floor 14 times.",
    "Skin picking on both arms until bleeding.",
    "Picked at her scabs until they bled.",
    "Cl cut herself last night.",
])
def test_self_injury_in_behavioural_data_language_is_a_safety_cue(text):
    assert load_rubric().flag("safety").any_cue.search(text)


@pytest.mark.parametrize("text", [
    "Her sibs came to the school play.",
    "Picked up the kids; the baby had a bloody nose from the heat.",
    "Cl bit into an apple and scratched his arm on a branch.",
])
def test_words_near_self_injury_are_no_safety_cue(text):
    assert not load_rubric().flag("safety").any_cue.search(text)


def test_flag_is_gated_applies_the_rules_and_keeps_the_rest():
    asserted = ContextLabels()
    assert flag_is_gated("crisis", asserted, "Cl admitted he relapsed on beer over the weekend.", True)
    assert flag_is_gated("safety", asserted, "APS closed the case after the home visit.", True)
    assert flag_is_gated("housing_loss", asserted, "prevent eviction and keep the apartment.", True, section="goal")
    assert not flag_is_gated("safety", asserted, "APS opened an investigation after the home visit.", True)
    assert not flag_is_gated("crisis", asserted, "Cl relapsed and was found unresponsive.", True)
    assert not flag_is_gated("housing_loss", asserted, "Cl received an eviction notice.", True)
    assert flag_is_gated("safety", ContextLabels(negated=True), "No head-banging this week.", True)


def test_the_rules_never_hang_on_pathological_input():
    """A hang guard, not a speed test: a rule that backtracked on these 100,000-character
    inputs would run for hours; linear rules take well under a second. The bound is wide so
    that a loaded test machine never fails it."""
    import time

    for text in ("admitted " * 20_000, "case " * 20_000 + "closed", "!" * 100_000, "Goal " * 20_000,
                 "a-" * 50_000, "x" * 100_000, "case " + "x" * 100_000):
        started = time.perf_counter()
        for flag_type in FLAG_TYPES:
            rule_gates(flag_type, text)
        assert time.perf_counter() - started < 30.0


def test_flag_rules_table_names_only_the_rubrics_flag_types():
    from casenotes.reading.flags import RULES
    from casenotes.rubric import load_rubric

    assert set(RULES) <= {flag.type for flag in load_rubric().flags} == set(FLAG_TYPES)


def test_flag_rules_name_only_kinds_of_resolution_that_exist():
    from casenotes.reading.flag_rules import RESOLUTION_KINDS
    from casenotes.reading.flags import RULES

    named = {kind for rules in RULES.values() for kind in rules.resolved_by}
    assert named and named <= set(RESOLUTION_KINDS)


def test_flag_rules_a_type_without_an_entry_gets_the_shared_gating_alone(monkeypatch):
    from casenotes.reading import flags

    monkeypatch.delitem(flags.RULES, "crisis")
    confession = "Cl admitted he relapsed on beer over the weekend."
    assert not flag_is_gated("crisis", ContextLabels(), confession, True)
    assert flag_is_gated("crisis", ContextLabels(negated=True), confession, True)
    assert flag_is_gated("crisis", ContextLabels(), "Goal 2: no ER visits this quarter.", True)
