"""The trained artifact: the heads, their decision thresholds and calibrators, in one JSON file."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from casenotes.errors import ModelError
from casenotes.reading.heads import Calibrator, LinearHead
from casenotes.resources import resource
from casenotes.schema import FLAG_TYPES

__all__ = ["DEFAULT_MODEL_FILE", "NoteHeads", "Thresholds", "TrainedModel", "load_model"]

DEFAULT_MODEL_FILE = "casenotes-heads.json"


@dataclass(frozen=True)
class Thresholds:
    relevance: float = 0.5  # least relevance of a segment that can move or be cited for a goal
    addressed: float = 1.01  # relevance at which a goal counts as addressed whatever the status head says
    domain: float = 0.5
    flag: dict[str, float] = field(default_factory=lambda: dict.fromkeys(FLAG_TYPES, 0.5))


@dataclass(frozen=True)
class NoteHeads:
    """The second-stage heads that read a whole note's segment outputs for one goal or domain."""

    status: LinearHead
    domain_note: LinearHead
    flag_note: LinearHead
    reader_status: LinearHead | None = None  # combines `status` with the goal reader's reading

    @classmethod
    def of(cls, model: TrainedModel) -> NoteHeads:
        return cls(status=model.status, domain_note=model.domain_note, flag_note=model.flag_note,
                   reader_status=model.reader_status)


@dataclass(frozen=True)
class TrainedModel:
    relevance: LinearHead
    direction: LinearHead
    domain: LinearHead
    level: LinearHead
    flag: LinearHead
    status: LinearHead | None  # note-level heads: None only inside training, before they are fitted
    domain_note: LinearHead | None
    flag_note: LinearHead | None
    thresholds: Thresholds
    calibrators: dict[str, Calibrator]
    metadata: dict[str, Any]
    # The head that reads the status head beside the goal reader; fitted on a split neither was
    # trained on. Present only in a model trained with a goal reader (metadata["goal_reader"]).
    reader_status: LinearHead | None = None

    @property
    def goal_reader(self) -> str | None:
        """The version of the goal reader this model's `reader_status` head was fitted to."""
        return self.metadata.get("goal_reader") if self.reader_status is not None else None

    @property
    def version(self) -> str:
        return str(self.metadata.get("version", "untrained"))

    def to_json(self) -> dict[str, Any]:
        heads = {name: getattr(self, name).to_json()
                 for name in ("relevance", "direction", "domain", "level", "flag", "status", "domain_note", "flag_note",
                              "reader_status") if getattr(self, name) is not None}
        return {
            "metadata": self.metadata, "heads": heads,
            "thresholds": {"relevance": self.thresholds.relevance, "addressed": self.thresholds.addressed,
                           "domain": self.thresholds.domain,
                           "flag": self.thresholds.flag},
            "calibrators": {name: c.to_json() for name, c in self.calibrators.items()},
        }

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), separators=(",", ":"), sort_keys=True) + "\n")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainedModel:
        heads = {name: LinearHead.from_json(value) for name, value in data["heads"].items()}
        return cls(
            **heads, thresholds=Thresholds(**data["thresholds"]),
            calibrators={name: Calibrator.from_json(v) for name, v in data["calibrators"].items()},
            metadata=data["metadata"],
        )


def load_model(path: str | Path | None = None) -> TrainedModel:
    """The trained heads from `path`, or the packaged ones in `casenotes/resources/models`."""
    if path is None:
        raw = resource("models", DEFAULT_MODEL_FILE)
        where = f"packaged {DEFAULT_MODEL_FILE}"
    else:
        raw = Path(path)
        where = str(path)
    try:
        text = raw.read_text(encoding="utf-8")
    except (FileNotFoundError, OSError):
        raise ModelError(f"no trained model at {where}; run `casenotes train`") from None
    try:
        model = TrainedModel.from_json(json.loads(text))
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{where} is not a casenotes model: {exc}") from None
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    model.metadata.setdefault("sha256", digest)
    return model
