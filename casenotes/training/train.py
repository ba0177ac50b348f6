"""Fit the heads on labeled notes; tune thresholds and calibrate out of fold.

The caller passes the train and dev splits; the test split is never read here.
Labels become per-segment targets with the same span rule the metrics use.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import numpy as np

from casenotes.reading.features import (
    AnalysedNote,
    direction_features,
    level_features,
    relevance_features,
    segment_features,
)
from casenotes.reading.heads import Calibrator, LinearHead, fit_calibrator, fit_head
from casenotes.reading.match import cosine_matrix
from casenotes.reading.model import NoteHeads, Thresholds, TrainedModel
from casenotes.reading.reader_summary import combined_features
from casenotes.reading.score import (
    SUMMARY_SIZE,
    domain_summary,
    feature_signature,
    flag_summary,
    goal_summary,
    heads_status_probabilities,
)
from casenotes.schema import DOMAINS, FLAG_TYPES, NoteResult
from casenotes.shared_format import LabeledCase, prediction_json
from casenotes.training.metrics import evidence_span, score_predictions, spans_hit

__all__ = ["TrainingReport", "train_model"]

REGULARIZATION = {"relevance": 1.0, "direction": 0.05, "domain": 0.05, "level": 0.05, "flag": 0.05,
                  "status": 0.3, "domain_note": 1.0,
                  "flag_note": 1.0, "reader_status": 0.3}


@dataclass(frozen=True)
class TrainingReport:
    model: TrainedModel
    cross_validated: dict[str, Any]  # out-of-fold metrics over the training cases
    examples: dict[str, int]
    out_of_fold: list[dict[str, Any]]  # predictions, in the shared format


def _hits_any(segment_span: tuple[int, int], gold: list[tuple[int, int]]) -> bool:
    return any(spans_hit(segment_span, g) for g in gold)


def _gold_spans(text: str, quotes: Sequence[str]) -> list[tuple[int, int]]:
    return [evidence_span(text, q) for q in quotes if q in text]


def _case_rows(pipeline, case: LabeledCase, note: AnalysedNote) -> dict[str, list]:
    """Per-segment training targets of one labeled note, for every head."""
    rows: dict[str, list] = {k: [] for k in _ROW_KEYS}
    spans = [(s.start, s.end) for s in note.segments]
    if not spans:
        return rows
    labels = case.labels or {}
    for view in pipeline.goal_views(case.plan):
        label = labels["goals"][view.goal.goal_id]
        gold = _gold_spans(note.text, label["evidence"])
        cosines = cosine_matrix(note.vectors, view.vector[None, :])[:, 0]
        is_evidence = np.array([_hits_any(s, gold) for s in spans])
        rows["rel_x"].append(relevance_features(note, view, cosines))
        rows["rel_y"] += [str(int(v)) for v in is_evidence]
        if label["status"] != "not-addressed" and is_evidence.any():
            rows["dir_x"].append(direction_features(note, view, cosines)[is_evidence])
            rows["dir_y"] += [label["status"]] * int(is_evidence.sum())
    domain_y = np.zeros((len(spans), len(DOMAINS)), dtype=int)
    for domain, label in labels.get("domains", {}).items():
        k = DOMAINS.index(domain)
        is_evidence = np.array([_hits_any(s, _gold_spans(note.text, label["evidence"])) for s in spans])
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


_ROW_KEYS = ("rel_x", "rel_y", "dir_x", "dir_y", "seg_x", "dom_y", "flag_y", "lvl_x", "lvl_y")


def _merge(per_case: list[dict[str, list]]) -> dict[str, list]:
    return {key: [item for rows in per_case for item in rows[key]] for key in _ROW_KEYS}


def _fit_heads(rows: dict[str, list]) -> dict[str, Any]:
    stack = np.vstack
    return {
        "relevance": fit_head(stack(rows["rel_x"]), rows["rel_y"], regularization=REGULARIZATION["relevance"]),
        "direction": fit_head(stack(rows["dir_x"]), rows["dir_y"], regularization=REGULARIZATION["direction"]),
        "domain": fit_head(stack(rows["seg_x"]), stack(rows["dom_y"]), kind="one-vs-rest", classes=DOMAINS,
                           regularization=REGULARIZATION["domain"]),
        "level": fit_head(stack(rows["lvl_x"]), rows["lvl_y"], regularization=REGULARIZATION["level"]),
        "flag": fit_head(stack(rows["seg_x"]), stack(rows["flag_y"]), kind="one-vs-rest", classes=FLAG_TYPES,
                         regularization=REGULARIZATION["flag"]),
    }


def client_folds(cases: list[LabeledCase], folds: int) -> list[int]:
    """Fold of each case; all notes of a client share a fold."""
    def fold_of(client: str) -> int:
        return int(hashlib.sha256(client.encode()).hexdigest(), 16) % folds
    return [fold_of(c.note.client_id or c.id) for c in cases]


def writer_folds(cases: list[LabeledCase], folds: int) -> list[int]:
    """Fold of each case with all notes of a writer in one fold, so thresholds and the second
    stage are tuned on writers the first-stage heads never read: the test holds unseen writers.
    Writers go to the lightest fold, largest first. Notes without a writer fall back to client
    folds when no case names a writer."""
    if not any(c.writer for c in cases):
        return client_folds(cases, folds)
    return folds_of_writers([c.writer or "" for c in cases], folds)


def folds_of_writers(writers: Sequence[str], folds: int) -> list[int]:
    """The fold of each note's writer: writers go to the lightest fold, most notes first."""
    sizes = Counter(writers)
    load = [0] * folds
    fold_of_writer: dict[str, int] = {}
    for writer in sorted(sizes, key=lambda w: (-sizes[w], w)):
        lightest = load.index(min(load))
        fold_of_writer[writer] = lightest
        load[lightest] += sizes[writer]
    return [fold_of_writer[w] for w in writers]


