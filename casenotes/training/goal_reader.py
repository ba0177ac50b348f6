"""Fine-tuning the goal reader: (goal, segment) pairs from labeled notes, a plain torch loop, ONNX export.

Labels come from gold evidence with the metrics' span rule (`casenotes.evaluate.spans_hit`):
a segment that hits a goal's gold evidence gets that goal's status; every other segment is
`irrelevant` to it. Irrelevant pairs are subsampled, `negatives_per_positive` for each positive
(and that many for a goal the note does not address), hard ones first: segments that are
another goal's evidence in the same note.

    from casenotes.training.goal_reader import train_goal_reader
    train_goal_reader(["eval/data/by-writer/train.jsonl"], "models/goal-reader")

Only the files given are read: never pass a split that will be scored.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from casenotes.evaluate import evidence_span, spans_hit
from casenotes.reading.goal_reader import (
    CONFIG_FILE, LABELS, ONNX_FILE, TOKENIZER_FILE, PairStyle, ReaderConfig, encode_pairs, goal_input,
    load_tokenizer, pad_batch, segment_inputs,
)

__all__ = ["Pair", "TrainSettings", "build_pairs", "export_onnx", "train_goal_reader"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pair:
    goal: str
    segment: str
    label: int
    note_id: str


@dataclass(frozen=True)
class TrainSettings:
    style: str = "context"
    epochs: int = 3
    batch_size: int = 16
    learning_rate: float = 4e-5
    head_learning_rate: float = 1e-3
    warmup: float = 0.1
    max_length: int = 128
    negatives_per_positive: int = 3
    threads: int = 2
    frozen_layers: int = 2  # the embeddings and this many lower layers stay as packaged (CPU time)
    seed: int = 13
    limit_notes: int | None = None  # the first notes only (a smoke test)
    max_steps: int | None = None
    extra: dict = field(default_factory=dict)


def _read_jsonl(paths: Iterable[str | Path]) -> list[dict]:
    rows = []
    for path in paths:
        rows += [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows


def build_pairs(cases: Sequence[dict], style: PairStyle, negatives_per_positive: int = 3, seed: int = 13,
                segmenter=None) -> list[Pair]:  # noqa: ANN001
    """Labeled (goal, segment) pairs from shared-format cases with labels."""
    from casenotes.segment import Segmenter

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


def _model_class():  # noqa: ANN202 - defined lazily: importing this module needs no torch
    import torch

    class CrossEncoder(torch.nn.Module):
        """MiniLM over the pair, mean pooling over real tokens, dropout, a linear head to LABELS."""

        def __init__(self, bert, labels: int) -> None:  # noqa: ANN001
            super().__init__()
            self.bert = bert
            self.dropout = torch.nn.Dropout(0.1)
            self.head = torch.nn.Linear(bert.config.hidden_size, labels)

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001, ANN201
            tokens = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=token_type_ids).last_hidden_state
            weights = attention_mask.unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return self.head(self.dropout(pooled))

    return CrossEncoder


def _base_model_dir() -> Path:
    from casenotes.embed import _packaged_model_path

    return Path(_packaged_model_path())


def train_goal_reader(train_paths: Sequence[str | Path], out_dir: str | Path,
                      settings: TrainSettings | None = None,
                      log: Callable[[str], None] | None = None) -> Path:
    """Fine-tune the packaged MiniLM as a goal reader on `train_paths`; write the artifact to `out_dir`."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from transformers import AutoModel

    settings = settings or TrainSettings()
    log = log or _log.info
    torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    rng = random.Random(settings.seed)
    started = time.perf_counter()

    cases = _read_jsonl(train_paths)
    if settings.limit_notes:
        cases = cases[:settings.limit_notes]
    style = PairStyle.named(settings.style)
    pairs = build_pairs(cases, style, settings.negatives_per_positive, settings.seed)
    counts = {name: sum(p.label == k for p in pairs) for k, name in enumerate(LABELS)}
    log(f"{len(cases)} notes -> {len(pairs)} pairs {counts} ({time.perf_counter() - started:.0f}s)")

    base = _base_model_dir()
    tokenizer = load_tokenizer(base / "tokenizer.json", settings.max_length)
    encoded = encode_pairs(tokenizer, [(p.goal, p.segment) for p in pairs])
    labels = np.array([p.label for p in pairs])

    bert = AutoModel.from_pretrained(str(base), local_files_only=True, attn_implementation="eager")
    model = _model_class()(bert, len(LABELS))
    for name, parameter in model.bert.named_parameters():
        frozen = name.startswith("embeddings.") or any(
            name.startswith(f"encoder.layer.{k}.") for k in range(settings.frozen_layers))
        parameter.requires_grad_(not (frozen and settings.frozen_layers >= 0))
    head_params = list(model.head.parameters())
    body_params = [p for n, p in model.named_parameters() if not n.startswith("head.") and p.requires_grad]
    optimizer = torch.optim.AdamW([{"params": body_params, "lr": settings.learning_rate},
                                   {"params": head_params, "lr": settings.head_learning_rate}], weight_decay=0.01)
    steps_per_epoch = (len(pairs) + settings.batch_size - 1) // settings.batch_size
    total = steps_per_epoch * settings.epochs
    if settings.max_steps:
        total = min(total, settings.max_steps)
    warmup = max(1, int(total * settings.warmup))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warmup, max(0.0, (total - step) / max(1, total - warmup))))
    loss_fn = torch.nn.CrossEntropyLoss()

    model.train()
    step, history = 0, []
    for epoch in range(settings.epochs):
        order = list(range(len(pairs)))
        rng.shuffle(order)
        running, seen = 0.0, 0
        for first in range(0, len(order), settings.batch_size):
            if step >= total:
                break
            batch = order[first:first + settings.batch_size]
            ids, mask, types = (torch.from_numpy(a) for a in pad_batch([encoded[i] for i in batch]))
            logits = model(ids, mask, types)
            loss = loss_fn(logits, torch.from_numpy(labels[batch]))
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            step += 1
            running += float(loss.detach()) * len(batch)
            seen += len(batch)
            if step % 20 == 0 or step == total:
                log(f"epoch {epoch + 1} step {step}/{total} loss {running / max(1, seen):.4f} "
                    f"({time.perf_counter() - started:.0f}s)")
        history.append(round(running / max(1, seen), 4))
        log(f"epoch {epoch + 1} done: mean loss {history[-1]} ({time.perf_counter() - started:.0f}s)")
        if step >= total:
            break

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.eval()
    export_onnx(model, out / ONNX_FILE, tokenizer, pairs[:4])
    shutil.copyfile(base / "tokenizer.json", out / TOKENIZER_FILE)
    metadata = {
        "base_model": _base_version(), "train_files": [str(p) for p in train_paths],
        "train_notes": len(cases), "pairs": len(pairs), "pair_counts": counts,
        "loss_by_epoch": history, "steps": step, "train_seconds": round(time.perf_counter() - started, 1),
        "settings": {k: v for k, v in settings.__dict__.items() if k != "extra"},
    }
    config = ReaderConfig(style=settings.style, max_length=settings.max_length, metadata=metadata)
    (out / CONFIG_FILE).write_text(json.dumps(config.to_json(), indent=1, sort_keys=True) + "\n")
    log(f"wrote {out} ({time.perf_counter() - started:.0f}s)")
    return out


