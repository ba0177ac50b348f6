"""Fine-tuning the goal reader: (goal, segment) pairs from labeled notes, a plain torch loop, ONNX export.

Labels come from gold evidence with the metrics' span rule (`casenotes.training.metrics.spans_hit`):
a segment that hits a goal's gold evidence gets that goal's status; every other segment is
`irrelevant` to it. Irrelevant pairs are subsampled, `negatives_per_positive` for each positive
(and that many for a goal the note does not address), hard ones first: segments that are
another goal's evidence in the same note.

    from casenotes.training.goal_reader import train_goal_reader
    train_goal_reader(["eval/data/by-writer/train.jsonl"], "casenotes/resources/models/goal-reader")

Only the files given are read: never pass a split that will be scored.
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

from casenotes.reading.goal_reader import (
    CONFIG_FILE,
    LABELS,
    ONNX_FILE,
    TOKENIZER_FILE,
    PairStyle,
    ReaderConfig,
    encode_pairs,
    goal_input,
    segment_inputs,
)
from casenotes.reading.onnx_classifier import load_tokenizer
from casenotes.training.fine_tune import (
    FineTuneSettings,
    base_model_dir,
    base_version,
    export_onnx,
    fine_tune,
    quantize_int8,
    read_jsonl,
    training_cases,
)
from casenotes.training.metrics import evidence_span, spans_hit

__all__ = ["Pair", "TrainSettings", "build_pairs", "train_fold_readers", "train_goal_reader"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pair:
    goal: str
    segment: str
    label: int
    note_id: str


@dataclass(frozen=True)
class TrainSettings(FineTuneSettings):
    negatives_per_positive: int = 3
    int8: bool = True  # ship the dynamic int8 graph (the eval holds: see the model card)
    prefilter_k: int = 2  # at inference, segments per goal read, nearest by embedding


def build_pairs(cases: Sequence[dict], style: PairStyle, negatives_per_positive: int = 3, seed: int = 13,
                segmenter=None) -> list[Pair]:
    """Labeled (goal, segment) pairs from shared-format cases with labels."""
    from casenotes.text.segment import Segmenter

    segmenter = segmenter or Segmenter()
    rng = random.Random(seed)
    pairs: list[Pair] = []
    for case in cases:
        text = case["note_text"]
        segments = segmenter.segment(text)
        if not segments:
            continue
        inputs = segment_inputs(segments, style)
        spans = [(s.start, s.end) for s in segments]
        labels = case["labels"]["goals"]
        hits: dict[str, set[int]] = {}
        for goal_id, label in labels.items():
            evidence = [evidence_span(text, q) for q in label.get("evidence", []) if q in text]
            hits[goal_id] = {i for i, span in enumerate(spans) if any(spans_hit(span, e) for e in evidence)} \
                if label["status"] != "not-addressed" else set()
        for goal in case["goals"]:
            goal_id = goal["goal_id"]
            if goal_id not in labels:
                continue
            status = labels[goal_id]["status"]
            positives = sorted(hits[goal_id])
            goal = goal_input(goal["text"])
            for i in positives:
                pairs.append(Pair(goal, inputs[i], LABELS.index(status), case["id"]))
            others = set().union(*(h for g, h in hits.items() if g != goal_id)) - set(positives)
            hard = sorted(others)
            rest = [i for i in range(len(segments)) if i not in others and i not in positives]
            rng.shuffle(hard)
            rng.shuffle(rest)
            wanted = negatives_per_positive * max(1, len(positives))
            for i in (hard + rest)[:wanted]:
                pairs.append(Pair(goal, inputs[i], 0, case["id"]))
    return pairs


def train_goal_reader(train_paths: Sequence[str | Path], out_dir: str | Path,
                      settings: TrainSettings | None = None,
                      log: Callable[[str], None] | None = None) -> Path:
    """Fine-tune the packaged MiniLM as a goal reader on `train_paths`; write the artifact to `out_dir`."""
    import torch

    settings = settings or TrainSettings()
    log = log or _log.info
    rng = random.Random(settings.seed)
    started = time.perf_counter()

    cases = training_cases(train_paths, settings)
    style = PairStyle.named(settings.style)
    pairs = build_pairs(cases, style, settings.negatives_per_positive, settings.seed)
    counts = {name: sum(p.label == k for p in pairs) for k, name in enumerate(LABELS)}
    log(f"{len(cases)} notes -> {len(pairs)} pairs {counts} ({time.perf_counter() - started:.0f}s)")

    base = base_model_dir()
    tokenizer = load_tokenizer(base / "tokenizer.json", settings.max_length)
    encoded = encode_pairs(tokenizer, [(p.goal, p.segment) for p in pairs])
    labels = np.array([p.label for p in pairs])

    def shuffled_batches() -> list[list[int]]:
        order = list(range(len(pairs)))
        rng.shuffle(order)
        return [order[first:first + settings.batch_size] for first in range(0, len(order), settings.batch_size)]

    tuned = fine_tune(encoded, labels, len(LABELS), torch.nn.CrossEntropyLoss(), settings, shuffled_batches,
                      log=log, log_every=20, started=started)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    probes = [(p.goal, p.segment) for p in pairs[:4]] or [("Find housing", ">> Client signed a lease <<")]
    export_onnx(tuned.model, out / ONNX_FILE, encode_pairs(tokenizer, probes))
    if settings.int8:
        fp32 = out / f".{ONNX_FILE}.fp32"
        (out / ONNX_FILE).replace(fp32)
        quantize_int8(fp32, out / ONNX_FILE)
        fp32.unlink()
    shutil.copyfile(base / "tokenizer.json", out / TOKENIZER_FILE)
    metadata = {
        "base_model": base_version(), "train_files": [str(p) for p in train_paths],
        "train_notes": len(cases), "pairs": len(pairs), "pair_counts": counts,
        "loss_by_epoch": tuned.loss_by_epoch, "steps": tuned.steps,
        "train_seconds": round(time.perf_counter() - started, 1),
        "settings": {k: v for k, v in settings.__dict__.items() if k != "extra"},
    }
    config = ReaderConfig(style=settings.style, max_length=settings.max_length, prefilter_k=settings.prefilter_k,
                          metadata=metadata)
    (out / CONFIG_FILE).write_text(json.dumps(config.to_json(), indent=1, sort_keys=True) + "\n")
    log(f"wrote {out} ({time.perf_counter() - started:.0f}s)")
    return out


def train_fold_readers(train_paths: Sequence[str | Path], out_dir: str | Path, folds: int,
                       settings: TrainSettings | None = None,
                       log: Callable[[str], None] | None = None) -> list[Path]:
    """One reader per fold of writers (`casenotes.training.train.folds_of_writers`), each fine-tuned on
    the notes of the other folds: their readings of a fold's notes are out of fold, for fitting
    what combines the reader with the heads on the training notes themselves.

    A fold reader already in `out_dir` that was trained on the same notes with the same
    settings is kept, so a kept folder makes refitting the heads minutes instead of half an hour."""
    from casenotes.training.train import folds_of_writers

    settings = settings or TrainSettings()
    rows = read_jsonl(train_paths)
    fold_of = folds_of_writers([row.get("writer") or "" for row in rows], folds)
    folders = []
    for fold in range(folds):
        folder = Path(out_dir) / f"fold-{fold}"
        folder.mkdir(parents=True, exist_ok=True)
        lines = "".join(json.dumps(row) + "\n" for row, f in zip(rows, fold_of) if f != fold)
        recipe = _fold_recipe(lines, settings)
        if _is_trained_from(folder, recipe):
            if log:
                log(f"fold {fold}: kept the reader in {folder}")
            folders.append(folder)
            continue
        (folder / _RECIPE_FILE).unlink(missing_ok=True)
        subset = folder / "train.jsonl"
        subset.write_text(lines, encoding="utf-8")
        folders.append(train_goal_reader([subset], folder, settings, log))
        subset.unlink()
        (folder / _RECIPE_FILE).write_text(json.dumps(recipe, sort_keys=True), encoding="utf-8")
    return folders


_RECIPE_FILE = "fold-recipe.json"


def _fold_recipe(train_lines: str, settings: TrainSettings) -> dict:
    """What a fold reader was made from: its notes' digest and the training settings."""
    import hashlib
    from dataclasses import asdict

    return {"notes_sha256": hashlib.sha256(train_lines.encode("utf-8")).hexdigest(),
            "settings": json.loads(json.dumps(asdict(settings), default=str))}


def _is_trained_from(folder: Path, recipe: dict) -> bool:
    recipe_file = folder / _RECIPE_FILE
    if not (recipe_file.is_file() and (folder / ONNX_FILE).is_file() and (folder / CONFIG_FILE).is_file()):
        return False
    return json.loads(recipe_file.read_text(encoding="utf-8")) == recipe


def main(argv: Sequence[str] | None = None) -> None:  # pragma: no cover - a manual entry point
    import argparse

    parser = argparse.ArgumentParser(description="fine-tune the goal reader")
    parser.add_argument("train", nargs="+")
    parser.add_argument("--out", required=True)
    parser.add_argument("--style", default="context")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--negatives", type=int, default=3)
    parser.add_argument("--frozen-layers", type=int, default=2)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    train_goal_reader(args.train, args.out, TrainSettings(style=args.style, epochs=args.epochs,
                                                          threads=args.threads, max_steps=args.max_steps,
                                                          negatives_per_positive=args.negatives,
                                                          frozen_layers=args.frozen_layers))


if __name__ == "__main__":  # pragma: no cover
    main()