@dataclass
class _OutOfFold:
    """Head outputs for every case from a model that did not see that case's client."""

    pipeline: Any
    cases: list[LabeledCase]
    gold: list[dict[str, Any]]
    notes: list[AnalysedNote]
    outputs: list[Any]
    note_heads: NoteHeads | None = None

    def predictions(self, thresholds: Thresholds, calibrators: dict) -> list[NoteResult]:
        return [self.pipeline.decide(c.note, n, o, self.note_heads, thresholds, calibrators)
                for c, n, o in zip(self.cases, self.notes, self.outputs)]

    def metrics(self, thresholds: Thresholds, calibrators: dict | None = None) -> dict[str, Any]:
        results = self.predictions(thresholds, calibrators or {})
        return score_predictions(self.gold, [prediction_json(c.id, r) for c, r in zip(self.cases, results)])

    def goal_rows(self) -> tuple[np.ndarray, list[str], list[int]]:
        """Summary features, gold status and case index of every (note, goal) pair."""
        features, statuses, owners = [], [], []
        for i, (case, outputs) in enumerate(zip(self.cases, self.outputs)):
            for view, evidence in outputs.goals:
                features.append(goal_summary(evidence))
                statuses.append((case.labels or {})["goals"][view.goal.goal_id]["status"])
                owners.append(i)
        return np.array(features).reshape(len(features), SUMMARY_SIZE), statuses, owners


    def domain_rows(self) -> tuple[np.ndarray, list[str]]:
        """Summary features of every (note, domain) pair, and whether the domain is labeled."""
        features, present = [], []
        for case, outputs in zip(self.cases, self.outputs):
            labeled = (case.labels or {}).get("domains", {})
            for k, domain in enumerate(DOMAINS):
                features.append(domain_summary(outputs.domains, k))
                present.append("1" if domain in labeled else "0")
        return np.array(features), present


    def flag_rows(self) -> tuple[np.ndarray, list[str]]:
        """Summary features of every (note, flag type) pair, and whether the flag is labeled."""
        features, present = [], []
        for case, outputs in zip(self.cases, self.outputs):
            labeled = {f["type"] for f in (case.labels or {}).get("flags", [])}
            for k, flag_type in enumerate(FLAG_TYPES):
                features.append(flag_summary(outputs.flags, k))
                present.append("1" if flag_type in labeled else "0")
        return np.array(features), present


