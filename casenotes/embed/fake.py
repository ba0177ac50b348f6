"""A deterministic stand-in for the sentence encoder, for tests that exercise everything but
the model: segmentation, context, decisions, the store and the API.

Each text becomes the normalised sum of one pseudo-random unit vector per lower-cased word,
seeded by the word's hash (BLAKE2b, so it is the same in every process and on every machine):
texts that share words lie close, texts that share none are near-orthogonal. It reads nothing
about meaning, so no test of reading quality may use it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

__all__ = ["FakeEncoder"]

_WORD = re.compile(r"\w+")


class FakeEncoder:
    """Satisfies `casenotes.embed.encoder.Encoder` with word-hash vectors."""

    name = "fake-word-hash"

    def __init__(self, dimension: int = 384) -> None:
        self.dimension = dimension

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                out[row] += self._word_vector(word)
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else self._word_vector("")
        return out

    def _word_vector(self, word: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")
        vector = np.random.default_rng(seed).standard_normal(self.dimension).astype(np.float32)
        return vector / np.linalg.norm(vector)
