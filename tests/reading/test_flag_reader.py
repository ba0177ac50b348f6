"""The flag reader: decisions on synthetic scores, inputs and targets, and a tiny training run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from casenotes.errors import ModelError
from casenotes.reading.flag_reader import (
    FlagReader,
    decide_flags,
    flag_scores,
    gating_matrix,
    reader_inputs,
    segment_input,
)
from casenotes.reading.heads import Calibrator
from casenotes.schema import FLAG_TYPES, ContextLabels, Segment
from casenotes.training.flag_reader import (
    fit_decisions,
    segment_targets,
    tune_threshold,
)
from tests.conftest import segments_in

REPO = Path(__file__).resolve().parents[2]
TEXT = "D: Cl denies SI/HI. Eviction notice posted on her door today. P: follow up on the court date."
SEVERITY = {"safety": 5, "crisis": 5, "housing_loss": 4, "legal": 3, "disengagement": 2}
THRESHOLDS = dict.fromkeys(FLAG_TYPES, 0.5)


def _segments() -> list[Segment]:
    return segments_in(TEXT, [("Cl denies SI/HI.", "data"), ("Eviction notice posted on her door today.", "data"),
                             ("follow up on the court date.", "plan")])


def _probs(*rows: dict[str, float]) -> np.ndarray:
    out = np.zeros((len(rows), len(FLAG_TYPES)))
    for i, row in enumerate(rows):
        for flag_type, p in row.items():
            out[i, FLAG_TYPES.index(flag_type)] = p
    return out


def test_flag_reader_raises_a_type_when_a_segment_reaches_its_threshold() -> None:
    flags = decide_flags(_probs({}, {"housing_loss": 0.8}, {}), _segments(), THRESHOLDS, SEVERITY)
    assert [f.type for f in flags] == ["housing_loss"]
    assert flags[0].severity == 4
    assert [c.text for c in flags[0].citations] == ["Eviction notice posted on her door today."]
    assert all(TEXT[c.start:c.end] == c.text for c in flags[0].citations)


def test_flag_reader_below_threshold_raises_nothing() -> None:
    assert decide_flags(_probs({"safety": 0.49}, {"housing_loss": 0.3}, {}), _segments(), THRESHOLDS, SEVERITY) == []


def test_flag_reader_thresholds_are_per_type() -> None:
    probs = _probs({"safety": 0.3}, {"housing_loss": 0.3}, {})
    flags = decide_flags(probs, _segments(), {**THRESHOLDS, "safety": 0.2}, SEVERITY)
    assert [f.type for f in flags] == ["safety"]


def test_flag_reader_no_segments_no_flags() -> None:
    assert decide_flags(np.zeros((0, 5)), [], THRESHOLDS, SEVERITY) == []


def test_flag_reader_cites_the_strongest_segments_over_threshold_in_note_order() -> None:
    probs = _probs({"legal": 0.7}, {"legal": 0.4}, {"legal": 0.9})
    flags = decide_flags(probs, _segments(), THRESHOLDS, SEVERITY)
    assert [c.text for c in flags[0].citations] == ["Cl denies SI/HI.", "follow up on the court date."]
    probs = _probs({"legal": 0.7}, {"legal": 0.8}, {"legal": 0.9})
    cited = decide_flags(probs, _segments(), THRESHOLDS, SEVERITY)[0].citations
    assert len(cited) == 2 and cited[0].start < cited[1].start
    assert [c.text for c in cited] == ["Eviction notice posted on her door today.", "follow up on the court date."]


def test_flag_reader_confidence_is_calibrated_best_score() -> None:
    probs = _probs({}, {"crisis": 0.8}, {})
    assert decide_flags(probs, _segments(), THRESHOLDS, SEVERITY)[0].confidence == pytest.approx(0.8)
    calibrator = Calibrator((0.0, 1.0), (0.1, 0.5))
    assert decide_flags(probs, _segments(), THRESHOLDS, SEVERITY, calibrator)[0].confidence == pytest.approx(0.42)


def test_flag_reader_gating_silences_a_segment() -> None:
    probs = _probs({"safety": 0.9}, {}, {})
    gated = np.zeros((3, 5), dtype=bool)
    gated[0, FLAG_TYPES.index("safety")] = True
    assert decide_flags(probs, _segments(), THRESHOLDS, SEVERITY, gated=gated) == []
    assert flag_scores(probs, gated)[0, 0] == 0.0 and flag_scores(probs)[0, 0] == 0.9


def test_flag_reader_rule_gating_matrix_follows_context() -> None:
    contexts = [ContextLabels(negated=True), ContextLabels(), ContextLabels(hypothetical=True)]
    gated = gating_matrix(_segments(), contexts)
    assert gated.shape == (3, 5)
    assert gated[0, FLAG_TYPES.index("safety")] and not gated[1].any() and gated[2].all()


def test_flag_reader_inputs_by_style() -> None:
    segments = _segments()
    assert segment_input(segments, 1, "bare") == ("Eviction notice posted on her door today.", None)
    first, second = segment_input(segments, 1, "context")
    assert first == "Eviction notice posted on her door today."
    assert second.startswith("[data]") and "denies" in second
    assert reader_inputs(segments, "context")[0][1] == "[data]"
    with pytest.raises(ModelError):
        segment_input(segments, 0, "nope")


def test_flag_reader_targets_follow_the_span_rule() -> None:
    spans = [(s.start, s.end) for s in _segments()]
    targets = segment_targets(TEXT, spans, [{"type": "housing_loss", "evidence": ["Eviction notice posted"]}])
    assert targets.tolist() == [[0, 0, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 0, 0]]


def test_flag_reader_threshold_is_recall_first_then_highest() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.2, 0.6, 0.1])
    gold = np.array([1, 1, 1, 1, 0, 0], dtype=bool)
    assert tune_threshold(scores, gold, recall_target=0.75) == pytest.approx(0.7)
    assert tune_threshold(scores, gold, recall_target=1.0) == pytest.approx(0.2)
    assert tune_threshold(scores, np.zeros(6, dtype=bool)) == 0.5


def test_flag_reader_fit_decisions_gives_every_type() -> None:
    rng = np.random.default_rng(0)
    gold = rng.random((40, 5)) < 0.3
    scores = np.clip(gold * 0.6 + rng.random((40, 5)) * 0.4, 0, 1)
    thresholds, calibrator = fit_decisions(scores, gold)
    assert set(thresholds) == set(FLAG_TYPES)
    assert Calibrator.from_json(calibrator)(0.95) > Calibrator.from_json(calibrator)(0.05)


@pytest.mark.slow
def test_flag_reader_tiny_training_run(tmp_path: Path) -> None:
    """A few steps on a few notes: the dataset, the loop, the ONNX export and the reader load and agree."""
    from casenotes.training.flag_reader import FlagTrainSettings, train_flag_reader

    out = train_flag_reader([REPO / "eval/data/by-writer/train.jsonl"], tmp_path / "fr",
                            FlagTrainSettings(limit_notes=6, max_steps=2, epochs=1, batch_size=8, threads=1))
    reader = FlagReader(out, threads=1)
    assert FlagReader.available(out)
    probs = reader.probabilities(_segments())
    assert probs.shape == (3, 5) and ((probs >= 0) & (probs <= 1)).all()
    contexts = [ContextLabels()] * 3
    flags = reader.read(_segments(), contexts, SEVERITY)
    assert all(f.type in FLAG_TYPES for f in flags)
