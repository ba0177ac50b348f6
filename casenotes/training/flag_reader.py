"""Fine-tuning the flag reader: every segment of the labeled notes, five sigmoid targets, a plain torch loop.

A segment's target for flag type k is 1 when it hits the evidence of a gold flag of type k
(the metrics' span rule, `casenotes.training.metrics.spans_hit`), else 0. Every segment of every
training note is an example by default (the negatives are what teaches "No SI/HI", resolutions
and plan lines; `easy_negatives` < 1 keeps only a sample of segments that are neither in a
flagged note nor matched by a rubric cue, which trained worse); the loss weights positives per
type by sqrt(negatives / positives), at most 10.

    from casenotes.training.flag_reader import train_flag_reader
    train_flag_reader(["eval/data/by-writer/train.jsonl"], "/tmp/flag-reader")

Only the files given are read: never pass a split that will be scored. Thresholds and the
calibrator are fitted afterwards on dev (`fit_decisions`).
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from casenotes.reading.flag_reader import (
    CONFIG_FILE,
    ONNX_FILE,
    TOKENIZER_FILE,
    FlagReaderConfig,
    encode_inputs,
    reader_inputs,
)
from casenotes.reading.onnx_classifier import load_tokenizer
from casenotes.schema import FLAG_TYPES
from casenotes.training.fine_tune import (
    FineTuneSettings,
    base_model_dir,
    base_version,
    export_onnx,
    fine_tune,
    training_cases,
)
from casenotes.training.metrics import evidence_span, spans_hit

__all__ = ["Example", "FlagTrainSettings", "build_examples", "fit_decisions", "segment_targets",
           "train_flag_reader"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Example:
    first: str
    second: str | None
    targets: tuple[int, ...]  # one 0/1 per FLAG_TYPES entry
    note_id: str


@dataclass(frozen=True)
class FlagTrainSettings(FineTuneSettings):
    epochs: int = 2
    batch_size: int = 32
    learning_rate: float = 5e-5
    max_length: int = 64
    frozen_layers: int = 4
    max_pos_weight: float = 10.0
    easy_negatives: float = 1.0  # share of easy negatives kept (no gold flag, no rubric cue, note without flags)


def segment_targets(text: str, spans: Sequence[tuple[int, int]], flags: Sequence[dict]) -> np.ndarray:
    """(n, 5) 0/1: segment i hits the evidence of a gold flag of each type."""
    targets = np.zeros((len(spans), len(FLAG_TYPES)), dtype=np.int64)
    for flag in flags:
        k = FLAG_TYPES.index(flag["type"])
        evidence = [evidence_span(text, q) for q in flag.get("evidence", []) if q in text]
        for i, span in enumerate(spans):
            if any(spans_hit(span, e) for e in evidence):
                targets[i, k] = 1
    return targets


def build_examples(cases: Sequence[dict], style: str = "context", segmenter=None,
                   easy_negatives: float = 1.0, seed: int = 13, cues=None) -> list[Example]:
    """One example per segment of each labeled case. Positives and hard negatives (a segment
    of a note with a gold flag, or one a rubric flag cue matches: "No SI/HI", "warrant recalled")
    are all kept; of the easy negatives, the share `easy_negatives` (a seeded sample)."""
    from casenotes.text.segment import Segmenter

    segmenter = segmenter or Segmenter()
    if easy_negatives < 1.0 and cues is None:
        cues = _rubric_flag_cues()
    rng = random.Random(seed)
    examples = []
    for case in cases:
        text = case["note_text"]
        segments = segmenter.segment(text)
        if not segments:
            continue
        flags = case["labels"].get("flags", [])
        targets = segment_targets(text, [(s.start, s.end) for s in segments], flags)
        for segment, (first, second), row in zip(segments, reader_inputs(segments, style), targets):
            hard = bool(row.any()) or bool(flags) or (cues is not None and any(c.search(segment.text) for c in cues))
            if not hard and easy_negatives < 1.0 and rng.random() >= easy_negatives:
                continue
            examples.append(Example(first, second, tuple(int(v) for v in row), case["id"]))
    return examples


def _rubric_flag_cues():
    from casenotes.reading.features import RubricLexicon
    from casenotes.rubric import load_rubric

    return RubricLexicon.from_rubric(load_rubric("self-sufficiency")).flag_cues


def _length_batches(lengths: Sequence[int], size: int, rng: random.Random) -> list[list[int]]:
    """Batches of similar length (less padding, the CPU's main waste), in a shuffled order;
    ties broken at random so batches differ between epochs."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], rng.random()))
    batches = [order[first:first + size] for first in range(0, len(order), size)]
    rng.shuffle(batches)
    return batches


def train_flag_reader(train_paths: Sequence[str | Path], out_dir: str | Path,
                      settings: FlagTrainSettings | None = None,
                      log: Callable[[str], None] | None = None) -> Path:
    """Fine-tune the packaged MiniLM as a flag reader on `train_paths`; write the artifact
    (ONNX fp32, tokenizer, config with default thresholds) to `out_dir`."""
    import torch

    settings = settings or FlagTrainSettings()
    log = log or _log.info
    rng = random.Random(settings.seed)
    started = time.perf_counter()

    cases = training_cases(train_paths, settings)
    examples = build_examples(cases, settings.style, easy_negatives=settings.easy_negatives, seed=settings.seed)
    targets = np.array([e.targets for e in examples], dtype=np.float32).reshape(-1, len(FLAG_TYPES))
    positives = targets.sum(axis=0)
    log(f"{len(cases)} notes -> {len(examples)} segments, positives {dict(zip(FLAG_TYPES, positives.astype(int)))}")

    base = base_model_dir()
    tokenizer = load_tokenizer(base / "tokenizer.json", settings.max_length)
    encoded = encode_inputs(tokenizer, [(e.first, e.second) for e in examples])
    lengths = [len(ids) for ids, _ in encoded]
    negatives = len(examples) - positives
    pos_weight = np.clip(np.sqrt(negatives / np.maximum(positives, 1.0)), 1.0, settings.max_pos_weight)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pos_weight, dtype=torch.float32))
    tuned = fine_tune(encoded, targets, len(FLAG_TYPES), loss_fn, settings,
                      lambda: _length_batches(lengths, settings.batch_size, rng), log=log, log_every=10,
                      started=started)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    export_onnx(tuned.model, out / ONNX_FILE, [encoded[i] for i in range(min(4, len(encoded)))])
    shutil.copyfile(base / "tokenizer.json", out / TOKENIZER_FILE)
    metadata = {
        "base_model": base_version(), "train_files": [str(p) for p in train_paths],
        "train_notes": len(cases), "segments": len(examples),
        "positives": dict(zip(FLAG_TYPES, positives.astype(int).tolist())),
        "pos_weight": [round(float(w), 3) for w in pos_weight],
        "loss_by_epoch": tuned.loss_by_epoch, "steps": tuned.steps,
        "train_seconds": round(time.perf_counter() - started, 1),
        "settings": {k: v for k, v in settings.__dict__.items() if k != "extra"},
    }
    config = FlagReaderConfig(style=settings.style, max_length=settings.max_length, metadata=metadata)
    (out / CONFIG_FILE).write_text(json.dumps(config.to_json(), indent=1, sort_keys=True) + "\n")
    log(f"wrote {out} ({time.perf_counter() - started:.0f}s)")
    return out


