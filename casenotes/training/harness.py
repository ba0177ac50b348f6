"""The eval harness: the pipeline and the baselines on the same labeled notes, in one run."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from casenotes.schema import STATUSES
from casenotes.shared_format import LabeledCase, iter_labeled, prediction_json
from casenotes.training.baselines import BASELINES, BaselineRunner
from casenotes.training.metrics import score_predictions

__all__ = ["EvalRun", "metrics_by_writer", "read_gold", "run_eval", "summary_table", "writer_table"]

UNNAMED_WRITER = "(no writer)"
WRITER_COLUMNS = [("goal_status_macro_f1", "goal F1"), ("citation_f1", "citation F1"), ("domain_f1", "domain F1"),
                  ("domain_level_within1", "within-one"), ("flag_recall", "flag R"), ("flag_precision", "flag P")]

HEADLINE = [
    ("goal_status_macro_f1", "goal-status macro-F1"), ("goal_status_accuracy", "goal-status accuracy"),
    ("citation_f1", "citation F1"), ("citation_precision", "citation precision"),
    ("citation_recall", "citation recall"), ("domain_f1", "domain F1"),
    ("domain_level_within1", "level within-one"), ("domain_level_mae", "level MAE"),
    ("flag_recall", "flag recall"), ("flag_precision", "flag precision"),
]


@dataclass(frozen=True)
class EvalRun:
    metrics: dict[str, dict[str, Any]]  # system name -> shared metrics
    by_writer: dict[str, dict[str, dict[str, Any]]]  # writer -> system name -> shared metrics
    predictions: dict[str, list[dict[str, Any]]]
    latency_ms: list[float]
    confidences: list[tuple[float, bool]]  # pipeline goal confidence, status right
    model_version: str
    rubric: str


def read_gold(path: str | Path) -> tuple[list[dict[str, Any]], list[LabeledCase]]:
    """Raw gold dicts (for scoring) and parsed cases (for predicting) of a labeled file."""
    pairs = list(iter_labeled(path, require_labels=True))
    return [raw for raw, _ in pairs], [case for _, case in pairs]


def run_eval(pipeline, gold: list[dict[str, Any]], cases: list[LabeledCase]) -> EvalRun:
    predictions: dict[str, list[dict[str, Any]]] = {"casenotes": []}
    latency = []
    for case in cases:  # one note at a time, as on arrival, to measure latency
        started = time.perf_counter()
        result = pipeline.score(case.note, case.plan)
        latency.append((time.perf_counter() - started) * 1000)
        predictions["casenotes"].append(prediction_json(case.id, result))
    analysed = pipeline.analyse_many([c.note.text for c in cases])
    runner = BaselineRunner(pipeline)
    for name in BASELINES:
        predictions[name] = [runner.predict(name, note, case.plan, case.id) for note, case in zip(analysed, cases)]
    metrics = {name: score_predictions(gold, preds) for name, preds in predictions.items()}
    by_writer = metrics_by_writer(gold, predictions)
    confidences = [
        (goal["confidence"], goal["status"] == g["labels"]["goals"][goal_id]["status"])
        for g, p in zip(gold, predictions["casenotes"]) for goal_id, goal in p["goals"].items()
    ]
    rubric = f"{pipeline.rubric.name}@{pipeline.rubric.version}+{pipeline.rubric.content_hash[:12]}"
    return EvalRun(metrics, by_writer, predictions, latency, confidences, pipeline.model_version, rubric)


def metrics_by_writer(gold: list[dict[str, Any]],
                      predictions: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, dict[str, Any]]]:
    """The shared metrics of each system over each writer's notes alone: a pooled figure can hide
    a writer the reader fails on."""
    writers = sorted({case.get("writer") or UNNAMED_WRITER for case in gold})
    by_writer = {}
    for writer in writers:
        cases = [case for case in gold if (case.get("writer") or UNNAMED_WRITER) == writer]
        ids = {case["id"] for case in cases}
        by_writer[writer] = {name: score_predictions(cases, [p for p in preds if p["id"] in ids])
                             for name, preds in predictions.items()}
    return by_writer


def _cell(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def summary_table(run: EvalRun) -> str:
    systems = list(run.metrics)
    lines = ["| metric | " + " | ".join(systems) + " |", "|---|" + "---|" * len(systems)]
    for key, label in HEADLINE:
        lines.append(f"| {label} | " + " | ".join(_cell(run.metrics[s][key]) for s in systems) + " |")
    p50, p95 = np.percentile(run.latency_ms, [50, 95]) if run.latency_ms else (0.0, 0.0)
    lines.append(f"| ms/note p50 / p95 | {p50:.1f} / {p95:.1f} | " + " | ".join("-" for _ in systems[1:]) + " |")
    return "\n".join(lines)


def writer_table(run: EvalRun) -> str:
    """One row per writer and system: the headline figures on that writer's notes alone."""
    header = "| writer | notes | system | " + " | ".join(label for _, label in WRITER_COLUMNS) + " |"
    lines = [header, "|---|---|---|" + "---|" * len(WRITER_COLUMNS)]
    for writer, systems in run.by_writer.items():
        for name, metrics in systems.items():
            cells = " | ".join(_cell(metrics[key]) for key, _ in WRITER_COLUMNS)
            lines.append(f"| {writer} | {metrics['cases']} | {name} | {cells} |")
    return "\n".join(lines)


def per_type_table(run: EvalRun) -> str:
    metrics = run.metrics["casenotes"]
    lines = ["| flag type | recall | precision |", "|---|---|---|"]
    for flag_type, recall in metrics["flag_recall_by_type"].items():
        precision = metrics["flag_precision_by_type"].get(flag_type)
        lines.append(f"| {flag_type} | {recall:.3f} | {_cell(precision)} |")
    lines += ["", "| status | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for status, row in metrics["per_status"].items():
        lines.append(f"| {status} | {row['precision']:.3f} | {row['recall']:.3f} | {row['f1']:.3f} | {row['support']} |")
    return "\n".join(lines)


def confusion_rows(metrics: dict[str, Any]) -> np.ndarray:
    matrix = np.zeros((len(STATUSES), len(STATUSES)), dtype=int)
    for key, count in metrics["confusion"].items():
        gold, predicted = key.split("|")
        matrix[STATUSES.index(gold), STATUSES.index(predicted)] = count
    return matrix


def confusion_table(metrics: dict[str, Any]) -> str:
    matrix = confusion_rows(metrics)
    lines = ["| gold \\ predicted | " + " | ".join(STATUSES) + " |", "|---|" + "---|" * len(STATUSES)]
    for status, row in zip(STATUSES, matrix):
        lines.append(f"| {status} | " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines)
