"""Writes an eval run as markdown with PNG plots (confusion matrix, reliability of confidence)."""

from __future__ import annotations

import json
import platform
from datetime import date
from pathlib import Path

import numpy as np

from casenotes.schema import STATUSES
from casenotes.training.harness import EvalRun, confusion_rows, confusion_table, per_type_table, summary_table, writer_table

__all__ = ["reliability_bins", "write_report"]


def reliability_bins(confidences: list[tuple[float, bool]], bins: int = 10) -> list[tuple[float, float, int]]:
    """(mean confidence, accuracy, count) per equal-width confidence bin that has members."""
    rows = []
    values = np.array([c for c, _ in confidences], dtype=float)
    right = np.array([r for _, r in confidences], dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    for low, high in zip(edges[:-1], edges[1:]):
        members = (values >= low) & ((values < high) | (high == 1.0))
        if members.any():
            rows.append((float(values[members].mean()), float(right[members].mean()), int(members.sum())))
    return rows


def expected_calibration_error(confidences: list[tuple[float, bool]]) -> float:
    total = len(confidences) or 1
    return sum(n / total * abs(conf - acc) for conf, acc, n in reliability_bins(confidences))


def _plot_confusion(run: EvalRun, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = confusion_rows(run.metrics["casenotes"])
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(STATUSES)), STATUSES, rotation=35, ha="right")
    ax.set_yticks(range(len(STATUSES)), STATUSES)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, str(value), ha="center", va="center",
                color="white" if value > matrix.max() / 2 else "black")
    ax.set_title("Goal status confusion (casenotes)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_reliability(run: EvalRun, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bins = reliability_bins(run.confidences)
    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    if bins:
        conf, acc, counts = zip(*bins)
        ax.plot(conf, acc, marker="o", label="casenotes goal status")
        for c, a, n in bins:
            ax.annotate(str(n), (c, a), textcoords="offset points", xytext=(4, -10), fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_title(f"Reliability (ECE {expected_calibration_error(run.confidences):.3f})")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(run: EvalRun, gold_path: str, directory: str | Path) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    _plot_confusion(run, directory / "confusion.png")
    _plot_reliability(run, directory / "reliability.png")
    (directory / "metrics.json").write_text(json.dumps(run.metrics, indent=1, sort_keys=True) + "\n")
    text = "\n".join([
        f"# casenotes eval: {Path(gold_path).name}", "",
        f"- date: {date.today().isoformat()}; cases: {run.metrics['casenotes']['cases']}",
        f"- model: `{run.model_version}`; rubric: `{run.rubric}`",
        f"- machine: {platform.machine()}, {platform.system()}, Python {platform.python_version()}",
        f"- command: `casenotes eval {gold_path} --report {directory}`", "",
        "## Shared metrics, pipeline and baselines in the same run", "", summary_table(run), "",
        "## Per writer (each writer's notes alone)", "", writer_table(run), "",
        "## Per flag type and per status (casenotes)", "", per_type_table(run), "",
        "## Goal-status confusion (casenotes)", "", confusion_table(run.metrics["casenotes"]), "",
        "![confusion](confusion.png)", "",
        f"## Reliability of goal-status confidence (ECE {expected_calibration_error(run.confidences):.3f})", "",
        "![reliability](reliability.png)", "",
    ])
    path = directory / "REPORT.md"
    path.write_text(text)
    return path
