"""The goal reader beside the current pipeline, in one run: goal-status quality per writer and ms/note.

    python -m casenotes.training.goal_reader_eval --dev eval/data/by-writer/dev.jsonl \
        --test eval/data/by-writer/test.jsonl --reader context=/tmp/gr/context --out /tmp/gr/compare

Each note is scored once by the pipeline (analysis + trained heads: the `casenotes` system)
and then, for each reader variant, the reader reads the same analysis; a variant's ms/note is
the pipeline's time plus the reader's. Decision thresholds are tuned on dev alone and then
applied unchanged to test. Domains and flags are the pipeline's in every system.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import pickle
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from casenotes.reading.goals import ReaderThresholds, decide_goal, gated_segments
from casenotes.schema import STATUSES
from casenotes.shared_format import prediction_json
from casenotes.text.cues import concerns_family, is_ongoing_goal
from casenotes.training.harness import read_gold
from casenotes.training.metrics import score_predictions

__all__ = ["NoteReading", "collect", "decide_all", "tune_thresholds"]


@dataclass
class NoteReading:
    case_id: str
    writer: str
    segments: list
    goal_ids: list[str]
    gated: list[np.ndarray]
    ongoing: list[bool]
    probs: list[np.ndarray]  # per goal (n, 5)
    nearest: list[np.ndarray]  # per goal, segment indices by embedding cosine to the goal, nearest first

    def top_k(self, k: int | None) -> NoteReading:
        """The reading a bi-encoder prefilter of k segments per goal gives: the rest are not read
        (probability 1 of irrelevant). A pair's probabilities do not depend on its batch-mates."""
        if k is None:
            return self
        probs = []
        for p, order in zip(self.probs, self.nearest):
            masked = np.tile(np.eye(p.shape[1])[0], (len(p), 1))
            keep = order[:k]
            masked[keep] = p[keep]
            probs.append(masked)
        return NoteReading(self.case_id, self.writer, self.segments, self.goal_ids, self.gated, self.ongoing,
                           probs, self.nearest)


def prefilter(analysis, views, k: int | None) -> list[list[int]] | None:
    """Per goal, the k segments nearest it by the pipeline's own embeddings (None: all segments)."""
    if k is None:
        return None
    return [sorted(int(i) for i in _nearest(analysis, view)[:k]) for view in views]


def _nearest(analysis, view) -> np.ndarray:
    cos = analysis.vectors @ view.vector if len(analysis.segments) else np.zeros(0)
    return np.argsort(-cos, kind="stable")


def collect(pipeline, path: str, readers: dict[str, Any]):
    """The pipeline's predictions and time per note, and each reader's probabilities on every segment."""
    gold, cases = read_gold(path)
    base_preds, base_ms = [], []
    readings: dict[str, list[NoteReading]] = {name: [] for name in readers}
    for raw, case in zip(gold, cases):
        started = time.perf_counter()
        analysis = pipeline.analyse_many([case.note.text])[0]
        result = pipeline._result(case.note, case.plan, analysis)
        base_ms.append((time.perf_counter() - started) * 1000)
        base_preds.append(prediction_json(case.id, result))
        views = pipeline.goal_views(case.plan)  # cached: the pipeline just encoded these goals
        gated = [gated_segments(analysis.contexts, concerns_family(g.text)) for g in case.plan.goals]
        ongoing = [is_ongoing_goal(g.text) for g in case.plan.goals]
        nearest = [_nearest(analysis, view) for view in views]
        for name, reader in readers.items():
            probs = reader.read_note(analysis.segments, [g.text for g in case.plan.goals])
            readings[name].append(NoteReading(case.id, raw.get("writer") or "(no writer)", list(analysis.segments),
                                              [g.goal_id for g in case.plan.goals], gated, ongoing, probs, nearest))
    return gold, base_preds, base_ms, readings


