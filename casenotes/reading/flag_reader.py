"""The flag reader: MiniLM fine-tuned as a multi-label segment classifier over the five flag types.

For each segment of a note it gives five independent (sigmoid) probabilities, one per
FLAG_TYPES entry: does this segment carry the evidence of a flag of that type. The input is
the segment in light context (`segment_input`): the segment first, then, as the second
sequence, its section name and the last words of the previous segment.

Decisions (pure functions, `decide_flags`): a note raises flag type k when any segment's
probability reaches the type's threshold (tuned on dev for recall first, then precision);
its citations are the segments over the threshold (the strongest, at most MAX_CITATIONS, in
note order); its confidence is the note's best score through an isotonic calibrator fitted on
dev. Optionally, the rule-based context gating of `casenotes.reading.flags.flag_is_gated` silences
segments on top of the model (`gating="rules"`); whether it helps is decided by measurement
and stored in the artifact's config.

The artifact is a folder (default: `flag-reader/` inside `casenotes/resources/models`):

    flag-reader.onnx    the fine-tuned MiniLM + mean pooling + linear head; outputs `logits` (batch, 5)
    tokenizer.json      the base model's tokenizer
    flag-reader.json    style, max length, thresholds, calibrator, gating, provenance
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from casenotes.errors import ModelError
from casenotes.reading.heads import Calibrator
from casenotes.reading.onnx_classifier import clean_input, file_digest, load_tokenizer, open_session, pad_batch
from casenotes.resources import resource
from casenotes.schema import FLAG_TYPES, Citation, ContextLabels, Flag, Segment

__all__ = [
    "ARTIFACT_DIR",
    "MAX_CITATIONS",
    "STYLES",
    "FlagReader",
    "FlagReaderConfig",
    "decide_flags",
    "default_artifact_dir",
    "flag_scores",
    "gating_matrix",
    "reader_inputs",
    "segment_input",
]

ARTIFACT_DIR = "flag-reader"
CONFIG_FILE, ONNX_FILE, TOKENIZER_FILE = "flag-reader.json", "flag-reader.onnx", "tokenizer.json"
STYLES = ("context", "bare")  # context: section + previous segment as a second sequence; bare: the segment alone
PREVIOUS_WORDS = 16
MAX_CITATIONS = 2
_BATCH = 32


def segment_input(segments: Sequence[Segment], index: int, style: str = "context") -> tuple[str, str | None]:
    """(first, second) model input of segment `index`; second is None for the bare style."""
    if style not in STYLES:
        raise ModelError(f"unknown flag reader style {style!r}; expected one of {', '.join(STYLES)}")
    body = clean_input(segments[index].text)
    if style == "bare":
        return body, None
    segment = segments[index]
    parts = [f"[{segment.section}]" if segment.section else "[none]"]
    if index > 0:
        parts.append(" ".join(clean_input(segments[index - 1].text).split()[-PREVIOUS_WORDS:]))
    return body, " ".join(parts)


def reader_inputs(segments: Sequence[Segment], style: str = "context") -> list[tuple[str, str | None]]:
    return [segment_input(segments, i, style) for i in range(len(segments))]


# -- decisions: pure functions over (n_segments, 5) probability arrays -------------------------


def gating_matrix(segments: Sequence[Segment], contexts: Sequence[ContextLabels],
                  cue_hits: np.ndarray | None = None) -> np.ndarray:
    """(n, 5) bool: the rule-based context gating of `casenotes.reading.flags.flag_is_gated` per segment and type."""
    from casenotes.reading.flags import flag_is_gated

    n = len(segments)
    hits = np.zeros((n, len(FLAG_TYPES))) if cue_hits is None else np.asarray(cue_hits)
    return np.array([[flag_is_gated(t, c, s.text, bool(hits[i, k]), s.section) for k, t in enumerate(FLAG_TYPES)]
                     for i, (s, c) in enumerate(zip(segments, contexts))], dtype=bool).reshape(n, len(FLAG_TYPES))


def flag_scores(probs: np.ndarray, gated: np.ndarray | None = None) -> np.ndarray:
    """Each segment's score per type: its probability, 0 where gating (if given) silences it."""
    probs = np.asarray(probs, dtype=np.float64).reshape(-1, len(FLAG_TYPES))
    return probs if gated is None else np.where(np.asarray(gated, dtype=bool), 0.0, probs)


def decide_flags(probs: np.ndarray, segments: Sequence[Segment], thresholds: dict[str, float],
                 severity: dict[str, int], calibrator: Calibrator | None = None,
                 gated: np.ndarray | None = None) -> list[Flag]:
    """The note's flags, in FLAG_TYPES order. Type k is raised when a segment's score reaches
    `thresholds[k]`; it cites the segments over the threshold (the strongest MAX_CITATIONS, in
    note order) and its confidence is the calibrated best score."""
    scores = flag_scores(probs, gated)
    if not len(segments) or scores.shape[0] != len(segments):
        return []
    flags = []
    for k, flag_type in enumerate(FLAG_TYPES):
        column = scores[:, k]
        threshold = float(thresholds.get(flag_type, 0.5))
        best = float(column.max())
        if best < threshold or best <= 0.0:
            continue
        over = [int(i) for i in np.argsort(-column, kind="stable") if column[i] >= threshold][:MAX_CITATIONS]
        cited = sorted(over, key=lambda i: segments[i].start)
        confidence = float(np.clip(calibrator(best) if calibrator else best, 0.0, 1.0))
        flags.append(Flag(type=flag_type, severity=int(severity.get(flag_type, 3)), confidence=confidence,
                          citations=tuple(Citation(start=segments[i].start, end=segments[i].end,
                                                   text=segments[i].text) for i in cited)))
    return flags