def _base_version() -> str:
    from casenotes.embed import _model_package_version

    return f"all-MiniLM-L6-v2@{_model_package_version()}"


def export_onnx(model, target: Path, tokenizer, probe_pairs: Sequence[Pair]) -> None:  # noqa: ANN001
    """The cross-encoder to ONNX (fp32, dynamic batch and length), checked against torch on probes."""
    import warnings

    import onnxruntime as ort
    import torch

    probes = [(p.goal, p.segment) for p in probe_pairs] or [("Find housing", ">> Client signed a lease <<")]
    ids, mask, types = pad_batch(encode_pairs(tokenizer, probes))
    tmp = target.with_name("." + target.name + ".tmp")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(types)), str(tmp),
            dynamo=False, input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["logits"],
            dynamic_axes={name: {0: "batch", 1: "sequence"} for name in ("input_ids", "attention_mask", "token_type_ids")}
            | {"logits": {0: "batch"}},
            opset_version=17, do_constant_folding=True,
        )
        expected = model(torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(types)).numpy()
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(tmp), options, providers=["CPUExecutionProvider"])
    got = session.run(["logits"], {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]
    if not np.allclose(got, expected, atol=1e-3):
        raise RuntimeError(f"ONNX export differs from torch: max {np.abs(got - expected).max():.5f}")
    os.replace(tmp, target)


def quantize_int8(folder: str | Path, name: str = "goal-reader-int8.onnx") -> Path:
    """Dynamic int8 (per-channel QInt8 MatMul weights) beside the fp32 graph."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    folder = Path(folder)
    target = folder / name
    quantize_dynamic(str(folder / ONNX_FILE), str(target), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul"])
    return target


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
