"""The fake encoder keeps the Encoder protocol's promises: unit rows, same text same vector."""

from __future__ import annotations

import numpy as np

from casenotes.embed.encoder import Encoder
from casenotes.embed.fake import FakeEncoder


def test_fake_encoder_is_an_encoder_with_unit_deterministic_rows():
    encoder = FakeEncoder()
    assert isinstance(encoder, Encoder)
    vectors = encoder.encode(["Cl signed a lease.", "", "Cl signed a lease."])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(vectors[0], vectors[2])
    assert np.array_equal(FakeEncoder().encode(["Cl signed a lease."])[0], vectors[0])


def test_fake_encoder_shared_words_lie_closer_than_none():
    lease, lease_again, job = FakeEncoder().encode(["signed the lease", "lease signed today", "started a job"])
    assert lease @ lease_again > lease @ job
