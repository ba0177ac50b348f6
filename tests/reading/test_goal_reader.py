"""The goal reader: decisions on synthetic probabilities, pair construction, and a tiny training run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from casenotes.reading.goal_reader import LABELS, GoalReader, PairStyle, pair_text, plan_as_hypothetical
from casenotes.reading.goals import ReaderThresholds, decide_goal, gated_segments, goal_scores
from casenotes.schema import ContextLabels, Segment
from tests.conftest import segments_in

REPO = Path(__file__).resolve().parents[2]
TEXT = "D: Cl signed a lease today. She is still looking for work. P: apply for SNAP."


def _segments() -> list[Segment]:
    return segments_in(TEXT, [("Cl signed a lease today.", "data"), ("She is still looking for work.", "data"),
                             ("apply for SNAP.", "plan")])


def _probs(*rows: dict[str, float]) -> np.ndarray:
    out = np.zeros((len(rows), len(LABELS)))
    for i, row in enumerate(rows):
        for label, p in row.items():
            out[i, LABELS.index(label)] = p
        out[i, 0] = 1.0 - sum(v for k, v in row.items() if k != "irrelevant")
    return out


NONE = np.zeros(3, dtype=bool)


def test_goal_reader_not_addressed_when_nothing_relevant() -> None:
    probs = _probs({"improving": 0.2}, {"no-change": 0.1}, {})
    result = decide_goal("G1", probs, _segments(), NONE, False, ReaderThresholds(addressed=0.5))
    assert result.status == "not-addressed" and result.citations == ()
    assert result.confidence == pytest.approx(0.8)


def test_goal_reader_no_segments_is_not_addressed() -> None:
    result = decide_goal("G1", np.zeros((0, 5)), [], np.zeros(0, dtype=bool), False, ReaderThresholds())
    assert result.status == "not-addressed"


@pytest.mark.parametrize("label", ["improving", "worsening", "no-change", "achieved"])
def test_goal_reader_status_from_the_relevant_segment(label: str) -> None:
    probs = _probs({label: 0.9}, {}, {})
    result = decide_goal("G1", probs, _segments(), NONE, False, ReaderThresholds())
    assert result.status == label
    assert [(c.start, c.end) for c in result.citations] == [(_segments()[0].start, _segments()[0].end)]


def test_goal_reader_gated_segment_speaks_of_the_goal_but_moves_nothing() -> None:
    probs = _probs({}, {}, {"improving": 0.8, "no-change": 0.1})  # the plan line
    gated = np.array([False, False, True])
    result = decide_goal("G1", probs, _segments(), gated, False, ReaderThresholds())
    assert result.status == "no-change"
    assert result.citations[0].text == "apply for SNAP."
    scores = goal_scores(probs, gated, False)
    assert scores[2].tolist() == pytest.approx([0.0, 0.0, 0.9, 0.0])


def test_goal_reader_ongoing_goal_is_never_achieved() -> None:
    probs = _probs({"achieved": 0.7, "improving": 0.2}, {}, {})
    assert decide_goal("G1", probs, _segments(), NONE, False, ReaderThresholds()).status == "achieved"
    assert decide_goal("G1", probs, _segments(), NONE, True, ReaderThresholds()).status == "improving"


def test_goal_reader_change_beats_a_weaker_no_change_and_weights_tip_it() -> None:
    probs = _probs({"worsening": 0.5}, {"no-change": 0.6}, {})
    assert decide_goal("G1", probs, _segments(), NONE, False, ReaderThresholds()).status == "no-change"
    tipped = ReaderThresholds(weights={"improving": 1.0, "worsening": 1.5, "no-change": 1.0, "achieved": 1.0})
    result = decide_goal("G1", probs, _segments(), NONE, False, tipped)
    assert result.status == "worsening" and result.citations[0].text == "Cl signed a lease today."


def test_goal_reader_citations_are_the_deciding_segments_in_note_order() -> None:
    probs = _probs({"improving": 0.5}, {"improving": 0.9}, {"worsening": 0.6})
    result = decide_goal("G1", probs, _segments(), NONE, False, ReaderThresholds(cite_ratio=0.5))
    assert result.status == "improving"
    assert [c.text for c in result.citations] == ["Cl signed a lease today.", "She is still looking for work."]
    for citation in result.citations:
        assert TEXT[citation.start:citation.end] == citation.text
    lone = decide_goal("G1", probs, _segments(), NONE, False, ReaderThresholds(cite_ratio=0.9))
    assert [c.text for c in lone.citations] == ["She is still looking for work."]


def test_goal_reader_gating_knows_family_goals() -> None:
    contexts = [ContextLabels(other_experiencer=True), ContextLabels(other_experiencer=True, negated=True),
                ContextLabels(), ContextLabels(historical=True)]
    assert gated_segments(contexts, family=False).tolist() == [True, True, False, True]
    assert gated_segments(contexts, family=True).tolist() == [False, True, False, True]


def test_goal_reader_pair_text_marks_the_segment_in_its_context() -> None:
    segments = _segments()
    assert pair_text(segments, 0, PairStyle.named("context")) == "[data] >> client signed a lease today. <<"
    assert pair_text(segments, 2, PairStyle.named("context")) == \
        "[plan] She is still looking for work. >> apply for SNAP food stamps. <<"
    assert pair_text(segments, 2, PairStyle.named("bare")) == "apply for SNAP food stamps."
    contexts = plan_as_hypothetical(segments, [ContextLabels()] * 3)
    assert [c.hypothetical for c in contexts] == [False, False, True]


def test_goal_reader_pairs_take_their_labels_from_gold_evidence_spans() -> None:
    from casenotes.text.segment import Segmenter
    from casenotes.training.goal_reader import build_pairs

    text = "Cl signed a lease for a 1BR on Elm St today. She was fired from the warehouse. P: f/u on deposit."
    case = {"id": "x", "note_text": text,
            "goals": [{"goal_id": "G1", "text": "Move into permanent housing", "domain": "housing"},
                      {"goal_id": "G2", "text": "Keep a job for 90 days", "domain": "employment"},
                      {"goal_id": "G3", "text": "Get a driver's license", "domain": "transportation"}],
            "labels": {"goals": {"G1": {"status": "achieved", "evidence": ["Cl signed a lease for a 1BR on Elm St"]},
                                 "G2": {"status": "worsening", "evidence": ["She was fired from the warehouse"]},
                                 "G3": {"status": "not-addressed", "evidence": []}}}}
    segmenter = Segmenter()
    segments = segmenter.segment(text)
    style = PairStyle.named("bare")
    pairs = build_pairs([case], style, negatives_per_positive=1, segmenter=segmenter)
    by_goal: dict[str, list] = {}
    for p in pairs:
        by_goal.setdefault(p.goal, []).append(p)
    housing = by_goal["Move into permanent housing"]
    lease = next(i for i, s in enumerate(segments) if s.text.startswith("Cl signed a lease"))
    assert segments[lease].start == 0 and text[segments[lease].start:segments[lease].end] == segments[lease].text
    assert [(p.segment, LABELS[p.label]) for p in housing][0] == (pair_text(segments, lease, style), "achieved")
    fired = next(i for i, s in enumerate(segments) if "fired" in s.text)
    # the hard negative for housing is the other goal's evidence
    assert (pair_text(segments, fired, style), "irrelevant") in [(p.segment, LABELS[p.label]) for p in housing]
    license_pairs = by_goal["Get a driver's license"]
    assert len(license_pairs) == 1 and LABELS[license_pairs[0].label] == "irrelevant"


class _FakeReader(GoalReader):
    def __init__(self) -> None:  # no artifact: probabilities come from the text
        self.style = PairStyle.named("bare")
        self.calls: list[tuple[str, str]] = []

    def probabilities(self, pairs):
        self.calls += list(pairs)
        return np.tile(np.array([0.1, 0.9, 0.0, 0.0, 0.0]), (len(pairs), 1))


def test_goal_reader_reads_only_the_candidate_segments() -> None:
    reader = _FakeReader()
    out = reader.read_note(_segments(), ["Find housing", "Get SNAP"], candidates=[[0], [1, 2]])
    assert len(reader.calls) == 3
    assert out[0][:, 0].tolist() == pytest.approx([0.1, 1.0, 1.0])
    assert out[1][:, 0].tolist() == pytest.approx([1.0, 0.1, 0.1])


@pytest.mark.slow
def test_goal_reader_trains_on_a_tiny_slice_end_to_end(tmp_path: Path) -> None:
    from casenotes.training.goal_reader import TrainSettings, train_goal_reader

    train = REPO / "eval" / "data" / "by-writer" / "train.jsonl"
    if not train.exists():
        pytest.skip("no by-writer training split")
    losses: list[str] = []
    folder = train_goal_reader([train], tmp_path / "reader",
                               TrainSettings(epochs=1, batch_size=4, max_steps=3, limit_notes=6, threads=1),
                               log=losses.append)
    assert any("loss" in line for line in losses)
    config = json.loads((folder / "goal-reader.json").read_text())
    assert config["metadata"]["steps"] == 3 and config["metadata"]["train_notes"] == 6
    reader = GoalReader(folder, threads=1)
    probs = reader.probabilities([("Move into permanent housing", ">> client signed a lease <<")] * 2)
    assert probs.shape == (2, len(LABELS)) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert np.allclose(probs[0], probs[1], atol=1e-5)


@pytest.mark.slow
def test_fold_readers_kept_in_a_folder_are_reused_only_for_the_same_notes_and_settings(tmp_path: Path) -> None:
    from casenotes.training.goal_reader import TrainSettings, train_fold_readers
    from tests.training.test_learning_curve import DATA, first_notes

    train = tmp_path / "train.jsonl"
    train.write_text("\n".join(first_notes(DATA / "by-writer" / "train.jsonl", 2, 2, 2)) + "\n")
    tiny = TrainSettings(epochs=1, batch_size=4, max_steps=1, threads=1)
    first: list[str] = []
    folders = train_fold_readers([train], tmp_path / "folds", 2, tiny, log=first.append)
    made = [(folder / "goal-reader.onnx").stat().st_mtime_ns for folder in folders]
    again: list[str] = []
    assert train_fold_readers([train], tmp_path / "folds", 2, tiny, log=again.append) == folders
    assert sum("kept the reader" in line for line in again) == 2 and not any("loss" in line for line in again)
    assert [(folder / "goal-reader.onnx").stat().st_mtime_ns for folder in folders] == made
    changed: list[str] = []
    train_fold_readers([train], tmp_path / "folds", 2, TrainSettings(epochs=1, batch_size=4, max_steps=1,
                                                                     threads=1, seed=7), log=changed.append)
    assert not any("kept the reader" in line for line in changed)


def test_goal_reader_can_be_turned_off(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from casenotes.errors import ModelError
    from casenotes.reading.goal_reader import load_goal_reader

    assert load_goal_reader(False) is None
    monkeypatch.setenv("CASENOTES_GOAL_READER", "off")
    assert load_goal_reader(None) is None
    monkeypatch.delenv("CASENOTES_GOAL_READER")
    assert load_goal_reader(None, folder=tmp_path) is None  # no artifact there
    with pytest.raises(ModelError):
        load_goal_reader(True, folder=tmp_path)


@pytest.mark.slow
def test_train_fits_the_combining_head_on_out_of_fold_readings(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """`casenotes train --train-reader --reader-folds` on a tiny slice: the model it writes is
    fitted to the reader it wrote, and a pipeline pointed at both reads a note with them."""
    from typer.testing import CliRunner

    from casenotes.cli.main import app
    from casenotes.pipeline import Pipeline
    from casenotes.reading.goal_reader import GoalReader
    from casenotes.schema import Goal, Plan
    from tests.training.test_learning_curve import DATA, first_notes

    train, reader, model = tmp_path / "train.jsonl", tmp_path / "reader", tmp_path / "model.json"
    train.write_text("\n".join(first_notes(DATA / "by-writer" / "train.jsonl", 3, 2, 3)) + "\n")
    result = CliRunner().invoke(app, ["train", "--data", str(train), "--train-reader", "--goal-reader", str(reader),
                                      "--reader-folds", "2", "--reader-epochs", "1", "--folds", "3",
                                      "--out", str(model)])
    assert result.exit_code == 0, result.output
    written = json.loads(model.read_text())
    assert "reader_status" in written["heads"]
    assert written["metadata"]["goal_reader"] == GoalReader(reader, threads=1).version
    assert written["metadata"]["reader_folds"] == 2
    monkeypatch.setenv("CASENOTES_GOAL_READER", str(reader))
    pipeline = Pipeline.load(model_path=str(model))
    assert pipeline.model_version.endswith(GoalReader(reader, threads=1).version)
    scored = pipeline.score("Cl signed a lease for a 1BR and moved in today.",
                            Plan(goals=(Goal(goal_id="G1", text="Move into permanent housing", domain="housing"),)))
    assert [g.goal_id for g in scored.goals] == ["G1"]


def test_train_refuses_a_goal_reader_with_nothing_to_fit_its_combination_on(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from casenotes.cli.main import app

    result = CliRunner().invoke(app, ["train", "--data", str(tmp_path / "none.jsonl"), "--goal-reader",
                                      str(tmp_path), "--out", str(tmp_path / "model.json")])
    assert result.exit_code != 0
    assert "--reader-folds" in result.output and not (tmp_path / "model.json").exists()


def test_train_refuses_a_fold_readers_path_that_is_a_file_before_reading_anything(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from casenotes.cli.main import app

    kept = tmp_path / "kept.txt"
    kept.write_text("not a folder")
    result = CliRunner().invoke(app, ["train", "--data", str(tmp_path / "none.jsonl"), "--goal-reader", str(tmp_path),
                                      "--reader-folds", "2", "--fold-readers", str(kept),
                                      "--out", str(tmp_path / "model.json")])
    assert result.exit_code != 0
    assert "--fold-readers must name a folder" in result.output
    assert kept.read_text() == "not a folder" and not (tmp_path / "model.json").exists()


def test_a_goal_reader_folder_named_in_the_environment_must_exist(monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:
    from casenotes.errors import ModelError
    from casenotes.reading.goal_reader import load_goal_reader

    monkeypatch.setenv("CASENOTES_GOAL_READER", str(tmp_path / "missing"))
    with pytest.raises(ModelError, match="no goal reader"):
        load_goal_reader()


@pytest.mark.parametrize("folds", ["1", "-2"])
def test_train_refuses_reader_folds_that_leave_no_notes_to_train_on(tmp_path: Path, folds: str) -> None:
    from typer.testing import CliRunner

    from casenotes.cli.main import app

    result = CliRunner().invoke(app, ["train", "--data", str(tmp_path / "none.jsonl"), "--goal-reader",
                                      str(tmp_path), "--reader-folds", folds, "--out", str(tmp_path / "model.json")])
    assert result.exit_code != 0
    assert "--reader-folds must be 0" in result.output and not (tmp_path / "model.json").exists()
