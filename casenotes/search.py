"""The persisted faiss index of segment embeddings behind semantic search.

The database is the truth and this index a copy of its vectors, keyed by segment id:
it catches up from the database by id, a client's erasure removes its ids at once, and
every hit is checked against the database again, so a deleted or out-of-scope segment
can never be returned even by an index another process has not yet caught up.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

__all__ = ["SegmentIndex"]


class SegmentIndex:
    def __init__(self, dimension: int, path: Path | None = None) -> None:
        import faiss

        self.dimension = dimension
        self.path = path
        self._lock = threading.Lock()
        if path is not None and path.exists():
            self._index = faiss.read_index(str(path))
        else:
            self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))

    def __len__(self) -> int:
        return self._index.ntotal

    @property
    def newest_id(self) -> int:
        """The largest segment id held: the database is read from there on to catch up."""
        import faiss

        with self._lock:
            if self._index.ntotal == 0:
                return 0
            return int(faiss.vector_to_array(self._index.id_map).max())

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        with self._lock:
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                                     np.asarray(ids, dtype=np.int64))

    def remove(self, ids: list[int]) -> int:
        if not ids:
            return 0
        with self._lock:
            return int(self._index.remove_ids(np.asarray(ids, dtype=np.int64)))

    def replace_all(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        import faiss

        fresh = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dimension))
        if len(ids):
            fresh.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))
        with self._lock:
            self._index = fresh

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        with self._lock:
            if self._index.ntotal == 0:
                return []
            scores, ids = self._index.search(np.asarray(vector, dtype=np.float32)[None, :], min(k, self._index.ntotal))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def save(self) -> None:
        """Write the index beside its final path, then move it there: a crash leaves the old file whole."""
        import faiss

        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".partial")
        with self._lock:
            faiss.write_index(self._index, str(partial))
        os.replace(partial, self.path)
