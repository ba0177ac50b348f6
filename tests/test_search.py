"""The segment index: exact when small, inverted-file when large, persisted, and erasable."""

from __future__ import annotations

import numpy as np

from casenotes.search import SegmentIndex


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def clustered(n: int, dimension: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(50, dimension))
    return unit(centres[rng.integers(0, 50, n)] + 0.3 * rng.normal(size=(n, dimension)))


def test_search_flat_index_finds_the_nearest_and_forgets_removed_ids(tmp_path):
    vectors = clustered(500)
    index = SegmentIndex(32, tmp_path / "segments.faiss")
    index.add(np.arange(1, 501), vectors)
    assert index.search(vectors[41], 1)[0][0] == 42
    assert index.remove([42]) == 1
    assert 42 not in [i for i, _ in index.search(vectors[41], 10)]
    index.save()
    reopened = SegmentIndex(32, tmp_path / "segments.faiss")
    assert len(reopened) == 499 and reopened.newest_id == 500 and reopened.kind == "flat"


def test_search_large_rebuild_is_ivf_with_high_recall_and_working_removal(tmp_path):
    vectors = clustered(20_000, seed=1)
    ids = np.arange(10, 20_010)
    index = SegmentIndex(32, tmp_path / "segments.faiss", ivf_from=10_000)
    index.replace_all(ids, vectors)
    assert index.kind == "ivf"
    queries = clustered(100, seed=2)
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    found = [[i for i, _ in index.search(q, 10)] for q in queries]
    recall = np.mean([len(set(ids[e]) & set(f)) / 10 for e, f in zip(exact, found)])
    assert recall >= 0.9
    gone = [int(i) for i in found[0][:3]]
    assert index.remove(gone) == 3
    assert not set(gone) & {i for i, _ in index.search(queries[0], 10)}
    index.save()
    reopened = SegmentIndex(32, tmp_path / "segments.faiss")
    assert reopened.kind == "ivf" and len(reopened) == 20_000 - 3 and reopened.newest_id == 20_009
