"""Flag reader variants against the current pipeline's flags, in the same run, on labeled files.

    python -m casenotes.training.flag_reader_eval --dev eval/data/by-writer/dev.jsonl \
        --test eval/data/by-writer/test.jsonl --reader context=/tmp/fr/context --reader bare=/tmp/fr/bare \
        --out /tmp/fr/report.md

For each reader and each gating choice (none / the rule gating of casenotes.reading.score), thresholds
per type and the calibrator are fitted on dev (recall first), then dev and test are scored with
the shared metrics (flags only), pooled, per type and per writer, beside the current pipeline.
ms/note: the pipeline's whole `score` per note (goals, domains and flags); the reader's
segmentation + context + ONNX forward + decisions per note, one note at a time.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from casenotes.reading.flag_reader import (
    FlagReader,
    decide_flags,
    flag_scores,
    gating_matrix,
)
from casenotes.reading.heads import Calibrator
from casenotes.schema import FLAG_TYPES
from casenotes.training.flag_reader import fit_decisions
from casenotes.training.metrics import evidence_span, score_predictions, spans_hit

__all__ = ["analyse_split", "run"]


@dataclass
class Analysed:
    gold: list[dict]
    segments: list[list]
    contexts: list[list]
    cue_hits: list[np.ndarray]
    baseline: list[dict]  # the pipeline's predictions (shared format)
    baseline_ms: list[float]
    analysis_ms: list[float]  # segmentation + context alone


def analyse_split(pipeline, path: str) -> Analysed:
    from casenotes.pipeline import _with_plan_as_hypothetical
    from casenotes.shared_format import prediction_json
    from casenotes.training.harness import read_gold

    gold, cases = read_gold(path)
    out = Analysed(gold, [], [], [], [], [], [])
    for case in cases:
        started = time.perf_counter()
        scored = pipeline.read_many([(case.note, case.plan)])[0]
        out.baseline_ms.append((time.perf_counter() - started) * 1000)
        out.baseline.append(prediction_json(case.id, scored.result))
        started = time.perf_counter()
        segments = pipeline.segmenter.segment(case.note.text)
        contexts = _with_plan_as_hypothetical(
            segments, pipeline.context.assess_spans(case.note.text, [(s.start, s.end) for s in segments]))
        out.analysis_ms.append((time.perf_counter() - started) * 1000)
        assert [(s.start, s.end) for s in segments] == [(s.start, s.end) for s in scored.result.segments]
        out.segments.append(segments)
        out.contexts.append(list(contexts))
        out.cue_hits.append(np.array([[float(c.search(s.text) is not None) for c in pipeline.lexicon.flag_cues]
                                      for s in segments]).reshape(len(segments), len(FLAG_TYPES)))
    return out


def _reader_probs(reader: FlagReader, data: Analysed) -> tuple[list[np.ndarray], list[float]]:
    probs, ms = [], []
    for segments in data.segments:
        started = time.perf_counter()
        probs.append(reader.probabilities(segments))
        ms.append((time.perf_counter() - started) * 1000)
    return probs, ms


def _note_scores(probs: list[np.ndarray], gated: list[np.ndarray] | None) -> np.ndarray:
    rows = []
    for i, p in enumerate(probs):
        s = flag_scores(p, gated[i] if gated is not None else None)
        rows.append(s.max(axis=0) if len(s) else np.zeros(len(FLAG_TYPES)))
    return np.array(rows)


def _gold_matrix(gold: list[dict]) -> np.ndarray:
    return np.array([[any(f["type"] == t for f in g["labels"].get("flags", [])) for t in FLAG_TYPES]
                     for g in gold], dtype=bool)


def _predictions(data: Analysed, probs, gated, thresholds, calibrator, severity) -> list[dict]:
    preds = []
    for i, base in enumerate(data.baseline):
        flags = decide_flags(probs[i], data.segments[i], thresholds, severity, calibrator,
                             gated[i] if gated is not None else None)
        preds.append({**base, "flags": [{"type": f.type, "confidence": round(f.confidence, 4),
                                         "citations": [[c.start, c.end] for c in f.citations]} for f in flags]})
    return preds


def flag_citation_precision(gold: list[dict], preds: list[dict]) -> float:
    """Of the citations of correctly typed flags, the share hitting that type's gold evidence."""
    hit = total = 0
    for g, p in zip(gold, preds):
        spans = {}
        for f in g["labels"].get("flags", []):
            spans.setdefault(f["type"], []).extend(evidence_span(g["note_text"], q) for q in f["evidence"])
        for f in p["flags"]:
            if f["type"] in spans:
                for c in f["citations"]:
                    total += 1
                    hit += any(spans_hit(tuple(c), e) for e in spans[f["type"]])
    return hit / total if total else 0.0


def _summary(gold: list[dict], preds: list[dict]) -> dict[str, Any]:
    from casenotes.training.harness import metrics_by_writer

    m = score_predictions(gold, preds)
    by_writer = metrics_by_writer(gold, {"x": preds})
    return {"recall": m["flag_recall"], "precision": m["flag_precision"],
            "recall_by_type": m["flag_recall_by_type"], "precision_by_type": m["flag_precision_by_type"],
            "citation_precision": flag_citation_precision(gold, preds),
            "by_writer": {w: (v["x"]["flag_recall"], v["x"]["flag_precision"], v["x"]["cases"])
                          for w, v in by_writer.items()}}