def time_variants(pipeline, path: str, variants: dict[str, tuple[Any, int | None]], every: int = 4,
                  repeats: int = 1) -> dict[str, list[float]]:
    """ms/note of the pipeline alone and of the pipeline plus each variant's full goal reading
    (prefilter, reader, decisions), note by note as on arrival, in one run."""
    _, cases = read_gold(path)
    cases = cases[::every]
    ms: dict[str, list[float]] = {"casenotes (current)": [], **{name: [] for name in variants}}
    for case in cases:
        for _ in range(repeats):
            started = time.perf_counter()
            analysis = pipeline.analyse_many([case.note.text])[0]
            result = pipeline._result(case.note, case.plan, analysis)
            base = (time.perf_counter() - started) * 1000
            ms["casenotes (current)"].append(base)
            views = pipeline.goal_views(case.plan)
            for name, (reader, k) in variants.items():
                t0 = time.perf_counter()
                candidates = prefilter(analysis, views, k)
                probs = reader.read_note(analysis.segments, [g.text for g in case.plan.goals], candidates)
                for g, p in zip(case.plan.goals, probs):
                    decide_goal(g.goal_id, p, analysis.segments,
                                gated_segments(analysis.contexts, concerns_family(g.text)),
                                is_ongoing_goal(g.text), ReaderThresholds())
                ms[name].append(base + (time.perf_counter() - t0) * 1000)
            del result
    return ms


def decide_all(readings: list[NoteReading], base_preds: list[dict], thresholds: ReaderThresholds) -> list[dict]:
    out = []
    for reading, base in zip(readings, base_preds):
        pred = copy.deepcopy(base)
        for goal_id, p, q, o in zip(reading.goal_ids, reading.probs, reading.gated, reading.ongoing):
            r = decide_goal(goal_id, p, reading.segments, q, o, thresholds)
            pred["goals"][goal_id] = {"status": r.status, "score": r.score, "confidence": round(r.confidence, 4),
                                      "citations": [[c.start, c.end] for c in r.citations]}
        out.append(pred)
    return out


def _macro_f1(pairs: list[tuple[str, str]]) -> float:
    f1s = []
    for s in STATUSES:
        tp = sum(g == s and p == s for g, p in pairs)
        fp = sum(g != s and p == s for g, p in pairs)
        fn = sum(g == s and p != s for g, p in pairs)
        if tp + fn == 0:
            continue
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(f1s) / len(f1s) if f1s else 0.0


def tune_thresholds(readings: list[NoteReading], gold: list[dict]) -> tuple[ReaderThresholds, float]:
    """The grid point with the best goal-status macro-F1 on these (dev) notes."""
    items = [(gold_case["labels"]["goals"][g]["status"], g, p, q, o, r.segments)
             for r, gold_case in zip(readings, gold)
             for g, p, q, o in zip(r.goal_ids, r.probs, r.gated, r.ongoing) if g in gold_case["labels"]["goals"]]
    best = (ReaderThresholds(), -1.0)
    grid = [0.6, 0.8, 1.0, 1.25, 1.5, 2.0]
    for addressed in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        for w, n, a in itertools.product(grid, grid, grid):
            t = ReaderThresholds(addressed=addressed,
                                 weights={"improving": 1.0, "worsening": w, "no-change": n, "achieved": a})
            pairs = [(status, decide_goal(g, p, segs, q, o, t).status) for status, g, p, q, o, segs in items]
            f1 = _macro_f1(pairs)
            if f1 > best[1]:
                best = (t, f1)
    return best


def _goals_only(rows: list[dict]) -> list[dict]:
    out = []
    for row in rows:
        row = copy.deepcopy(row)
        if "labels" in row:
            row["labels"]["domains"], row["labels"]["flags"] = {}, []
        else:
            row["domains"], row["flags"] = {}, []
        out.append(row)
    return out


def figures(gold: list[dict], preds: list[dict]) -> dict[str, float]:
    m = score_predictions(gold, preds)
    g = score_predictions(_goals_only(gold), _goals_only(preds))
    return {"goal_f1": m["goal_status_macro_f1"], "accuracy": m["goal_status_accuracy"],
            "worsening_f1": m["per_status"]["worsening"]["f1"], "goal_citation_f1": g["citation_f1"],
            "citation_f1": m["citation_f1"], "notes": m["cases"]}