def _fit_flag_note_head(oof: _OutOfFold) -> LinearHead:
    features, present = oof.flag_rows()
    return fit_head(features, present, classes=("0", "1"), regularization=REGULARIZATION["flag_note"],
                    balanced=False)


def _fit_domain_note_head(oof: _OutOfFold) -> LinearHead:
    features, present = oof.domain_rows()
    return fit_head(features, present, classes=("0", "1"), regularization=REGULARIZATION["domain_note"],
                    balanced=False)


def _fit_status_head(oof: _OutOfFold, fold_of: list[int]) -> tuple[LinearHead, Calibrator]:
    """The status head on out-of-fold goal summaries, and a calibrator from its own
    out-of-fold probabilities (a second round of the same client folds)."""
    features, statuses, owners = oof.goal_rows()
    head, calibrator, _ = _held_out_fit(features, np.array(statuses), owners, fold_of, REGULARIZATION["status"])
    return head, calibrator


def _held_out_fit(features: np.ndarray, labels: np.ndarray, owners: list[int], fold_of: list[int],
                  regularization: float) -> tuple[LinearHead, Calibrator, dict[int, LinearHead]]:
    """A softmax head on every row; its calibrator from each fold's rows (rows belong to case
    `owners[row]`) read by a head fitted without that fold; and those fold heads."""
    confidences, right, fold_heads = [], [], {}
    for fold in sorted(set(fold_of)):
        held = np.array([fold_of[o] == fold for o in owners])
        if held.all() or not held.any():
            continue
        fold_heads[fold] = fit_head(features[~held], labels[~held], regularization=regularization, balanced=False)
        probs = fold_heads[fold].predict_proba(features[held])
        confidences += probs.max(axis=1).tolist()
        right += (np.array(fold_heads[fold].classes)[probs.argmax(axis=1)] == labels[held]).tolist()
    head = fit_head(features, labels, regularization=regularization, balanced=False)
    return head, fit_calibrator(confidences, right), fold_heads


def _tune_thresholds(oof: _OutOfFold) -> Thresholds:
    current = Thresholds()
    current = max([replace(current, relevance=r) for r in (0.3, 0.4, 0.5, 0.6, 0.7)],
                  key=lambda t: _goal_objective(oof.metrics(t)))
    current = max([replace(current, addressed=a) for a in (1.01, 0.95, 0.9, 0.85, 0.8, 0.75)],
                  key=lambda t: _goal_objective(oof.metrics(t)))
    current = max([replace(current, domain=d) for d in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7)],
                  key=lambda t: oof.metrics(t)["domain_f1"])
    return _tune_flag_thresholds(oof, current)


def _tune_flag_thresholds(oof: _OutOfFold, current: Thresholds, passes: int = 2) -> Thresholds:
    """Per-type thresholds by coordinate ascent on the pooled objective: recall of at
    least 0.95 over all flags first, then recall weighted twice over precision (a missed
    flag costs a supervisor more than a false alarm), so a type whose scores are hard to
    separate can give up one flag while the others carry recall."""
    def pooled(t: Thresholds) -> float:
        m = oof.metrics(t)
        return (m["flag_recall"] >= 0.95) * 10 + 2 * m["flag_recall"] + m["flag_precision"]

    for _ in range(passes):
        for flag_type in FLAG_TYPES:
            grid = [replace(current, flag={**current.flag, flag_type: v})
                    for v in (0.03, 0.05, 0.08, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6)]
            current = max(grid, key=pooled)
    return current


def _goal_objective(metrics: dict[str, Any]) -> float:
    return metrics["goal_status_macro_f1"] + metrics["citation_f1"]


