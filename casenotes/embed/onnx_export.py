"""First-use export of the packaged all-MiniLM-L6-v2 to ONNX, and the cache that keeps the files.
The model is exported with torch (mean pooling and L2 normalisation inside the graph), quantized to
int8 when that precision is asked for, checked against the original on a few probe sentences, and
written to a cache directory under a key that hashes the model files and this recipe. Each file is
written under a temporary name, renamed into place under a file lock and stored next to a digest
that is checked whenever it is looked up, so a half-written or damaged file is exported again.
The encoder in casenotes.embed.onnx_backend imports this module, never the other way round, so the
small tokenizer helpers that both of them need live here too.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from casenotes.errors import ModelError

__all__ = ["PRECISIONS", "default_cache_dir", "digest_file", "export_model", "exported", "load_tokenizer",
           "max_seq_length", "read_json"]

#: "int8" quantizes the weights of every MatMul (Q, K, V, attention output, feed-forward);
#: "int8-mixed" keeps each layer's feed-forward output projection in fp32 (closer to fp32, slower).
PRECISIONS = ("fp32", "int8", "int8-mixed")

# Bump when the graph, the fusion or the quantization recipe changes: it is part of the cache key.
_RECIPE = "casenotes-onnx-2"
_PROBES = (
    "Cl signed a lease for a 1BR on Elm St and got the keys today.",
    "CM will f/u re: job leads next wk.",
    "Client reports she was fired from the warehouse on Friday and is behind on rent, "
    "and her car needs a new transmission before she can get to the interview in Clayton.",
    "ok",
)
_log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """`$CASENOTES_ONNX_CACHE`, else `$XDG_CACHE_HOME/casenotes/onnx`, else `~/.cache/casenotes/onnx`."""
    explicit = os.environ.get("CASENOTES_ONNX_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "casenotes" / "onnx"


# -- the cache ------------------------------------------------------------------------------


def export_model(precision: str, cache_dir: str | os.PathLike | None = None,
                 model_dir: str | os.PathLike | None = None) -> Path:
    """The cached ONNX file for `precision`, exporting (and quantizing) it first if it is missing or damaged."""
    if precision not in PRECISIONS:
        raise ModelError(f"unknown ONNX precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
    if model_dir is None:
        from casenotes.embed.encoder import _packaged_model_path

        model_dir = _packaged_model_path()
    model_dir = Path(model_dir)
    folder = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    folder = folder / _cache_key(model_dir)
    target = folder / f"model-{precision}.onnx"
    if _is_intact(target):
        return target
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"cannot create the ONNX cache directory {folder}: {exc}") from exc
    with _locked(folder / ".lock"):
        if _is_intact(target):  # another process finished it while we waited
            return target
        for stale in folder.glob(".[edq]*-*"):  # left by a process killed mid-export (we hold the lock)
            if stale.name.startswith((".export-", ".quantize-", ".digest-")):
                shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)
        fp32 = folder / "model-fp32.onnx"
        if not _is_intact(fp32):
            _log.info("exporting %s to %s", model_dir, fp32)
            _export_fp32(model_dir, fp32)
        if precision != "fp32":
            _log.info("quantizing %s to %s", fp32, target)
            _quantize(fp32, target, keep_ffn_output=precision == "int8-mixed", model_dir=model_dir)
    return target


def exported(precision: str, cache_dir: str | os.PathLike | None, model_dir: Path) -> Path:
    """`export_model`, in a child process when this one keeps torch out (see `embed.keep_torch_out`)."""
    from casenotes.embed.encoder import torch_is_kept_out

    if not torch_is_kept_out():
        return export_model(precision, cache_dir, model_dir)
    command = [sys.executable, "-m", "casenotes.embed.onnx_export", precision, str(model_dir)]
    if cache_dir is not None:
        command.append(str(cache_dir))
    finished = subprocess.run(command, capture_output=True, text=True)
    if finished.returncode != 0:
        raise ModelError(f"exporting the ONNX model failed: {finished.stderr.strip().splitlines()[-1:]}")
    return Path(finished.stdout.strip())


def _cache_key(model_dir: Path) -> str:
    """A hash of the model files and of everything that shapes the exported graph."""
    from importlib import metadata

    tools = []
    for package in ("onnxruntime", "onnx", "torch", "transformers"):  # they write the graph
        try:
            tools.append(f"{package}={metadata.version(package)}")
        except metadata.PackageNotFoundError:
            tools.append(f"{package}=-")
    digest = hashlib.sha256("|".join([_RECIPE, *tools]).encode())
    for name in ("config.json", "tokenizer.json", "sentence_bert_config.json", "1_Pooling/config.json",
                 "model.safetensors"):
        path = model_dir / name
        if path.exists():
            digest.update(name.encode())
            with path.open("rb") as handle:
                digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()[:16]


def digest_file(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _is_intact(path: Path) -> bool:
    try:
        expected = digest_file(path).read_text(encoding="ascii").strip()
        return bool(expected) and _sha256(path) == expected
    except OSError:
        return False


def _install(built: Path, target: Path) -> None:
    """Move a finished file into place, then its digest: a reader never sees half of either."""
    digest = _sha256(built)
    os.replace(built, target)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".digest-")
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(digest + "\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, digest_file(target))


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: atomic renames alone
        yield
        return
    try:
        handle = path.open("a")
    except OSError as exc:
        raise ModelError(f"cannot write to the ONNX cache directory {path.parent}: {exc}") from exc
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# -- export and quantization ---------------------------------------------------------------------


def _export_fp32(model_dir: Path, target: Path) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        bert = AutoModel.from_pretrained(str(model_dir), local_files_only=True, attn_implementation="eager").eval()
    except OSError as exc:
        raise ModelError(f"cannot load the embedding model at {model_dir}: {exc}") from exc
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    module = _pooled_encoder_class()(bert).eval()
    max_length = max_seq_length(model_dir)
    tokenizer, pad_id = load_tokenizer(model_dir, max_length)
    ids, mask = _batch(tokenizer, pad_id, _PROBES)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".export-") as tmp:
        raw = Path(tmp) / "model.onnx"
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # The TorchScript exporter: no onnxscript needed, and onnxruntime fuses its graph at load.
            torch.onnx.export(
                module, (torch.from_numpy(ids), torch.from_numpy(mask)), str(raw), dynamo=False,
                input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
                              "embedding": {0: "batch"}},
                opset_version=17, do_constant_folding=True,
            )
            expected = module(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
        _check_against(raw, ids, mask, expected, minimum=0.9999, what="the fp32 ONNX export")
        _install(raw, target)


def _pooled_encoder_class():
    import torch

    class PooledEncoder(torch.nn.Module):
        """BERT, then mean pooling over real tokens and L2 normalisation, as sentence-transformers does."""

        def __init__(self, bert) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):
            tokens = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
            weights = attention_mask.unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    return PooledEncoder


def _quantize(fp32: Path, target: Path, keep_ffn_output: bool, model_dir: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(fp32), load_external_data=False).graph
    excluded: list[str] = []
    if keep_ffn_output:  # each layer's intermediate -> hidden projection, e.g. /bert/encoder/layer.3/output/dense/MatMul
        excluded = [n.name for n in graph.node
                    if n.op_type == "MatMul" and "/output/dense/" in n.name and "/attention/" not in n.name]
        layers = int(read_json(model_dir / "config.json")["num_hidden_layers"])
        if len(excluded) != layers:
            raise ModelError(f"expected {layers} feed-forward output MatMuls in {fp32.name}, found {len(excluded)}")
    max_length = max_seq_length(model_dir)
    tokenizer, pad_id = load_tokenizer(model_dir, max_length)
    ids, mask = _batch(tokenizer, pad_id, _PROBES)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".quantize-") as tmp:
        built = Path(tmp) / "int8.onnx"
        with _quiet():
            quantize_dynamic(
                str(fp32), str(built), weight_type=QuantType.QInt8, per_channel=True,
                op_types_to_quantize=["MatMul"],  # the embedding table stays fp32: a lookup gains nothing
                nodes_to_exclude=excluded,
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            )
        expected = _run(fp32, ids, mask)
        _check_against(built, ids, mask, expected, minimum=0.95, what="the int8 ONNX model")
        _install(built, target)


def _run(path: Path, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session.run(["embedding"], {"input_ids": ids, "attention_mask": mask})[0]


def _check_against(path: Path, ids: np.ndarray, mask: np.ndarray, expected: np.ndarray, minimum: float,
                   what: str) -> None:
    got = _run(path, ids, mask)
    cosine = float((got * expected).sum(axis=1).min())
    if not cosine >= minimum:
        raise ModelError(f"{what} does not reproduce the model: cosine {cosine:.5f} < {minimum}")


_CHATTY = ("onnxruntime",)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the quantizer's progress logging (some of it on the root logger)."""
    root = logging.getLogger()
    loggers = [root] + [logging.getLogger(name) for name in _CHATTY]
    levels = [lg.level for lg in loggers]
    guard = None
    if not root.handlers:  # logging.warning() would otherwise call basicConfig() on our behalf
        guard = logging.NullHandler()
        root.addHandler(guard)
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
        if guard is not None:
            root.removeHandler(guard)


