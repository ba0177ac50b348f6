"""The pipeline end to end with the real embedding model and the packaged heads."""

import pytest

from casenotes.errors import InvalidInput, InvalidPlan, NoteTooLarge
from casenotes.schema import Goal, Note, Plan
from casenotes.shared_format import plan_from_goals

HOUSING = Goal(goal_id="G1", text="Move into permanent housing by June 30", domain="housing")
JOB = Goal(goal_id="G2", text="Obtain a full-time job paying at least $17/hr", domain="employment")
SOBRIETY = Goal(goal_id="G3", text="Attend 3 NA meetings every week", domain="substance_use")
PLAN = Plan(goals=(HOUSING, JOB, SOBRIETY))


def status_of(result, goal_id):
    return next(g for g in result.goals if g.goal_id == goal_id)


def test_pipeline_citations_are_exact_substrings(pipeline):
    note = ("D: Met cl at the office. Cl signed a lease for a 1BR on Elm St and got the keys today.\n"
            "A: Cl reports she was fired from the warehouse on Friday. Cl denies SI/HI.\n"
            "P: CM will f/u re: job leads next wk.")
    result = pipeline.score(note, PLAN)
    cited = [c for g in result.goals for c in g.citations] + [c for d in result.domains for c in d.citations] \
        + [c for f in result.flags for c in f.citations]
    assert cited
    for citation in cited:
        assert note[citation.start:citation.end] == citation.text


def test_pipeline_reads_progress(pipeline):
    result = pipeline.score("Cl signed a lease for a 1BR on Elm St and moved in yesterday.", PLAN)
    assert status_of(result, "G1").status in ("achieved", "improving")
    assert status_of(result, "G3").status == "not-addressed"


@pytest.mark.parametrize("note", [
    "Cl lost her job at the warehouse on Friday.",
    "Cl was fired from her job at the warehouse.",
    "Cl was laid off from the plant last week.",
])
def test_pipeline_reads_a_job_setback(pipeline, note):
    assert status_of(pipeline.score(note, PLAN), "G2").status == "worsening"


# Known misses of the packaged model, kept visible: strict, so a model that fixes
# one makes its test fail until the mark is removed.
@pytest.mark.xfail(strict=True, reason=(
    "issue 13: casenotes 0.3.0 reads this as no-change (0.34) over improving and achieved (0.28 each); 0.2.0 "
    "read achieved. The reader reads 'Cl signed a lease' as achieved 0.54 but 'Housing secured.' as no-change"))
def test_pipeline_reads_a_signed_lease_beside_an_old_eviction_notice_as_achieved(pipeline):
    note = ("D: Met cl at the office. Cl signed a lease for a 1BR apartment on Elm St today. "
            "Cl received a 3-day eviction notice at the motel last week but has now moved out.\n"
            "A: Housing secured. P: f/u on job applications next week.")
    assert status_of(pipeline.score(note, PLAN), "G1").status in ("achieved", "improving")


def test_pipeline_reads_a_setback_beside_progress(pipeline):
    note = "Cl signed a lease for a 1BR on Elm St and moved in yesterday. Cl lost her job at the warehouse on Friday."
    assert status_of(pipeline.score(note, PLAN), "G2").status == "worsening"


def test_pipeline_reads_cut_hours_as_a_setback(pipeline):
    assert status_of(pipeline.score("Cl's hours at the warehouse were cut to 10/wk.", PLAN), "G2").status == "worsening"


@pytest.mark.parametrize("decoy", [
    "Cl denies SI/HI.",
    "Her brother was arrested last weekend.",
    "Cl was evicted back in 2019 and has been housed since.",
    "If the car breaks down again she may lose the job.",
])
def test_pipeline_context_decoys_raise_no_flag(pipeline, decoy):
    result = pipeline.score(f"Met w/ cl for monthly check-in. {decoy} Cl in good spirits.", PLAN)
    assert result.flags == ()


@pytest.mark.parametrize("note, flag_type", [
    ("Cl disclosed SI with a plan to overdose on her pills tonight.", "safety"),
    ("Cl was taken to the ER by ambulance after an overdose on Sunday.", "crisis"),
    ("Cl received a 3-day eviction notice from the landlord today.", "housing_loss"),
    ("Cl was arrested Friday night and is being held on a warrant.", "legal"),
    ("Cl no-showed two appts this month and her phone is disconnected.", "disengagement"),
])
def test_pipeline_raises_each_flag_type_with_citation(pipeline, note, flag_type):
    result = pipeline.score(note, PLAN)
    flag = next(f for f in result.flags if f.type == flag_type)
    assert flag.citations and 0.0 <= flag.confidence <= 1.0


