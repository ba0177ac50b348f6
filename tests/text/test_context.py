"""Tests of casenotes.text.context: ConText labels of case-note segments."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casenotes.errors import InvalidInput
from casenotes.schema import ContextLabels
from casenotes.text.context import ContextAnalyzer, assess
from casenotes.text.segment import sentence_starts

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "eval" / "context" / "bench.py"


def labels_of(text: str) -> set[str]:
    """The labels that are True for the whole of `text` as the target."""
    return {name for name, value in assess(text, 0, len(text)).model_dump().items() if value}


@pytest.fixture(scope="module")
def analyzer() -> ContextAnalyzer:
    return ContextAnalyzer()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Cl denies SI/HI.", {"negated"}),
        ("No new arrests since last contact.", {"negated"}),
        ("She did not miss any appts this month", {"negated"}),
        ("SI/HI denied.", {"negated"}),
        ("UDS was negative for all substances.", {"negated"}),
        ("Per cl, she did not attend.", {"negated"}),
        ("Cl reported to CM that she has not used since Friday.", {"negated"}),
        ("Cl will apply for SNAP next week.", {"hypothetical"}),
        ("Plans to look for work", {"hypothetical"}),
        ("Goal is to obtain housing by June.", {"hypothetical"}),
        ("If she loses the job she may lose the apartment", {"hypothetical"}),
        ("Cl would like to enroll in GED classes.", {"hypothetical"}),
        ("Cl hopes to reunite with her kids.", {"hypothetical"}),
        ("Cl is considering moving to a shelter.", {"hypothetical"}),
        ("Cl was homeless in 2019.", {"historical"}),
        ("hx of DV with ex", {"historical"}),
        ("Cl has a history of incarceration.", {"historical"}),
        ("Cl previously worked at a warehouse.", {"historical"}),
        ("In the past cl used heroin daily.", {"historical"}),
        ("Prior to incarceration, cl worked in construction.", {"historical"}),
        ("Cl lost custody of her son years ago.", {"historical"}),
        ("Cl was in foster care as a teenager.", {"historical"}),
        ("Her brother was arrested.", {"other_experiencer"}),
        ("Cl's son's father relapsed.", {"other_experiencer"}),
        ("Her roommate got evicted.", {"other_experiencer"}),
        ("Cl's mother has dementia.", {"other_experiencer"}),
        ("Cl reports her brother was arrested.", {"other_experiencer"}),
        ("Cl signed a lease for a 1BR on Elm St.", set()),
        ("Cl relapsed on Friday.", set()),
        ("Cl missed two appts this month.", set()),
    ],
)
def test_context_detects_each_category(text: str, expected: set[str]) -> None:
    assert labels_of(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Cl is no longer homeless.", {"negated"}),
        ("Cl hasn't used in 30 days.", {"negated"}),
        ("No missed appts this month.", {"negated"}),
        ("Cl declined the shelter bed.", {"negated"}),
    ],
)
def test_context_negated_good_news_is_negated_by_rule(text: str, expected: set[str]) -> None:
    assert labels_of(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Cl has not used since Friday but missed her appt.",
        "Cl denies SI; reports HI toward her ex.",
        "Cl did not go to work, however she called her supervisor.",
        "Cl reports SI, denies HI.",
        "Cl missed appt and did not call.",
        "Cl went to the food bank and will return next week.",
    ],
)
def test_context_termination_and_clause_end_scope(text: str) -> None:
    found = labels_of(text)
    assert "negated" not in found and "hypothetical" not in found


def test_context_termination_ends_scope_for_a_later_target() -> None:
    text = "Cl denies SI but reports cravings."
    start = text.index("reports")
    assert not assess(text, start, len(text)).negated
    assert assess(text, text.index("SI"), text.index("SI") + 2).negated


@pytest.mark.parametrize(
    "text",
    [
        "No change in housing status.",
        "Cl was a no-show for her appt.",
        "Cl was a no call no show.",
        "Cl's SNAP application was denied.",
        "Cl attended group without incident.",
        "Not only did cl find work, she also enrolled in school.",
        "Culture grew gram negative rods.",
        "Cl could not pay rent this month.",
    ],
)
def test_context_pseudo_cues_are_ignored(text: str) -> None:
    found = labels_of(text)
    assert "hypothetical" not in found
    if "could not" not in text:
        assert "negated" not in found


@pytest.mark.parametrize(
    "text",
    [
        "Her partner threatened her.",
        "Boyfriend hit cl.",
        "Landlord locked him out.",
        "Cl's mother threatened to kick her out.",
        "Cl was assaulted by her boyfriend.",
        "Cl lives with her mother.",
        "Cl took her son to the doctor.",
        "Cl and her brother were arrested.",
    ],
)
def test_context_someone_acting_on_client_is_not_other(text: str) -> None:
    assert "other_experiencer" not in labels_of(text)


@pytest.mark.parametrize(
    "text",
    [
        "Cl said if it doesn't stop I'll hurt him.",
        "Cl said he would kill her.",
        "Cl stated that she would kill him if he came back.",
        "If he comes back I'm going to hurt him.",
    ],
)
def test_context_conditional_threat_is_not_hypothetical(text: str) -> None:
    assert labels_of(text) == set()


def test_context_whole_note_sees_only_the_target_sentence(analyzer: ContextAnalyzer) -> None:
    note = "D: Cl denies SI/HI. Her brother was arrested.\nCl relapsed on Friday. Cl will apply for SNAP."
    target = "Cl relapsed on Friday."
    start = note.index(target)
    assert assess(note, start, start + len(target)) == ContextLabels()
    assert analyzer.assess(note, start, start + len(target)).asserted
    second = note.index("Her brother")
    assert assess(note, second, note.index("\n")) == ContextLabels(other_experiencer=True)


def test_context_assess_spans_matches_assess(analyzer: ContextAnalyzer) -> None:
    note = ("Met cl at office. Cl denies SI/HI. Dr. Smith saw cl today. Cl reports she relapsed on Friday, "
            "but has been sober since.\nP: Cl will apply for SNAP next week. Hx of DV with ex.")
    spans = [(m, n) for m, n in zip(sentence_starts(note), [*sentence_starts(note)[1:], len(note)])]
    assert analyzer.assess_spans(note, spans) == [analyzer.assess(note, m, n) for m, n in spans]
    assert [label.asserted for label in analyzer.assess_spans(note, spans)] == [True, False, True, True, False, False]


def test_context_clinical_concept_target() -> None:
    sentence = "She denies any cough or sputum production."
    start = sentence.index("sputum")
    assert assess(sentence, start, start + len("sputum production")).negated
    sentence = "The patient has a history of hypertension who presents with chest pain."
    assert assess(sentence, sentence.index("hypertension"), sentence.index(" who")).historical
    assert not assess(sentence, sentence.index("chest pain"), len(sentence) - 1).historical


@pytest.mark.parametrize(("start", "end"), [(-1, 3), (0, 0), (5, 2), (0, 99), (1.5, 3), ("0", 3), (None, 3)])
def test_context_bad_offsets_raise_invalid_input(analyzer: ContextAnalyzer, start, end) -> None:
    with pytest.raises(InvalidInput) as raised:
        assess("Cl denies SI.", start, end)
    assert "Cl denies" not in str(raised.value)
    with pytest.raises(InvalidInput):
        analyzer.assess_spans("Cl denies SI.", [(0, 2), (start, end)])


def test_context_builds_rules_lazily() -> None:
    assert ContextAnalyzer()._compiled is None


_FRAGMENTS = ["Cl denies SI.", "No arrests.", "Her brother was arrested.", "Cl will apply for SNAP.",
              "Hx of DV.", "Dr. Smith saw cl.", "\n", " ", "if it stops", "but", "cl relapsed"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(_FRAGMENTS), min_size=1, max_size=8), st.data())
def test_context_assess_agrees_with_assess_spans_on_any_span(analyzer: ContextAnalyzer, parts, data) -> None:
    text = " ".join(parts)
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    assert analyzer.assess(text, start, end) == analyzer.assess_spans(text, [(start, end)])[0]


def _load_bench():
    spec = importlib.util.spec_from_file_location("context_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_context_benchmark_negation_f1_on_first_300_rows() -> None:
    bench = _load_bench()
    if not bench.DEFAULT_TSV.exists():
        pytest.skip("shared/benchmarks/context is not beside the repo")
    rows = bench.load_rows(bench.DEFAULT_TSV)[:300]
    predictions, ms_per_sentence = bench.run_casenotes(rows)
    metrics = bench.score([row.gold() for row in rows], predictions)
    assert metrics["negated"]["f1"] >= 0.9
    assert ms_per_sentence < 5.0
