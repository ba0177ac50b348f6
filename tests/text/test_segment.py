"""Segmentation: exact offsets on any text, sections, bullets and shorthand."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casenotes.text.segment import Segmenter


@pytest.fixture(scope="module")
def segmenter():
    return Segmenter()


def texts_of(segmenter, note):
    return [s.text for s in segmenter.segment(note)]


NOTE_ALPHABET = st.one_of(
    st.characters(codec="utf-8"),
    st.sampled_from(list(".!?;:,-*•\n\t ") + ["D:", "P:", "Plan:", "cl.", "appt.", "w/", "f/u", "Dr.", "\n- ", "1. ", " but "]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(NOTE_ALPHABET, max_size=80).map("".join))
def test_segment_offsets_are_exact_on_any_text(text):
    segmenter = _shared_segmenter()
    previous_end = 0
    for segment in segmenter.segment(text):
        assert text[segment.start:segment.end] == segment.text
        assert segment.text and segment.text == segment.text.strip()
        assert segment.start >= previous_end
        previous_end = segment.end


_SEGMENTER = []


def _shared_segmenter():
    if not _SEGMENTER:
        _SEGMENTER.append(Segmenter())
    return _SEGMENTER[0]


@pytest.mark.parametrize("note, expected", [
    ("Met w/ cl at office. Cl has appt. on Tuesday w/ Dr. Patel at 2:30 p.m. to f/u on meds.",
     ["Met w/ cl at office.", "Cl has appt. on Tuesday w/ Dr. Patel at 2:30 p.m. to f/u on meds."]),
    ("Called cl x2 on 3/14/26, no answer. Left VM.", ["Called cl x2 on 3/14/26, no answer.", "Left VM."]),
    ("Cl approx. 20 min late. Appt. Monday.", ["Cl approx. 20 min late.", "Appt. Monday."]),
    ("Cl denies SI/HI. Mood stable.", ["Cl denies SI/HI.", "Mood stable."]),
])
def test_segment_shorthand_does_not_end_a_sentence(segmenter, note, expected):
    assert texts_of(segmenter, note) == expected


def test_segment_sections_of_a_dap_note(segmenter):
    note = "D: Cl signed lease.\nA: Housing stable.\nP: CM to f/u next wk."
    segments = segmenter.segment(note)
    assert [(s.section, s.text) for s in segments] == [
        ("data", "Cl signed lease."), ("assessment", "Housing stable."), ("plan", "CM to f/u next wk.")]


@pytest.mark.parametrize("note, sections", [
    ("S: feels ok. O: calm, on time. A: stable. P: cont. weekly.", ["subjective", "objective", "assessment", "plan"]),
    ("Behavior: attended group.\nIntervention: CM gave bus pass.\nResponse: engaged.\nPlan: weekly groups",
     ["behavior", "intervention", "response", "plan"]),
    ("Goal: keep job\nI: role-played talking to boss\nR: cl practiced\nP: f/u Fri", ["goal", "intervention", "response", "plan"]),
])
def test_segment_sections_of_soap_birp_girp(segmenter, note, sections):
    assert [s.section for s in segmenter.segment(note)] == sections


def test_segment_bullets_and_line_breaks(segmenter):
    note = "Plan:\n- renew ID\n* call DSS\n• apply SNAP\n1. bus pass\n2) f/u w/ PO"
    segments = segmenter.segment(note)
    assert [s.text for s in segments] == ["renew ID", "call DSS", "apply SNAP", "bus pass", "f/u w/ PO"]
    assert all(s.is_bullet and s.section == "plan" for s in segments)


def test_segment_wrapped_line_continues_the_sentence(segmenter):
    assert texts_of(segmenter, "Cl stayed at the shelter and\nleft early today. Next") == [
        "Cl stayed at the shelter and\nleft early today.", "Next"]


@pytest.mark.parametrize("note, clauses", [
    ("Cl has not used since Friday but she missed her IOP appt.",
     ["Cl has not used since Friday", "but she missed her IOP appt."]),
    ("Rent is paid; cl still owes the deposit.", ["Rent is paid", "cl still owes the deposit."]),
    ("Cl got the job, however the shift is nights.", ["Cl got the job", "however the shift is nights."]),
    ("Her brother was arrested last week, cl upset about it.", ["Her brother was arrested last week", "cl upset about it."]),
])
def test_segment_splits_clauses(segmenter, note, clauses):
    assert texts_of(segmenter, note) == clauses


def test_segment_empty_and_blank_notes_have_no_segments(segmenter):
    assert segmenter.segment("") == []
    assert segmenter.segment(" \n\t ") == []


def test_segment_leaves_out_template_fields_left_empty(segmenter):
    note = "Risk: SI/HI:\nEviction notice:\nMood: Affect: flat\nCl signed the lease."
    assert [s.text for s in segmenter.segment(note)] == ["Mood: Affect: flat", "Cl signed the lease."]