def _calibrate(oof: _OutOfFold, thresholds: Thresholds) -> dict[str, Any]:
    raw: dict[str, list[float]] = {"domain": [], "flag": []}
    right: dict[str, list[bool]] = {"domain": [], "flag": []}
    for case, result in zip(oof.cases, oof.predictions(thresholds, {})):
        labels = case.labels or {}
        gold_domains = labels.get("domains", {})
        for domain in result.domains:
            raw["domain"].append(domain.confidence)
            right["domain"].append(domain.domain in gold_domains
                                   and abs(gold_domains[domain.domain]["level"] - domain.level) <= 1)
        gold_flags = {f["type"] for f in labels.get("flags", [])}
        for flag in result.flags:
            raw["flag"].append(flag.confidence)
            right["flag"].append(flag.type in gold_flags)
    return {name: fit_calibrator(raw[name], right[name]) for name in raw}


def _fingerprint(cases: list[LabeledCase]) -> str:
    digest = hashlib.sha256()
    for case in cases:
        digest.update(case.id.encode())
        digest.update(case.note.text.encode("utf-8", "replace"))
    return digest.hexdigest()[:16]


def train_model(pipeline, cases: list[LabeledCase], gold: list[dict[str, Any]], version: str,
                folds: int = 5, sources: dict[str, str] | None = None,
                tune: tuple[list[LabeledCase], list[dict[str, Any]]] | None = None,
                fold_readers: Sequence[Any] | None = None) -> TrainingReport:
    """Fit the heads on `cases`. Thresholds and calibrators come from out-of-fold outputs
    (folds by writer, or by client when no note names its writer), so they are tuned on notes
    the heads did not see. With a goal reader, the head that combines it with the status head
    is fitted on `tune` (a split neither learned from) or, given `fold_readers` (reader k
    fine-tuned without the writers of fold k of `folds_of_writers(writers, len(fold_readers))`),
    on out-of-fold readings of `cases` themselves."""
    notes = pipeline.analyse_many([c.note.text for c in cases])
    per_case = [_case_rows(pipeline, c, n) for c, n in zip(cases, notes)]
    fold_of = writer_folds(cases, folds)
    reader_fold_of = folds_of_writers([c.writer or "" for c in cases], len(fold_readers)) if fold_readers else None
    outputs: list[Any] = [None] * len(cases)
    for fold in range(folds):
        heads = _fit_heads(_merge([r for r, f in zip(per_case, fold_of) if f != fold]))
        fold_model = TrainedModel(**heads, status=None, domain_note=None, flag_note=None, thresholds=Thresholds(),
                                  calibrators={}, metadata={})
        for i in (i for i, f in enumerate(fold_of) if f == fold):
            reader = fold_readers[reader_fold_of[i]] if reader_fold_of else None
            outputs[i] = pipeline.head_outputs(notes[i], cases[i].plan, fold_model, goal_reader=reader)
    oof = _OutOfFold(pipeline, cases, gold, notes, outputs)
    status_head, goal_calibrator = _fit_status_head(oof, fold_of)
    oof.note_heads = NoteHeads(status=status_head, domain_note=_fit_domain_note_head(oof),
                               flag_note=_fit_flag_note_head(oof))
    thresholds = _tune_thresholds(oof)
    calibrators = {**_calibrate(oof, thresholds), "goal": goal_calibrator}
    rows = _merge(per_case)
    metadata = {
        "version": version, "trained": date.today().isoformat(), "encoder": pipeline.encoder.name,
        "rubric": f"{pipeline.rubric.name}@{pipeline.rubric.version}+{pipeline.rubric.content_hash[:12]}",
        "cases": len(cases), "fingerprint": _fingerprint(cases), "folds": folds,
        "regularization": REGULARIZATION, "sources": sources or {}, "features": feature_signature(),
    }
    model = TrainedModel(**_fit_heads(rows), status=status_head, domain_note=oof.note_heads.domain_note,
                         flag_note=oof.note_heads.flag_note,
                         thresholds=thresholds,
                         calibrators=calibrators, metadata=metadata)
    examples = {"relevance_pairs": len(rows["rel_y"]), "direction_segments": len(rows["dir_y"]),
                "level_segments": len(rows["lvl_y"]), "segments": int(sum(len(x) for x in rows["seg_x"]))}
    predictions = [prediction_json(c.id, r) for c, r in zip(cases, oof.predictions(thresholds, calibrators))]
    cross_validated = score_predictions(gold, predictions)
    if pipeline.goal_reader is not None and fold_readers:
        model, tuned = _fit_combiner(pipeline, model, cases, gold, notes, outputs, fold_of)
        model = replace(model, metadata={**model.metadata, "reader_folds": len(fold_readers)})
        cross_validated = {**cross_validated, **{f"oof_{k}": v for k, v in tuned.items()}}
    elif pipeline.goal_reader is not None and tune:
        model, tuned = fit_reader_status(pipeline, model, *tune, folds=folds)
        cross_validated = {**cross_validated, **{f"tune_{k}": v for k, v in tuned.items()}}
    return TrainingReport(model=model, cross_validated=cross_validated, examples=examples,
                          out_of_fold=predictions)