def _brier(calibrator: Calibrator, scores: np.ndarray, gold: np.ndarray) -> float:
    calibrated = np.array([calibrator(float(s)) for s in scores.ravel()])
    return float(np.mean((calibrated - gold.ravel().astype(float)) ** 2))


def analyse_splits(dev_path: str, test_path: str, cache: str | None = None) -> tuple[dict, dict[str, Analysed]]:
    """The pipeline's predictions and each note's segments and context, kept in `cache` (a pickle)
    so more readers can be scored beside the same pipeline run."""
    import pickle

    if cache and Path(cache).is_file():
        return pickle.loads(Path(cache).read_bytes())
    from casenotes.pipeline import Pipeline

    pipeline = Pipeline.load()
    severity = {f.type: f.severity for f in pipeline.rubric.flags}
    splits = {"dev": analyse_split(pipeline, dev_path), "test": analyse_split(pipeline, test_path)}
    if cache:
        Path(cache).write_bytes(pickle.dumps((severity, splits)))
    return severity, splits


def run(dev_path: str, test_path: str, readers: dict[str, str], recall_target: float = 0.92,
        threads: int | None = None, cache: str | None = None, scores_out: str | None = None) -> dict[str, Any]:
    severity, splits = analyse_splits(dev_path, test_path, cache)
    results: dict[str, Any] = {"current pipeline": {
        name: {**_summary(d.gold, d.baseline), "ms_p50": float(np.median(d.baseline_ms))}
        for name, d in splits.items()}}
    for name, folder in readers.items():
        reader = FlagReader(folder, threads=threads)
        probs, ms = {}, {}
        for split, data in splits.items():
            probs[split], ms[split] = _reader_probs(reader, data)
        if scores_out:
            import pickle

            Path(f"{scores_out}.{name}.pkl").write_bytes(pickle.dumps(probs))
        for gating in ("none", "rules"):
            gated = {split: [gating_matrix(s, c, h) for s, c, h in zip(d.segments, d.contexts, d.cue_hits)]
                     for split, d in splits.items()} if gating == "rules" else {s: None for s in splits}
            dev_scores = _note_scores(probs["dev"], gated["dev"])
            dev_gold = _gold_matrix(splits["dev"].gold)
            thresholds, calibrator_json = fit_decisions(dev_scores, dev_gold, recall_target)
            calibrator = Calibrator.from_json(calibrator_json)
            row = {"thresholds": thresholds, "calibrator": calibrator_json}
            for split, data in splits.items():
                preds = _predictions(data, probs[split], gated[split], thresholds, calibrator, severity)
                total_ms = [a + b for a, b in zip(data.analysis_ms, ms[split])]
                row[split] = {**_summary(data.gold, preds), "ms_p50": float(np.median(total_ms)),
                              "reader_ms_p50": float(np.median(ms[split])),
                              "brier": _brier(calibrator, _note_scores(probs[split], gated[split]),
                                              _gold_matrix(data.gold))}
            results[f"{name} / gating {gating}"] = row
    return results


def report(results: dict[str, Any]) -> str:
    lines = []
    for split in ("dev", "test"):
        lines += [f"### {split}", "", "| system | recall | precision | " +
                  " | ".join(f"{t} R/P" for t in FLAG_TYPES) + " | flag cite P | ms/note p50 |",
                  "|---|---|---|" + "---|" * len(FLAG_TYPES) + "---|---|"]
        for system, row in results.items():
            r = row[split]
            cells = " | ".join(f"{r['recall_by_type'].get(t, 0):.2f}/{r['precision_by_type'].get(t, 0):.2f}"
                               for t in FLAG_TYPES)
            lines.append(f"| {system} | {r['recall']:.3f} | {r['precision']:.3f} | {cells} | "
                         f"{r['citation_precision']:.2f} | {r['ms_p50']:.1f} |")
        lines += ["", "| writer | notes | " + " | ".join(results) + " |", "|---|---|" + "---|" * len(results)]
        writers = results["current pipeline"][split]["by_writer"]
        for w in writers:
            cells = " | ".join("{:.2f} / {:.2f}".format(*row[split]["by_writer"][w][:2]) for row in results.values())
            lines.append(f"| {w} | {writers[w][2]} | {cells} |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> None:  # pragma: no cover - a manual entry point
    parser = argparse.ArgumentParser(description="flag reader variants vs the current pipeline")
    parser.add_argument("--dev", required=True)
    parser.add_argument("--test", required=True)
    parser.add_argument("--reader", action="append", default=[], help="name=folder")
    parser.add_argument("--recall-target", type=float, default=0.92)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--cache", default=None, help="a pickle of the pipeline's run, made if missing")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    readers = dict(r.split("=", 1) for r in args.reader)
    results = run(args.dev, args.test, readers, args.recall_target, args.threads, args.cache, args.out)
    Path(args.out).with_suffix(".json").write_text(json.dumps(results, indent=1, default=float))
    Path(args.out).write_text(report(results) + "\n")
    print(report(results))


if __name__ == "__main__":  # pragma: no cover
    main()
