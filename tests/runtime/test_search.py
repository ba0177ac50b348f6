"""The segment index: exact when small, inverted-file when large, persisted, erasable, and
kept equal to the database by applying its ordered change log exactly once."""

from __future__ import annotations

import json
import threading
import time

import numpy as np

from casenotes.runtime.search import SegmentIndex


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
    assert len(reopened) == 499 and 42 not in reopened and 500 in reopened and reopened.kind == "flat"


def test_search_large_rebuild_is_ivf_with_high_recall_and_working_removal(tmp_path):
    vectors = clustered(20_000, seed=1)
    ids = np.arange(10, 20_010)
    index = SegmentIndex(32, tmp_path / "segments.faiss", ivf_from=10_000)
    index.replace_all(ids, vectors, applied_seq=77)
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
    assert reopened.kind == "ivf" and len(reopened) == 20_000 - 3 and reopened.applied_seq == 77
    kept = np.array([i for i in ids[:20] if i not in gone][:5])
    assert reopened.add(kept, vectors[kept - 10]) == 0, "ids read back from the IVF lists are not added twice"
    assert reopened.add(np.array(gone), vectors[np.array(gone) - 10]) == 3 and len(reopened) == 20_000


class ListLog:
    """An in-memory change log: what `SegmentChangeLog` reads from the database."""

    def __init__(self, vectors: np.ndarray, pause: float = 0.0) -> None:
        self.vectors = vectors  # segment id i has vectors[i]
        self.stored = set(range(len(vectors)))
        self.changes: list[tuple[int, int, str]] = []
        self.pause = pause  # widens the window between reading the log and applying it

    def write(self, op: str, *segment_ids: int) -> None:
        for segment_id in segment_ids:
            self.changes.append((len(self.changes) + 1, segment_id, op))

    def changes_after(self, seq: int, limit: int):
        found = [c for c in self.changes if c[0] > seq][:limit]
        time.sleep(self.pause)
        return found, {i: self.vectors[i] for _, i, op in found if op == "add" and i in self.stored}

    def snapshot(self):
        present: set[int] = set()
        for _, segment_id, op in self.changes:
            (present.add if op == "add" else present.discard)(segment_id)
        ids = np.array(sorted(present & self.stored), dtype=np.int64)
        return len(self.changes), ids, self.vectors[ids]


def entries(index: SegmentIndex) -> list[int]:
    """Every id the faiss index holds, once per entry: a duplicate shows twice."""
    return sorted(i for i, _ in index.search(np.ones(index.dimension, np.float32), len(index) + 5))


def caught_up(log: ListLog, path=None) -> SegmentIndex:
    index = SegmentIndex(32, path, log=log)
    index.catch_up()  # a new index starts from the database's snapshot
    return index


def test_search_catch_up_applies_each_change_once_in_order():
    log = ListLog(clustered(20))
    index = caught_up(log)
    log.write("add", 5, 6, 7)
    log.write("remove", 6)
    log.write("add", 1)  # a lower id committed later: still applied
    log.write("remove", 7)
    log.write("add", 7)  # removed and added again within one batch
    assert index.catch_up() == 7 and entries(index) == [1, 5, 7] and index.applied_seq == 7
    log.write("add", 5, 5, 1)  # already present: skipped, never a second entry
    log.stored.discard(9)
    log.write("add", 9)  # deleted before the add was applied: skipped, its remove follows
    assert index.catch_up() == 4 and entries(index) == [1, 5, 7]
    log.write("remove", 9, 1)
    assert index.catch_up() == 2 and entries(index) == [5, 7] and index.catch_up() == 0


def test_search_catch_up_reads_a_long_log_in_batches(monkeypatch):
    import casenotes.runtime.search as search

    monkeypatch.setattr(search, "CHANGES_PER_READ", 3)
    log = ListLog(clustered(20))
    index = caught_up(log)
    log.write("add", *range(10))
    log.write("remove", *range(0, 10, 2))
    assert index.catch_up() == 15 and entries(index) == [1, 3, 5, 7, 9] and index.applied_seq == 15


def test_search_concurrent_catch_up_adds_nothing_twice():
    log = ListLog(clustered(400), pause=0.01)
    index = caught_up(log)
    log.write("add", *range(0, 400, 2))
    barrier = threading.Barrier(8)
    applied: list[int] = []

    def catch_up_and_add_more(worker: int) -> None:
        barrier.wait()
        for round_ in range(5):
            applied.append(index.catch_up())
            if worker == 0:  # a writer keeps appending while the others catch up
                log.write("add", *range(1 + round_ * 2, 400, 10))

    threads = [threading.Thread(target=catch_up_and_add_more, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    applied.append(index.catch_up())
    assert sum(applied) == len(log.changes)
    assert entries(index) == sorted(log.snapshot()[1].tolist())


def test_search_restart_resumes_from_the_saved_seq(tmp_path):
    log = ListLog(clustered(50))
    path = tmp_path / "segments.faiss"
    index = caught_up(log, path)
    log.write("add", *range(10))
    index.save()  # applies the log first
    assert json.loads(path.with_suffix(".json").read_text()) == {"applied_seq": 10}
    log.write("remove", 3)
    log.write("add", 20, 21)
    reopened = SegmentIndex(32, path, log=log)
    assert reopened.applied_seq == 10 and len(reopened) == 10
    assert reopened.catch_up() == 3, "only the changes after the saved seq"
    assert entries(reopened) == [0, 1, 2, 4, 5, 6, 7, 8, 9, 20, 21]


def test_search_an_index_saved_before_the_change_log_is_rebuilt(tmp_path):
    log = ListLog(clustered(50))
    log.write("add", *range(30))
    log.write("remove", 7)
    path = tmp_path / "segments.faiss"
    old = SegmentIndex(32, path)
    old.add(np.array([3, 3, 40]), log.vectors[[3, 3, 40]])
    old.save()
    path.with_suffix(".json").write_text(json.dumps({"newest_id": 40}))  # what the old index wrote
    reopened = SegmentIndex(32, path, log=log)
    assert reopened.catch_up() == 0 and reopened.applied_seq == 31
    assert entries(reopened) == [i for i in range(30) if i != 7]


def test_search_save_never_writes_back_what_the_log_removed(tmp_path):
    log = ListLog(clustered(20))
    path = tmp_path / "segments.faiss"
    lagging = caught_up(log, path)
    log.write("add", 1, 2, 3)
    lagging.catch_up()
    log.write("remove", 2)  # an erasure another worker committed
    lagging.save()
    assert entries(SegmentIndex(32, path)) == [1, 3]
