"""The encoder backends: one registry, named the same as the settings' list."""

from __future__ import annotations

import pytest

from casenotes.embed import BACKENDS
from casenotes.embed.encoder import REGISTRY, make_encoder
from casenotes.errors import ModelError


def test_registry_builds_exactly_the_named_backends():
    assert set(REGISTRY) == set(BACKENDS)


def test_registry_an_unknown_backend_is_a_model_error_naming_the_choices():
    with pytest.raises(ModelError, match="onnx-fp32"):
        make_encoder("onnx-fp64")