# -- tokenization ---------------------------------------------------------------------------------


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read {path}: {exc}") from exc


def max_seq_length(model_dir: Path) -> int:
    """What sentence-transformers truncates at (256 for this model), never past the position table."""
    config = read_json(model_dir / "config.json")
    limit = int(config.get("max_position_embeddings", 512))
    st_config = model_dir / "sentence_bert_config.json"
    if st_config.exists():
        value = read_json(st_config).get("max_seq_length")
        if value:
            return min(int(value), limit)
    return min(512, limit)


def load_tokenizer(model_dir: Path, max_length: int):
    from tokenizers import Tokenizer

    path = model_dir / "tokenizer.json"
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # noqa: BLE001 - tokenizers raises its own Exception type
        raise ModelError(f"cannot load the tokenizer {path}: {exc}") from exc
    padding = tokenizer.padding or {}
    pad_id = padding.get("pad_id")
    if pad_id is None:
        pad_id = tokenizer.token_to_id("[PAD]") or 0
    tokenizer.no_padding()  # padding is done per batch, to the batch's longest
    tokenizer.enable_truncation(max_length=max_length)
    return tokenizer, int(pad_id)


def _batch(tokenizer, pad_id: int, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    encodings = tokenizer.encode_batch(list(texts))
    width = max(len(e.ids) for e in encodings)
    ids = np.full((len(encodings), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(encodings), width), dtype=np.int64)
    for row, encoding in enumerate(encodings):
        ids[row, :len(encoding.ids)] = encoding.ids
        mask[row, :len(encoding.ids)] = 1
    return ids, mask


if __name__ == "__main__":  # the child `exported` runs: PRECISION MODEL_DIR [CACHE_DIR]
    print(export_model(sys.argv[1], sys.argv[3] if len(sys.argv) > 3 else None, sys.argv[2]))
