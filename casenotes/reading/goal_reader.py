"""The goal reader: a cross-encoder over (goal text, segment in its context), run on ONNX Runtime.

For one goal and one segment of a note it gives the probabilities of five labels: the
segment is `irrelevant` to the goal, or it shows the goal `improving`, `worsening`, at
`no-change` or `achieved`. The decisions per goal (casenotes.reading.goals) are made from
these probabilities and the segments' context.

The pair is built the same way in training and at inference (`pair_text`): the goal text is
the first sequence; the second is the segment, optionally preceded by its section name
("[plan]") and the previous segment, the segment itself marked ">> ... <<". Shorthand is spelled
out as for the embeddings; offsets are untouched (the text is model input only).

The artifact is a folder (default: `goal-reader/` inside `casenotes/resources/models`):

    goal-reader.onnx        the fine-tuned MiniLM + mean pooling + linear head; outputs `logits`
    tokenizer.json          the base model's tokenizer
    goal-reader.json        labels, pair style, max length, decision thresholds, provenance
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from casenotes.errors import ModelError
from casenotes.reading.onnx_classifier import clean_input, file_digest, load_tokenizer, open_session, pad_batch
from casenotes.resources import resource
from casenotes.schema import ContextLabels, Segment

__all__ = ["ARTIFACT_DIR", "LABELS", "GoalReader", "PairStyle", "default_artifact_dir", "pair_text",
           "plan_as_hypothetical", "segment_inputs"]

LABELS = ("irrelevant", "improving", "worsening", "no-change", "achieved")
ARTIFACT_DIR = "goal-reader"
CONFIG_FILE, ONNX_FILE, TOKENIZER_FILE = "goal-reader.json", "goal-reader.onnx", "tokenizer.json"
PREVIOUS_WORDS = 16  # the previous segment is cut to its last words: the segment matters more
_BATCH = 32


@dataclass(frozen=True)
class PairStyle:
    """What the second sequence holds besides the segment."""

    section: bool = True  # "[plan]" before the segment
    previous: bool = True  # the previous segment of the note
    mark: bool = True  # ">> segment <<"

    @classmethod
    def named(cls, name: str) -> PairStyle:
        styles = {"context": cls(), "bare": cls(section=False, previous=False, mark=False)}
        if name not in styles:
            raise ModelError(f"unknown pair style {name!r}; expected one of {', '.join(styles)}")
        return styles[name]


def pair_text(segments: Sequence[Segment], index: int, style: PairStyle) -> str:
    """The second sequence of the pair for segment `index` of a note."""
    segment = segments[index]
    parts = []
    if style.section and segment.section:
        parts.append(f"[{segment.section}]")
    if style.previous and index > 0:
        words = clean_input(segments[index - 1].text).split()
        parts.append(" ".join(words[-PREVIOUS_WORDS:]))
    body = clean_input(segment.text)
    parts.append(f">> {body} <<" if style.mark else body)
    return " ".join(p for p in parts if p)


def segment_inputs(segments: Sequence[Segment], style: PairStyle) -> list[str]:
    return [pair_text(segments, i, style) for i in range(len(segments))]


def goal_input(goal_text: str) -> str:
    return clean_input(goal_text)


def plan_as_hypothetical(segments: Sequence[Segment], contexts: Sequence[ContextLabels]) -> list[ContextLabels]:
    """What a Plan section says is intended, not done (as the pipeline reads it)."""
    return [c.model_copy(update={"hypothetical": True}) if s.section == "plan" else c
            for s, c in zip(segments, contexts)]


def default_artifact_dir() -> Path:
    return Path(str(resource("models", ARTIFACT_DIR)))


def encode_pairs(tokenizer, pairs: Sequence[tuple[str, str]]):
    """(ids, type ids) per pair, as lists."""
    encodings = tokenizer.encode_batch([tuple(p) for p in pairs])
    return [(e.ids, e.type_ids) for e in encodings]


@dataclass(frozen=True)
class ReaderConfig:
    style: str = "context"
    max_length: int = 128
    labels: tuple[str, ...] = LABELS
    thresholds: dict | None = None  # casenotes.reading.goals.ReaderThresholds fields, tuned on dev
    prefilter_k: int | None = None  # segments per goal by embedding cosine before the cross-encoder; None: all
    metadata: dict | None = None

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> ReaderConfig:
        data = dict(data)
        data["labels"] = tuple(data.get("labels", LABELS))
        return cls(**data)


class GoalReader:
    """Probabilities of LABELS for (goal, segment) pairs. Thread-safe once built."""

    def __init__(self, folder: str | Path | None = None, threads: int | None = None,
                 onnx_file: str | None = None) -> None:
        self.folder = Path(folder) if folder else default_artifact_dir()
        config_path = self.folder / CONFIG_FILE
        try:
            self.config = ReaderConfig.from_json(json.loads(config_path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError) as exc:
            raise ModelError(f"no goal reader at {self.folder}: {exc}") from None
        if tuple(self.config.labels) != LABELS:
            raise ModelError(f"the goal reader at {self.folder} predicts {self.config.labels}, expected {LABELS}")
        self.style = PairStyle.named(self.config.style)
        self.model_file = self.folder / (onnx_file or ONNX_FILE)
        self._tokenizer = load_tokenizer(self.folder / TOKENIZER_FILE, self.config.max_length)
        self._session = open_session(self.model_file, threads, "goal reader")
        digest = file_digest(self.model_file)
        self.version = f"goal-reader-{self.config.style}+{digest}"

    @classmethod
    def available(cls, folder: str | Path | None = None) -> bool:
        folder = Path(folder) if folder else default_artifact_dir()
        return (folder / CONFIG_FILE).is_file() and (folder / ONNX_FILE).is_file()

    def probabilities(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """(n, 5) label probabilities for (goal input, segment input) pairs."""
        if not pairs:
            return np.zeros((0, len(LABELS)), dtype=np.float32)
        rows = encode_pairs(self._tokenizer, pairs)
        lengths = np.array([len(ids) for ids, _ in rows])
        logits = np.empty((len(rows), len(LABELS)), dtype=np.float32)
        from casenotes.embed.onnx_backend import _buckets  # batches of similar length, as the encoder does

        for batch in _buckets(lengths, _BATCH):
            ids, mask, types = pad_batch([rows[i] for i in batch])
            logits[batch] = self._session.run(["logits"], {"input_ids": ids, "attention_mask": mask,
                                                           "token_type_ids": types})[0]
        return _softmax(logits)

    def read_note(self, segments: Sequence[Segment], goal_texts: Sequence[str],
                  candidates: Sequence[Sequence[int]] | None = None) -> list[np.ndarray]:
        """Per goal, an (n_segments, 5) array; segments left out of `candidates[g]` get
        probability 1 of `irrelevant` without being read."""
        inputs = segment_inputs(segments, self.style)
        pairs, where = [], []
        for g, goal_text in enumerate(goal_texts):
            goal = goal_input(goal_text)
            for i in (range(len(segments)) if candidates is None else candidates[g]):
                pairs.append((goal, inputs[i]))
                where.append((g, i))
        probs = self.probabilities(pairs)
        out = [np.tile(np.eye(len(LABELS), dtype=np.float32)[0], (len(segments), 1)) for _ in goal_texts]
        for (g, i), p in zip(where, probs):
            out[g][i] = p
        return out


    def goal_results(self, segments: Sequence[Segment], contexts: Sequence[ContextLabels], goals: Sequence,
                     segment_vectors: np.ndarray | None = None, goal_vectors: np.ndarray | None = None) -> list:
        """A `GoalResult` per goal (plan order): the reader's probabilities, then the decisions of
        casenotes.reading.goals with the artifact's dev-tuned thresholds. With both vectors given and
        a `prefilter_k` in the artifact, only each goal's k nearest segments are read."""
        from casenotes.reading.goals import ReaderThresholds, decide_goal, gated_segments
        from casenotes.text.cues import concerns_family, is_ongoing_goal

        candidates = None
        k = self.config.prefilter_k
        if k and segment_vectors is not None and goal_vectors is not None and len(segments) > k:
            similarity = np.asarray(segment_vectors) @ np.asarray(goal_vectors).T
            candidates = [sorted(int(i) for i in np.argsort(-similarity[:, g], kind="stable")[:k])
                          for g in range(len(goals))]
        probs = self.read_note(segments, [g.text for g in goals], candidates)
        thresholds = ReaderThresholds.from_json(self.config.thresholds)
        return [decide_goal(g.goal_id, p, list(segments), gated_segments(list(contexts), concerns_family(g.text)),
                            is_ongoing_goal(g.text), thresholds) for g, p in zip(goals, probs)]


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def load_goal_reader(enabled: bool | None = None, encoder=None, folder: str | Path | None = None):
    """The packaged goal reader, or None: when `enabled` is False, when it is None and
    `$CASENOTES_GOAL_READER` is `off`, or when it is None and no artifact is packaged.
    `$CASENOTES_GOAL_READER` may also name an artifact folder to read instead of the packaged
    one. `enabled=True` without an artifact is a `ModelError`. Its threads follow the encoder's."""
    import os

    setting = os.environ.get("CASENOTES_GOAL_READER", "on").strip()
    if folder is None and setting.lower() not in ("on", "1", "true", "yes", "off", "0", "false", "no"):
        folder = setting  # a folder named on purpose: missing, it is an error, not the heads alone
        enabled = True if enabled is None else enabled
    if enabled is None:
        if setting.lower() in ("off", "0", "false", "no"):
            return None
        if not GoalReader.available(folder):
            return None
    elif not enabled:
        return None
    inner = getattr(encoder, "inner", encoder)
    return GoalReader(folder, threads=getattr(inner, "threads", None))