# -- the artifact ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlagReaderConfig:
    style: str = "context"
    max_length: int = 128
    flag_types: tuple[str, ...] = FLAG_TYPES
    thresholds: dict = field(default_factory=lambda: dict.fromkeys(FLAG_TYPES, 0.5))
    gating: str = "none"  # "none" or "rules"
    calibrator: dict | None = None  # heads.Calibrator JSON, fitted on dev
    metadata: dict | None = None

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> FlagReaderConfig:
        data = dict(data)
        data["flag_types"] = tuple(data.get("flag_types", FLAG_TYPES))
        return cls(**data)


def default_artifact_dir() -> Path:
    return Path(str(resource("models", ARTIFACT_DIR)))


def encode_inputs(tokenizer, inputs: Sequence[tuple[str, str | None]]) -> list[tuple[list[int], list[int]]]:
    """(ids, type ids) per input; a None second sequence encodes the first alone."""
    singles = [i for i, (_, second) in enumerate(inputs) if second is None]
    pairs = [i for i, (_, second) in enumerate(inputs) if second is not None]
    out: list = [None] * len(inputs)
    if singles:
        for i, e in zip(singles, tokenizer.encode_batch([inputs[i][0] for i in singles])):
            out[i] = (e.ids, e.type_ids)
    if pairs:
        for i, e in zip(pairs, tokenizer.encode_batch([(inputs[i][0], inputs[i][1]) for i in pairs])):
            out[i] = (e.ids, e.type_ids)
    return out


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class FlagReader:
    """Per-segment flag probabilities and the note's flags. Thread-safe once built."""

    def __init__(self, folder: str | Path | None = None, threads: int | None = None,
                 onnx_file: str | None = None) -> None:
        self.folder = Path(folder) if folder else default_artifact_dir()
        try:
            self.config = FlagReaderConfig.from_json(json.loads((self.folder / CONFIG_FILE).read_text("utf-8")))
        except (OSError, ValueError, TypeError) as exc:
            raise ModelError(f"no flag reader at {self.folder}: {exc}") from None
        if tuple(self.config.flag_types) != FLAG_TYPES:
            raise ModelError(f"the flag reader at {self.folder} predicts {self.config.flag_types}, expected {FLAG_TYPES}")
        if self.config.style not in STYLES or self.config.gating not in ("none", "rules"):
            raise ModelError(f"the flag reader at {self.folder} has an unknown style or gating")
        self.calibrator = Calibrator.from_json(self.config.calibrator) if self.config.calibrator else None
        self.model_file = self.folder / (onnx_file or ONNX_FILE)
        self._tokenizer = load_tokenizer(self.folder / TOKENIZER_FILE, self.config.max_length)
        self._session = open_session(self.model_file, threads, "flag reader")
        digest = file_digest(self.model_file)
        self.version = f"flag-reader-{self.config.style}+{digest}"

    @classmethod
    def available(cls, folder: str | Path | None = None) -> bool:
        folder = Path(folder) if folder else default_artifact_dir()
        return (folder / CONFIG_FILE).is_file() and (folder / ONNX_FILE).is_file()

    def probabilities(self, segments: Sequence[Segment]) -> np.ndarray:
        """(n, 5) per-segment probabilities in FLAG_TYPES order."""
        if not segments:
            return np.zeros((0, len(FLAG_TYPES)), dtype=np.float32)
        rows = encode_inputs(self._tokenizer, reader_inputs(segments, self.config.style))
        lengths = np.array([len(ids) for ids, _ in rows])
        logits = np.empty((len(rows), len(FLAG_TYPES)), dtype=np.float32)
        order = np.argsort(lengths, kind="stable")  # batches of similar length pad less
        for first in range(0, len(order), _BATCH):
            batch = order[first:first + _BATCH]
            ids, mask, types = pad_batch([rows[i] for i in batch])
            logits[batch] = self._session.run(["logits"], {"input_ids": ids, "attention_mask": mask,
                                                           "token_type_ids": types})[0]
        return _sigmoid(logits)

    def read(self, segments: Sequence[Segment], contexts: Sequence[ContextLabels], severity: dict[str, int],
             cue_hits: np.ndarray | None = None) -> list[Flag]:
        probs = self.probabilities(segments)
        gated = gating_matrix(segments, contexts, cue_hits) if self.config.gating == "rules" else None
        return decide_flags(probs, segments, self.config.thresholds, severity, self.calibrator, gated)