def fit_reader_status(pipeline, model: TrainedModel, cases: list[LabeledCase], gold: list[dict[str, Any]],
                      folds: int = 5) -> tuple[TrainedModel, dict[str, Any]]:
    """Fit the head that combines the status head with the goal reader, on `cases`: a split
    neither the heads nor the reader learned from, so it weighs each as it does on new notes.
    Its calibrator, and the figures returned (the heads alone beside the combination), come
    from folds by writer within `cases`."""
    notes = pipeline.analyse_many([c.note.text for c in cases])
    outputs = [pipeline.head_outputs(n, c.plan, model) for c, n in zip(cases, notes)]
    return _fit_combiner(pipeline, model, cases, gold, notes, outputs, writer_folds(cases, folds))


def _fit_combiner(pipeline, model: TrainedModel, cases: list[LabeledCase], gold: list[dict[str, Any]],
                  notes: list[AnalysedNote], outputs: list[Any],
                  fold_of: list[int]) -> tuple[TrainedModel, dict[str, Any]]:
    """The combining head on head outputs that carry the reader's readings, its calibrator and
    figures from `fold_of`'s folds."""
    features, statuses, owners = _reader_rows(model, cases, outputs)
    head, calibrator, fold_heads = _held_out_fit(features, statuses, owners, fold_of, REGULARIZATION["reader_status"])
    combined = replace(model, reader_status=head, calibrators={**model.calibrators, "goal": calibrator},
                       metadata={**model.metadata, "goal_reader": pipeline.goal_reader.version,
                                 "reader_status_cases": len(cases)})

    def figures(models: list[TrainedModel]) -> dict[str, Any]:
        results = [pipeline.decide(c.note, n, o, NoteHeads.of(m), m.thresholds, m.calibrators)
                   for c, n, o, m in zip(cases, notes, outputs, models)]
        return score_predictions(gold, [prediction_json(c.id, r) for c, r in zip(cases, results)])

    heads_alone = figures([model] * len(cases))
    with_reader = figures([replace(model, reader_status=fold_heads[f]) if f in fold_heads else combined
                           for f in fold_of])
    keys = ("goal_status_macro_f1", "citation_f1")
    return combined, {**{f"heads_{k}": heads_alone[k] for k in keys}, **{f"reader_{k}": with_reader[k] for k in keys}}


def _reader_rows(model: TrainedModel, cases: list[LabeledCase], outputs: list[Any]):
    """Per (note, goal): the combining head's features, the gold status, and the case index."""
    rows, statuses, owners = [], [], []
    for i, (case, out) in enumerate(zip(cases, outputs)):
        for view, evidence in out.goals:
            status_probs = heads_status_probabilities(evidence, model.status, model.thresholds)
            rows.append(combined_features(status_probs, evidence.reader, evidence.reader_gated, evidence.ongoing))
            statuses.append((case.labels or {})["goals"][view.goal.goal_id]["status"])
            owners.append(i)
    return np.array(rows), np.array(statuses), owners