def test_pipeline_planned_step_is_not_progress(pipeline):
    result = pipeline.score("P: Cl will apply for jobs at the warehouse next week.", PLAN)
    assert status_of(result, "G2").status in ("no-change", "not-addressed")


def test_pipeline_records_versions_and_is_deterministic(pipeline):
    note = "Cl started a full-time job at the warehouse at $18/hr on Monday."
    first, second = pipeline.score(note, PLAN), pipeline.score(note, PLAN)
    assert first == second
    assert first.rubric_name == "self-sufficiency" and first.rubric_version
    assert len(first.rubric_hash) == 64 and "all-MiniLM-L6-v2" in first.model_version


def test_pipeline_batch_equals_one_at_a_time(pipeline):
    notes = ["Cl got the keys to her new apartment.", "Cl missed NA meetings all week.", ""]
    batch = pipeline.score_many([(n, PLAN) for n in notes])
    for note, result in zip(notes, batch):
        single = pipeline.score(note, PLAN)
        assert [(g.status, g.citations) for g in result.goals] == [(g.status, g.citations) for g in single.goals]


# -- bad input: a clear error or a defined result, never a crash --------------------------

def test_pipeline_empty_note_addresses_nothing(pipeline):
    for text in ("", "   \n\t  "):
        result = pipeline.score(text, PLAN)
        assert {g.status for g in result.goals} == {"not-addressed"}
        assert result.domains == () and result.flags == () and result.segments == ()


def test_pipeline_note_over_the_limit_is_refused(pipeline):
    with pytest.raises(NoteTooLarge, match="limit"):
        pipeline.score("Cl is well. " * 90_000, PLAN)  # about 1 MB


def test_pipeline_control_characters_are_scored(pipeline):
    note = "Cl signed\x00 a lease\x07 for a 1BR\x1b and moved in.\x7f"
    result = pipeline.score(note, PLAN)
    for goal in result.goals:
        for citation in goal.citations:
            assert note[citation.start:citation.end] == citation.text


def test_pipeline_unpaired_surrogate_is_refused_without_quoting_the_note(pipeline):
    with pytest.raises(InvalidInput, match="offset 12") as error:
        pipeline.score("Cl is well. \ud800 secret name", PLAN)
    assert "secret" not in str(error.value)


def test_pipeline_empty_plan_still_reads_domains_and_flags(pipeline):
    result = pipeline.score("Cl was taken to the ER after an overdose.", Plan())
    assert result.goals == ()
    assert any(f.type == "crisis" for f in result.flags)


def test_plan_with_unknown_domain_names_the_goal():
    with pytest.raises(InvalidPlan, match="goal 'G7': domain"):
        plan_from_goals([{"goal_id": "G7", "text": "Get a pet", "domain": "pets"}])


def test_plan_with_duplicate_goal_ids_is_refused():
    goal = {"goal_id": "G1", "text": "Get a job", "domain": "employment"}
    with pytest.raises(InvalidPlan, match="duplicate goal_id 'G1'"):
        plan_from_goals([goal, goal])


def test_note_with_unknown_format_is_refused():
    with pytest.raises(ValueError):
        Note(text="x", note_format="email")


def test_pipeline_refuses_a_model_trained_for_other_features(pipeline):
    from dataclasses import replace

    from casenotes.errors import ModelError
    from casenotes.pipeline import Pipeline

    stale = replace(pipeline.model, metadata={**pipeline.model.metadata, "features": "segment-v0"})
    with pytest.raises(ModelError, match="casenotes train"):
        Pipeline(encoder=pipeline.encoder, rubric=pipeline.rubric, model=stale)


def test_pipeline_missing_model_file_is_a_clear_error(tmp_path):
    from casenotes.errors import ModelError
    from casenotes.reading.model import load_model

    with pytest.raises(ModelError, match="no trained model"):
        load_model(tmp_path / "absent.json")


def test_pipeline_flag_severity_comes_from_the_rubric(pipeline):
    result = pipeline.score("Cl was taken to the ER by ambulance after an overdose on Sunday.", PLAN)
    crisis = next(f for f in result.flags if f.type == "crisis")
    assert crisis.severity == pipeline.rubric.flag("crisis").severity