# -- decisions fitted on dev -------------------------------------------------------------------


def tune_threshold(note_scores: np.ndarray, gold: np.ndarray, recall_target: float = 0.92,
                   floor: float = 0.02) -> float:
    """The highest threshold whose note-level recall reaches `recall_target` (recall first), so
    precision is as high as that recall allows; when no threshold reaches it, the one with the
    best recall, and among those the highest. Never below `floor`."""
    note_scores, gold = np.asarray(note_scores, dtype=float), np.asarray(gold, dtype=bool)
    if not gold.any():
        return 0.5
    candidates = np.unique(np.concatenate([note_scores[gold], [floor]]))
    candidates = candidates[candidates >= floor]
    best, best_recall = floor, -1.0
    for t in sorted(candidates, reverse=True):
        recall = float((note_scores[gold] >= t).mean())
        if recall >= recall_target:
            return float(t)
        if recall > best_recall + 1e-12:
            best, best_recall = float(t), recall
    return best


def fit_decisions(note_scores: np.ndarray, gold: np.ndarray, recall_target: float = 0.92) -> tuple[dict, dict]:
    """Per-type thresholds and one pooled isotonic calibrator from dev notes' best segment
    scores (n_notes, 5) and gold flag presence (n_notes, 5)."""
    from casenotes.reading.heads import fit_calibrator

    thresholds = {t: round(tune_threshold(note_scores[:, k], gold[:, k], recall_target), 6)
                  for k, t in enumerate(FLAG_TYPES)}
    calibrator = fit_calibrator(note_scores.ravel().tolist(), gold.ravel().astype(bool).tolist())
    return thresholds, calibrator.to_json()
