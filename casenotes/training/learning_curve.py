"""A learning curve: the heads trained on growing shares of the training notes, each scored on
one evaluation file, so we can see whether more notes still help.

The shares are nested (the 25% sample lies inside the 50% sample) and stratified by writer:
every writer keeps the same share of its notes, at least one. Within a writer, whole clients
are taken in a seeded random order, so a sample holds each client's history rather than
scattered notes of many clients; only the last client taken for a writer may be cut short
(its earliest notes kept), which is what keeps every writer's share within one note.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from casenotes.embed.encoder import CachedEncoder, Encoder
from casenotes.errors import InvalidInput
from casenotes.shared_format import LabeledCase

__all__ = ["DEFAULT_FRACTIONS", "CurvePoint", "LearningCurve", "curve_table", "embed_once", "parse_fractions",
           "run_learning_curve", "sample_indices"]

DEFAULT_FRACTIONS = (0.25, 0.5, 1.0)
# Enough for every segment of the training and evaluation splits together (about 30,000 now).
SEGMENT_MEMO_ITEMS = 1_000_000

COLUMNS = [("goal-status macro-F1", lambda m: m["goal_status_macro_f1"]),
           ("worsening F1", lambda m: m["per_status"]["worsening"]["f1"]),
           ("citation F1", lambda m: m["citation_f1"]), ("domain F1", lambda m: m["domain_f1"]),
           ("level within-one", lambda m: m["domain_level_within1"]),
           ("flag recall", lambda m: m["flag_recall"]), ("flag precision", lambda m: m["flag_precision"])]


@dataclass(frozen=True)
class CurvePoint:
    fraction: float
    notes: int
    writers: int
    metrics: dict[str, Any]  # the shared metrics of the trained pipeline on the evaluation file


@dataclass(frozen=True)
class LearningCurve:
    points: list[CurvePoint]
    baselines: dict[str, dict[str, Any]]  # baseline name -> shared metrics; no training, so one run
    eval_notes: int


def parse_fractions(text: str) -> tuple[float, ...]:
    """'0.25,0.5,1.0' -> (0.25, 0.5, 1.0), ascending and without repeats; each in (0, 1]."""
    try:
        fractions = {float(part) for part in text.split(",") if part.strip()}
    except ValueError:
        raise InvalidInput(f"fractions must be numbers separated by commas, not {text!r}") from None
    if not fractions or any(not 0 < f <= 1 for f in fractions):
        raise InvalidInput(f"each fraction must be above 0 and at most 1, not {text!r}")
    return tuple(sorted(fractions))


def sample_indices(cases: Sequence[LabeledCase], fraction: float, seed: int = 0) -> list[int]:
    """Positions in `cases` of a `fraction` of the notes: each writer's share rounded, at least
    one note, taken client by client. The same seed gives the same order for every fraction,
    so a smaller sample is always inside a larger one."""
    keep: list[int] = []
    for ordered in _writer_orders(cases, seed).values():
        keep += ordered[:_share(len(ordered), fraction)]
    return sorted(keep)


def _share(total: int, fraction: float) -> int:
    return min(total, max(1, math.floor(fraction * total + 0.5)))


def _writer_orders(cases: Sequence[LabeledCase], seed: int) -> dict[str, list[int]]:
    """Each writer's notes in the order they are taken: clients shuffled, each client's notes
    oldest first."""
    clients: dict[str, dict[str, list[int]]] = {}
    for i, case in enumerate(cases):
        client = case.note.client_id or f"note:{case.id}"  # a note without a client stands alone
        clients.setdefault(case.writer or "", {}).setdefault(client, []).append(i)
    orders = {}
    for writer, by_client in sorted(clients.items()):
        names = sorted(by_client)
        random.Random(f"{seed}:{writer}").shuffle(names)  # a str seed is hashed the same in every process
        orders[writer] = [i for name in names for i in sorted(by_client[name], key=lambda i: _when(cases[i], i))]
    return orders


def _when(case: LabeledCase, position: int) -> tuple[str, int]:
    return (case.note.note_date.isoformat() if case.note.note_date else "", position)


def embed_once(encoder: Encoder) -> CachedEncoder:
    """`encoder` with every text embedded once across all the runs. `Pipeline.analyse_many`
    embeds segments through the cache's inner encoder, passing the cache by (so a service's
    cache of goal texts is not flushed by note text); the memo under the cache keeps the
    segments too, so each note is embedded once, not once per fraction."""
    raw = encoder.inner if isinstance(encoder, CachedEncoder) else encoder
    return CachedEncoder(CachedEncoder(raw, max_items=SEGMENT_MEMO_ITEMS))


def run_learning_curve(train: tuple[list[dict[str, Any]], list[LabeledCase]],
                       evaluation: tuple[list[dict[str, Any]], list[LabeledCase]], *, encoder: Encoder, rubric,
                       fractions: Sequence[float] = DEFAULT_FRACTIONS, seed: int = 0, folds: int = 5,
                       log: Callable[[str], None] | None = None) -> LearningCurve:
    """Train the heads on each fraction of `train` (gold dicts, cases, as `read_gold` returns)
    and score the pipeline on `evaluation`."""
    from casenotes.pipeline import Pipeline
    from casenotes.training.harness import run_eval
    from casenotes.training.train import train_model

    train_gold, train_cases = train
    eval_gold, eval_cases = evaluation
    shared = {c.id for c in train_cases} & {c.id for c in eval_cases}
    if shared:
        raise InvalidInput(f"the evaluation file shares {len(shared)} note ids with the training file")
    encoder = embed_once(encoder)
    points, baselines = [], {}
    for fraction in sorted(fractions):
        keep = sample_indices(train_cases, fraction, seed)
        cases, gold = [train_cases[i] for i in keep], [train_gold[i] for i in keep]
        writers = len({c.writer or "" for c in cases})
        if log:
            log(f"{fraction:.0%}: training on {len(cases)} notes by {writers} writers")
        report = train_model(Pipeline(encoder=encoder, rubric=rubric, model=None), cases, gold,
                             f"learning-curve-{fraction:g}", folds=folds, tune=None)
        run = run_eval(Pipeline(encoder=encoder, rubric=rubric, model=report.model), eval_gold, eval_cases)
        points.append(CurvePoint(fraction, len(cases), writers, run.metrics["casenotes"]))
        baselines = {name: metrics for name, metrics in run.metrics.items() if name != "casenotes"}
    return LearningCurve(points, baselines, len(eval_cases))


def _cell(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def curve_table(curve: LearningCurve) -> str:
    """One row per fraction, then one per baseline (trained on nothing, so the same at every fraction)."""
    lines = ["| fraction | training notes | training writers | " + " | ".join(name for name, _ in COLUMNS) + " |",
             "|---|---|---|" + "---|" * len(COLUMNS)]
    for point in curve.points:
        cells = " | ".join(_cell(value(point.metrics)) for _, value in COLUMNS)
        lines.append(f"| {point.fraction:.0%} | {point.notes} | {point.writers} | {cells} |")
    for name, metrics in curve.baselines.items():
        cells = " | ".join(_cell(value(metrics)) for _, value in COLUMNS)
        lines.append(f"| baseline: {name} | - | - | {cells} |")
    return "\n".join(lines)