def report(split: str, gold, systems: dict[str, list[dict]], ms: dict[str, list[float]]) -> str:
    lines = [f"### {split}", "", "| system | notes | goal-status macro-F1 | accuracy | worsening F1 | "
             "goal citation F1 | citation F1 (pooled) | ms/note p50 / p95 |", "|---|---|---|---|---|---|---|---|"]
    for name, preds in systems.items():
        f = figures(gold, preds)
        p50, p95 = np.percentile(ms[name], [50, 95]) if ms.get(name) else (float("nan"),) * 2
        lines.append(f"| {name} | {f['notes']} | {f['goal_f1']:.3f} | {f['accuracy']:.3f} | {f['worsening_f1']:.3f} | "
                     f"{f['goal_citation_f1']:.3f} | {f['citation_f1']:.3f} | {p50:.0f} / {p95:.0f} |")
    lines += ["", "| writer | notes | system | goal F1 | worsening F1 | goal citation F1 |", "|---|---|---|---|---|---|"]
    writers = sorted({c.get("writer") or "(no writer)" for c in gold})
    for writer in writers:
        ids = {c["id"] for c in gold if (c.get("writer") or "(no writer)") == writer}
        sub = [c for c in gold if c["id"] in ids]
        for name, preds in systems.items():
            f = figures(sub, [p for p in preds if p["id"] in ids])
            lines.append(f"| {writer} | {len(sub)} | {name} | {f['goal_f1']:.3f} | {f['worsening_f1']:.3f} | "
                         f"{f['goal_citation_f1']:.3f} |")
    return "\n".join(lines)


def main() -> None:  # pragma: no cover - a measurement script
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = argparse.ArgumentParser()
    parser.add_argument("--dev", required=True)
    parser.add_argument("--test", required=True)
    parser.add_argument("--model", action="append", required=True, help="name=folder[@onnxfile]")
    parser.add_argument("--variant", action="append", required=True, help="name=model[:k]")
    parser.add_argument("--out", required=True)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--time-every", type=int, default=0, help="time every n-th test note (0: no timing pass)")
    parser.add_argument("--load", default=None, help="reuse readings.pkl from this folder")
    args = parser.parse_args()
    from casenotes.pipeline import Pipeline
    from casenotes.reading.goal_reader import GoalReader

    pipeline = Pipeline.load()
    readers = {}
    for spec in args.model:
        name, rest = spec.split("=", 1)
        folder, _, onnx_file = rest.partition("@")
        readers[name] = GoalReader(folder, threads=args.threads, onnx_file=onnx_file or None)
    variants = {}
    for spec in args.variant:
        name, rest = spec.split("=", 1)
        model, _, k = rest.partition(":")
        variants[name] = (model, int(k) if k else None)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.load:
        with (Path(args.load) / "readings.pkl").open("rb") as handle:
            data = pickle.load(handle)
    else:
        data = {}
        for split, path in (("dev", args.dev), ("test", args.test)):
            started = time.perf_counter()
            data[split] = collect(pipeline, path, readers)
            print(f"{split}: {time.perf_counter() - started:.0f}s", flush=True)
        with (out / "readings.pkl").open("wb") as handle:
            pickle.dump(data, handle)
    texts = [f"load average after reading: {os.getloadavg()}"]
    tuned = {}
    for name, (model, k) in variants.items():
        gold, _, _, readings = data["dev"]
        tuned[name], f1 = tune_thresholds([r.top_k(k) for r in readings[model]], gold)
        texts.append(f"{name}: dev-tuned {tuned[name].to_json()} (dev macro-F1 {f1:.3f})")
    (out / "thresholds.json").write_text(json.dumps({k: v.to_json() for k, v in tuned.items()}, indent=1))
    timing = {}
    if args.time_every:
        timing = time_variants(pipeline, args.test, {n: (readers[m], k) for n, (m, k) in variants.items()},
                               every=args.time_every)
        texts.append(f"timing pass: every {args.time_every}th test note ({len(timing['casenotes (current)'])} notes), "
                     f"load average after: {os.getloadavg()}")
        texts.append(_timing_table(timing))
    for split in ("dev", "test"):
        gold, base_preds, _, readings = data[split]
        systems = {"casenotes (current)": base_preds}
        for name, (model, k) in variants.items():
            systems[name] = decide_all([r.top_k(k) for r in readings[model]], base_preds, tuned[name])
        texts.append(report(split, gold, systems, timing))
    text = "\n\n".join(texts)
    (out / "REPORT.md").write_text(text + "\n")
    print(text)


def _timing_table(timing: dict[str, list[float]]) -> str:
    lines = ["| system | ms/note p50 | p95 | mean |", "|---|---|---|---|"]
    for name, values in timing.items():
        p50, p95 = np.percentile(values, [50, 95])
        lines.append(f"| {name} | {p50:.0f} | {p95:.0f} | {np.mean(values):.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    main()
