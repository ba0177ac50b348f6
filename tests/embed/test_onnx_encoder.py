"""The ONNX Runtime encoder: same vectors as torch (fp32), close ones (int8), and a cache that heals itself."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from casenotes.embed.encoder import CachedEncoder, Encoder, SentenceTransformerEncoder, default_encoder, make_encoder
from casenotes.errors import ModelError
from tests.conftest import DATA

pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.slow

from casenotes.embed.onnx_backend import OnnxEncoder  # noqa: E402
from casenotes.embed.onnx_export import export_model  # noqa: E402


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def sentences(pipeline) -> list[str]:
    """A few dozen case-note segments (as the pipeline embeds them) from dev notes, of mixed lengths."""
    from casenotes.pipeline import _embedding_input

    rows = [json.loads(line) for line in (DATA / "dev.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = [_embedding_input(s.text) for row in rows[:6] for s in pipeline.segmenter.segment(row["note_text"])]
    assert len(texts) >= 30
    return texts


@pytest.fixture(scope="module")
def torch_vectors(pipeline, sentences) -> np.ndarray:
    inner = pipeline.encoder.inner
    torch_encoder = inner if isinstance(inner, SentenceTransformerEncoder) else SentenceTransformerEncoder()
    return torch_encoder.encode(sentences)


@pytest.fixture(scope="module")
def fp32(cache_dir) -> OnnxEncoder:
    return OnnxEncoder("fp32", cache_dir=cache_dir, threads=1)


@pytest.fixture(scope="module")
def int8(cache_dir, fp32) -> OnnxEncoder:
    return OnnxEncoder("int8", cache_dir=cache_dir, threads=1)


def test_fp32_matches_torch(fp32, sentences, torch_vectors):
    vectors = fp32.encode(sentences)
    assert vectors.shape == (len(sentences), 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosine = (vectors * torch_vectors).sum(axis=1)
    assert cosine.min() >= 0.9999, cosine.min()


def test_int8_is_close_to_torch(int8, sentences, torch_vectors):
    cosine = (int8.encode(sentences) * torch_vectors).sum(axis=1)
    print(f"int8 vs torch on {len(sentences)} segments: mean cosine {cosine.mean():.5f}, min {cosine.min():.5f}")
    assert cosine.mean() >= 0.98
    assert cosine.min() >= 0.95


def test_names_tell_backend_and_precision(fp32, int8):
    assert isinstance(fp32, Encoder) and fp32.dimension == 384
    assert fp32.name.startswith("all-MiniLM-L6-v2@") and fp32.name.endswith("/onnx-fp32")
    assert int8.name.endswith("/onnx-int8")


def test_order_is_kept_across_batches_of_mixed_lengths(cache_dir, sentences):
    encoder = OnnxEncoder("fp32", cache_dir=cache_dir, threads=1, batch_size=4)
    rng = np.random.default_rng(7)
    texts = [sentences[i] for i in rng.permutation(len(sentences))][:20]
    texts += ["ok", texts[0] + " " + texts[1] + " " + texts[2], "", "Cl " * 400]  # tiny, long, empty, truncated
    batched = encoder.encode(texts)
    one_by_one = np.stack([encoder.encode([t])[0] for t in texts])
    assert ((batched * one_by_one).sum(axis=1) >= 0.99999).all()
    assert batched.shape == (len(texts), 384)


def test_int8_vectors_do_not_depend_on_batch_mates(int8, sentences):
    """Dynamic int8 scales activations per tensor: batching sentences together would change their vectors."""
    together = int8.encode(sentences[:12])
    alone = np.stack([int8.encode([t])[0] for t in sentences[:12]])
    np.testing.assert_allclose(together, alone, atol=1e-6)


def test_empty_input(fp32):
    empty = fp32.encode([])
    assert empty.shape == (0, 384) and empty.dtype == np.float32


def test_export_is_cached(cache_dir, fp32, int8):
    files = [fp32.model_file, int8.model_file]
    stamps = [os.stat(f).st_mtime_ns for f in files]
    again = [OnnxEncoder("fp32", cache_dir=cache_dir), OnnxEncoder("int8", cache_dir=cache_dir)]
    assert [e.model_file for e in again] == files
    assert [os.stat(f).st_mtime_ns for f in files] == stamps


@pytest.mark.parametrize("damage", ["truncate", "overwrite"])
def test_a_damaged_cache_file_is_exported_again(cache_dir, int8, sentences, damage):
    expected = int8.encode(sentences[:5])
    path = export_model("int8", cache_dir)
    size = path.stat().st_size
    if damage == "truncate":
        with path.open("r+b") as handle:
            handle.truncate(size // 3)
    else:  # same size, different bytes: only the digest can tell
        with path.open("r+b") as handle:
            handle.seek(size // 2)
            handle.write(b"\x00" * 4096)
    leftover = path.parent / ".export-killed"  # as a process killed mid-export leaves it
    leftover.mkdir()
    (leftover / "raw.onnx").write_bytes(b"partial")
    healed = OnnxEncoder("int8", cache_dir=cache_dir)
    assert healed.model_file == path and path.stat().st_size == size
    assert not leftover.exists()
    np.testing.assert_allclose(healed.encode(sentences[:5]), expected, atol=1e-5)


def test_make_encoder_and_the_environment(cache_dir, monkeypatch):
    encoder = make_encoder("onnx-fp32", cache_dir=cache_dir)
    assert isinstance(encoder, CachedEncoder) and encoder.name.endswith("/onnx-fp32")
    monkeypatch.setenv("CASENOTES_ENCODER", "onnx-int8")
    monkeypatch.setenv("CASENOTES_ONNX_CACHE", str(cache_dir))
    assert default_encoder().name.endswith("/onnx-int8")
    with pytest.raises(ModelError):
        make_encoder("tensorflow")
    with pytest.raises(ModelError):
        OnnxEncoder("int4", cache_dir=cache_dir)


def test_the_thread_cap_reaches_the_session(cache_dir):
    """`serve --workers 2` gives each worker one core; a session taking both would fight its twin."""
    capped = make_encoder("onnx-fp32", cache_dir=cache_dir, threads=1)
    assert capped.inner._session.get_session_options().intra_op_num_threads == 1
    uncapped = make_encoder("onnx-fp32", cache_dir=cache_dir)
    assert uncapped.inner._session.get_session_options().intra_op_num_threads == 0  # onnxruntime: all cores


EXPORT_WITHOUT_TORCH = """
import sys
import numpy as np
from casenotes.embed.encoder import keep_torch_out
keep_torch_out("onnx-fp32")
from casenotes.embed.onnx_backend import OnnxEncoder
vectors = OnnxEncoder("fp32", cache_dir=sys.argv[1], threads=1).encode(sys.argv[2:])
print(sys.modules.get("torch") is None, np.round(vectors, 5).tolist())
"""


def test_a_process_without_torch_still_exports_a_missing_model(tmp_path, fp32, sentences):
    """The export needs torch, so a server that keeps torch out runs it in a child process."""
    import json
    import subprocess
    import sys

    finished = subprocess.run([sys.executable, "-c", EXPORT_WITHOUT_TORCH, str(tmp_path), *sentences[:3]],
                              capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-2000:]
    kept_out, vectors = finished.stdout.split(" ", 1)
    assert kept_out == "True"
    assert list(tmp_path.glob("*/model-fp32.onnx"))
    np.testing.assert_allclose(np.array(json.loads(vectors)), fp32.encode(sentences[:3]), atol=1e-4)
