"""Fine-tuning the packaged MiniLM as a classifier, and shipping it as ONNX: what the goal
reader and the flag reader train the same way. Each reader brings its own examples, targets,
loss and batching; everything else is here."""

from __future__ import annotations

import json
import logging
import os
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from casenotes.reading.onnx_classifier import pad_batch

__all__ = ["FineTuneSettings", "FineTuned", "base_model_dir", "base_version", "export_onnx", "fine_tune", "quantize_int8",
           "read_jsonl", "training_cases"]

_log = logging.getLogger("casenotes.training")
Row = tuple[list[int], list[int]]  # (token ids, type ids)


@dataclass(frozen=True)
class FineTuneSettings:
    """What every fine-tuning run of a reader on the packaged MiniLM is set by; each reader's
    settings add their own fields and defaults."""

    style: str = "context"
    epochs: int = 3
    batch_size: int = 16
    learning_rate: float = 4e-5
    head_learning_rate: float = 1e-3
    warmup: float = 0.1
    max_length: int = 128
    threads: int = 2
    frozen_layers: int = 2  # the embeddings and this many lower layers stay as packaged (CPU time)
    seed: int = 13
    limit_notes: int | None = None  # the first notes only (a smoke test)
    max_steps: int | None = None
    extra: dict = field(default_factory=dict)


def training_cases(train_paths, settings: FineTuneSettings) -> list[dict]:
    """The labeled notes a run trains on: all of them, or the first `limit_notes` (a smoke test)."""
    cases = read_jsonl(train_paths)
    return cases[:settings.limit_notes] if settings.limit_notes else cases


class Schedule(Protocol):
    """The settings every reader's training settings carry."""

    epochs: int
    batch_size: int
    learning_rate: float
    head_learning_rate: float
    warmup: float
    threads: int
    frozen_layers: int
    seed: int
    max_steps: int | None


class FineTuned:
    def __init__(self, model, steps: int, loss_by_epoch: list[float]) -> None:
        self.model = model
        self.steps = steps
        self.loss_by_epoch = loss_by_epoch


def read_jsonl(paths: Iterable[str | Path]) -> list[dict]:
    rows = []
    for path in paths:
        rows += [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows


def base_model_dir() -> Path:
    from casenotes.embed.encoder import _packaged_model_path

    return Path(_packaged_model_path())


def base_version() -> str:
    from casenotes.embed.encoder import _model_package_version

    return f"all-MiniLM-L6-v2@{_model_package_version()}"


def _classifier_class():
    import torch

    class MeanPooledClassifier(torch.nn.Module):
        """MiniLM over the input, mean pooling over real tokens, dropout, a linear head."""

        def __init__(self, bert, outputs: int) -> None:
            super().__init__()
            self.bert = bert
            self.dropout = torch.nn.Dropout(0.1)
            self.head = torch.nn.Linear(bert.config.hidden_size, outputs)

        def forward(self, input_ids, attention_mask, token_type_ids):
            tokens = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=token_type_ids).last_hidden_state
            weights = attention_mask.unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return self.head(self.dropout(pooled))

    return MeanPooledClassifier


def fine_tune(encoded: Sequence[Row], targets: np.ndarray, outputs: int, loss_fn, schedule: Schedule,
              batches: Callable[[], Iterable[list[int]]], *, log: Callable[[str], None] | None = None,
              log_every: int = 20, started: float | None = None) -> FineTuned:
    """Train a MeanPooledClassifier with `outputs` logits on `encoded` rows against `targets`.
    The embeddings and the lower `frozen_layers` layers stay as packaged; AdamW with a higher
    rate for the head, linear warm-up then decay, gradients clipped at 1; `batches()` gives
    one epoch's batches of row indices."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from transformers import AutoModel

    log = log or _log.info
    started = started if started is not None else time.perf_counter()
    torch.set_num_threads(schedule.threads)
    torch.manual_seed(schedule.seed)
    bert = AutoModel.from_pretrained(str(base_model_dir()), local_files_only=True, attn_implementation="eager")
    model = _classifier_class()(bert, outputs)
    _freeze_lower_layers(model, schedule.frozen_layers)
    head_params = list(model.head.parameters())
    body_params = [p for n, p in model.named_parameters() if not n.startswith("head.") and p.requires_grad]
    optimizer = torch.optim.AdamW([{"params": body_params, "lr": schedule.learning_rate},
                                   {"params": head_params, "lr": schedule.head_learning_rate}], weight_decay=0.01)
    total = (len(encoded) + schedule.batch_size - 1) // schedule.batch_size * schedule.epochs
    if schedule.max_steps:
        total = min(total, schedule.max_steps)
    warmup = max(1, int(total * schedule.warmup))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warmup, max(0.0, (total - step) / max(1, total - warmup))))

    model.train()
    step, history = 0, []
    for epoch in range(schedule.epochs):
        running, seen = 0.0, 0
        for batch in batches():
            if step >= total:
                break
            ids, mask, types = (torch.from_numpy(a) for a in pad_batch([encoded[i] for i in batch]))
            loss = loss_fn(model(ids, mask, types), torch.from_numpy(targets[batch]))
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            step += 1
            running += float(loss.detach()) * len(batch)
            seen += len(batch)
            if step % log_every == 0 or step == total:
                log(f"epoch {epoch + 1} step {step}/{total} loss {running / max(1, seen):.4f} "
                    f"({time.perf_counter() - started:.0f}s)")
        history.append(round(running / max(1, seen), 4))
        log(f"epoch {epoch + 1} done: mean loss {history[-1]} ({time.perf_counter() - started:.0f}s)")
        if step >= total:
            break
    model.eval()
    return FineTuned(model, step, history)


def _freeze_lower_layers(model, frozen_layers: int) -> None:
    for name, parameter in model.bert.named_parameters():
        frozen = name.startswith("embeddings.") or any(
            name.startswith(f"encoder.layer.{k}.") for k in range(frozen_layers))
        parameter.requires_grad_(not (frozen and frozen_layers >= 0))


def export_onnx(model, target: Path, probes: Sequence[Row]) -> None:
    """The classifier to ONNX (fp32, dynamic batch and length), checked against torch on `probes`."""
    import onnxruntime as ort
    import torch

    ids, mask, types = pad_batch(list(probes) or [([101, 2000, 102], [0, 0, 0])])
    tmp = target.with_name("." + target.name + ".tmp")
    inputs = ("input_ids", "attention_mask", "token_type_ids")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(types)), str(tmp),
            dynamo=False, input_names=list(inputs), output_names=["logits"],
            dynamic_axes={name: {0: "batch", 1: "sequence"} for name in inputs} | {"logits": {0: "batch"}},
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


def quantize_int8(source: Path, target: Path) -> Path:
    """Dynamic int8 (per-channel QInt8 MatMul weights) of the fp32 graph at `source`."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul"])
    return target
