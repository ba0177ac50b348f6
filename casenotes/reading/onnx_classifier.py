"""What both fine-tuned readers (goal and flag) need to run a MiniLM classifier on ONNX Runtime:
their input cleaning, the tokenizer, batch padding, the session and the artifact's digest."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from casenotes.errors import ModelError
from casenotes.text.shorthand import expand_shorthand

__all__ = ["clean_input", "file_digest", "load_tokenizer", "open_session", "pad_batch"]

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_input(text: str) -> str:
    """Text as a reader sees it: control characters blanked, case-note shorthand spelled out."""
    return expand_shorthand(_CONTROL.sub(" ", text)).strip()


def load_tokenizer(path: Path, max_length: int):
    """The tokenizer without padding (batches pad to their longest row), longest-first truncation."""
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # noqa: BLE001 - tokenizers raises its own Exception type
        raise ModelError(f"cannot load the tokenizer {path}: {exc}") from exc
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_length, strategy="longest_first")
    return tokenizer


def pad_batch(rows: Sequence[tuple[list[int], list[int]]], pad_id: int = 0) -> tuple[np.ndarray, ...]:
    """(ids, attention mask, type ids) arrays of (ids, type ids) rows, padded to the longest."""
    width = max(len(ids) for ids, _ in rows)
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    types = np.zeros((len(rows), width), dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for r, (row_ids, row_types) in enumerate(rows):
        ids[r, :len(row_ids)] = row_ids
        types[r, :len(row_types)] = row_types
        mask[r, :len(row_ids)] = 1
    return ids, mask, types


def open_session(path: Path, threads: int | None, what: str):
    """A sequential CPU session of the graph at `path`; `what` names the reader in the error."""
    import onnxruntime as ort

    if not path.is_file():
        raise ModelError(f"no {what} model at {path}")
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def file_digest(path: Path) -> str:
    """The first 12 hex digits of the file's SHA-256: the artifact's part of a model version."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()[:12]
