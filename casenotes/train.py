"""Fit the heads on a training split; tune thresholds and calibrate on a dev split.

The test split is never read here. Labels are turned into per-segment targets
with the same span-matching rule the metrics use.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from casenotes.dataset import LabeledCase, prediction_json
from casenotes.evaluate import evidence_span, score_predictions, spans_hit
from casenotes.features import (
    AnalysedNote, direction_features, level_features, relevance_features, segment_features,
)
from casenotes.heads import fit_calibrator, fit_head
from casenotes.match import cosine_matrix
from casenotes.model import Thresholds, TrainedModel
from casenotes.schema import DOMAINS, FLAG_TYPES, NoteResult
from casenotes.score import DIRECTIONS

__all__ = ["TrainingReport", "train_model"]

REGULARIZATION = {"relevance": 1.0, "direction": 0.05, "domain": 0.05, "level": 0.05, "flag": 0.05}


@dataclass(frozen=True)
class TrainingReport:
    model: TrainedModel
    dev_metrics: dict[str, Any]
    examples: dict[str, int]


def _hits_any(segment_span: tuple[int, int], gold: list[tuple[int, int]]) -> bool:
    return any(spans_hit(segment_span, g) for g in gold)


def _gold_spans(text: str, quotes: Sequence[str]) -> list[tuple[int, int]]:
    return [evidence_span(text, q) for q in quotes if q in text]


def _training_rows(pipeline, cases: list[LabeledCase], notes: list[AnalysedNote]) -> dict[str, Any]:  # noqa: ANN001
    rows: dict[str, list] = {k: [] for k in ("rel_x", "rel_y", "dir_x", "dir_y", "seg_x", "dom_y",
                                              "flag_y", "lvl_x", "lvl_y")}
    for case, note in zip(cases, notes):
        spans = [(s.start, s.end) for s in note.segments]
        if not spans:
            continue
        labels = case.labels or {}
        for view in pipeline.goal_views(case.plan):
            label = labels["goals"][view.goal.goal_id]
            gold = _gold_spans(note.text, label["evidence"])
            cosines = cosine_matrix(note.vectors, view.vector[None, :])[:, 0]
            is_evidence = np.array([_hits_any(s, gold) for s in spans])
            rows["rel_x"].append(relevance_features(note, view, cosines))
            rows["rel_y"].append(is_evidence.astype(int))
            if label["status"] != "not-addressed" and is_evidence.any():
                rows["dir_x"].append(direction_features(note, view, cosines)[is_evidence])
                rows["dir_y"] += [label["status"]] * int(is_evidence.sum())
        domain_y = np.zeros((len(spans), len(DOMAINS)), dtype=int)
        for domain, label in labels.get("domains", {}).items():
            k = DOMAINS.index(domain)
            gold = _gold_spans(note.text, label["evidence"])
            is_evidence = np.array([_hits_any(s, gold) for s in spans])
            domain_y[is_evidence, k] = 1
            if is_evidence.any():
                rows["lvl_x"].append(level_features(note, k)[is_evidence])
                rows["lvl_y"] += [str(label["level"])] * int(is_evidence.sum())
        flag_y = np.zeros((len(spans), len(FLAG_TYPES)), dtype=int)
        for flag in labels.get("flags", []):
            gold = _gold_spans(note.text, flag["evidence"])
            flag_y[[_hits_any(s, gold) for s in spans], FLAG_TYPES.index(flag["type"])] = 1
        rows["seg_x"].append(segment_features(note))
        rows["dom_y"].append(domain_y)
        rows["flag_y"].append(flag_y)
    return rows


def _fit_heads(rows: dict[str, Any]) -> dict[str, Any]:
    stack = np.vstack
    return {
        "relevance": fit_head(stack(rows["rel_x"]), np.concatenate(rows["rel_y"]).astype(str),
                              regularization=REGULARIZATION["relevance"]),
        "direction": fit_head(stack(rows["dir_x"]), rows["dir_y"], regularization=REGULARIZATION["direction"]),
        "domain": fit_head(stack(rows["seg_x"]), stack(rows["dom_y"]), kind="one-vs-rest", classes=DOMAINS,
                           regularization=REGULARIZATION["domain"]),
        "level": fit_head(stack(rows["lvl_x"]), rows["lvl_y"], regularization=REGULARIZATION["level"]),
        "flag": fit_head(stack(rows["seg_x"]), stack(rows["flag_y"]), kind="one-vs-rest", classes=FLAG_TYPES,
                         regularization=REGULARIZATION["flag"]),
    }


def _predict(pipeline, cases, notes, model) -> list[dict[str, Any]]:  # noqa: ANN001
    pipeline.model = model
    return [prediction_json(c.id, pipeline._result(c.note, c.plan, n)) for c, n in zip(cases, notes)]


def _best(candidates: list[Thresholds], objective: Callable[[Thresholds], float]) -> Thresholds:
    return max(candidates, key=objective)


def _tune_thresholds(pipeline, cases, gold, notes, model: TrainedModel) -> Thresholds:  # noqa: ANN001
    def metrics(thresholds: Thresholds) -> dict[str, Any]:
        return score_predictions(gold, _predict(pipeline, cases, notes, replace(model, thresholds=thresholds)))

    current = model.thresholds
    goal_grid = [replace(current, relevance=r, change=c)
                 for r, c in itertools.product((0.3, 0.4, 0.5, 0.6, 0.7, 0.8), (0.1, 0.2, 0.3, 0.4, 0.5))]
    current = _best(goal_grid, lambda t: metrics(t)["goal_status_macro_f1"])
    current = _best([replace(current, domain=d) for d in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)],
                    lambda t: metrics(t)["domain_f1"])
    flag_thresholds = dict(current.flag)
    for flag_type in FLAG_TYPES:
        def recall_first(t: Thresholds, flag_type: str = flag_type) -> float:
            m = metrics(t)
            recall = m["flag_recall_by_type"].get(flag_type, 1.0)
            precision = m["flag_precision_by_type"].get(flag_type, 1.0)
            return (recall >= 0.97) * 10 + recall * 2 + precision
        grid = [replace(current, flag={**flag_thresholds, flag_type: v}) for v in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7)]
        flag_thresholds[flag_type] = _best(grid, recall_first).flag[flag_type]
    return replace(current, flag=flag_thresholds)


def _calibrate(pipeline, cases, notes, model: TrainedModel) -> dict[str, Any]:  # noqa: ANN001
    raw_goal, right_goal, raw_domain, right_domain, raw_flag, right_flag = [], [], [], [], [], []
    pipeline.model = replace(model, calibrators={})
    for case, note in zip(cases, notes):
        result: NoteResult = pipeline._result(case.note, case.plan, note)
        labels = case.labels or {}
        for goal in result.goals:
            raw_goal.append(goal.confidence)
            right_goal.append(goal.status == labels["goals"][goal.goal_id]["status"])
        gold_domains = labels.get("domains", {})
        for domain in result.domains:
            raw_domain.append(domain.confidence)
            right_domain.append(domain.domain in gold_domains
                                and abs(gold_domains[domain.domain]["level"] - domain.level) <= 1)
        gold_flags = {f["type"] for f in labels.get("flags", [])}
        for flag in result.flags:
            raw_flag.append(flag.confidence)
            right_flag.append(flag.type in gold_flags)
    return {"goal": fit_calibrator(raw_goal, right_goal), "domain": fit_calibrator(raw_domain, right_domain),
            "flag": fit_calibrator(raw_flag, right_flag)}


def _fingerprint(cases: list[LabeledCase]) -> str:
    digest = hashlib.sha256()
    for case in cases:
        digest.update(case.id.encode())
        digest.update(case.note.text.encode("utf-8", "replace"))
    return digest.hexdigest()[:16]


def train_model(pipeline, train_cases: list[LabeledCase], dev_cases: list[LabeledCase],  # noqa: ANN001
                dev_gold: list[dict[str, Any]], version: str,
                sources: dict[str, str] | None = None) -> TrainingReport:
    """Fit on `train_cases`; tune and calibrate on `dev_cases` (whose raw dicts are `dev_gold`)."""
    train_notes = pipeline.analyse_many([c.note.text for c in train_cases])
    dev_notes = pipeline.analyse_many([c.note.text for c in dev_cases])
    rows = _training_rows(pipeline, train_cases, train_notes)
    heads = _fit_heads(rows)
    metadata = {
        "version": version, "trained": date.today().isoformat(), "encoder": pipeline.encoder.name,
        "rubric": f"{pipeline.rubric.name}@{pipeline.rubric.version}+{pipeline.rubric.content_hash[:12]}",
        "train_cases": len(train_cases), "train_fingerprint": _fingerprint(train_cases),
        "dev_cases": len(dev_cases), "dev_fingerprint": _fingerprint(dev_cases),
        "regularization": REGULARIZATION, "sources": sources or {},
        "direction_classes": list(DIRECTIONS),
    }
    model = TrainedModel(**heads, thresholds=Thresholds(), calibrators={}, metadata=metadata)
    model = replace(model, thresholds=_tune_thresholds(pipeline, dev_cases, dev_gold, dev_notes, model))
    model = replace(model, calibrators=_calibrate(pipeline, dev_cases, dev_notes, model))
    dev_metrics = score_predictions(dev_gold, _predict(pipeline, dev_cases, dev_notes, model))
    examples = {"relevance_pairs": int(sum(len(y) for y in rows["rel_y"])),
                "direction_segments": len(rows["dir_y"]), "level_segments": len(rows["lvl_y"]),
                "segments": int(sum(len(x) for x in rows["seg_x"]))}
    return TrainingReport(model=model, dev_metrics=dev_metrics, examples=examples)


def write_model(report: TrainingReport, directory: Path, file_name: str) -> Path:
    path = directory / file_name
    report.model.save(path)
    return path
