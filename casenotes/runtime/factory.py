"""The one place a Pipeline is built for running: the service, file batches, the Ray backfill,
the eval and the CLI all call `build_pipeline`, so they cannot drift apart.

It chooses the encoder backend (the spec's, else `$CASENOTES_ENCODER`, else the default) and
caps the threads of what that backend uses: the encoder's own intra-op threads (torch's only
when the backend is torch) and faiss'. Nothing here imports torch for an ONNX backend, so Ray
actors and worker processes do not load it for nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from casenotes.embed import DEFAULT_BACKEND
from casenotes.schema import DEFAULT_MAX_NOTE_CHARS

if TYPE_CHECKING:
    from casenotes.pipeline import Pipeline

__all__ = ["PipelineSpec", "build_pipeline"]


@dataclass(frozen=True)
class PipelineSpec:
    """What a running pipeline is built from; every field has the packaged default."""

    model_path: str | None = None
    rubric: str = "self-sufficiency"
    rubric_dir: str | None = None
    encoder: str | None = None          # a backend name (casenotes.embed.BACKENDS)
    threads: int | None = None          # None: the libraries' own defaults
    max_note_chars: int = DEFAULT_MAX_NOTE_CHARS

    @property
    def backend(self) -> str:
        return self.encoder or os.environ.get("CASENOTES_ENCODER") or DEFAULT_BACKEND


def build_pipeline(spec: PipelineSpec | None = None) -> Pipeline:
    """The model, rubric and encoder of `spec`, loaded once, threads capped."""
    from casenotes.embed.encoder import make_encoder
    from casenotes.pipeline import Pipeline

    spec = spec or PipelineSpec()
    if spec.threads:
        import faiss

        faiss.omp_set_num_threads(spec.threads)
    encoder = make_encoder(spec.backend, threads=spec.threads)
    return Pipeline.load(model_path=spec.model_path, rubric=spec.rubric, rubric_dir=spec.rubric_dir,
                         encoder=encoder, max_note_chars=spec.max_note_chars)
