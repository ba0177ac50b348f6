"""The eval harness on each encoder backend: how far the ONNX embeddings, and every shared metric, drift from torch.

The trained heads in casenotes/resources/models/ were fitted on torch embeddings; this measures what changes when
the same heads read ONNX (fp32, int8, int8-mixed) embeddings of the test split instead:

- embedding agreement with torch on every test segment (cosine: mean, 1st percentile, min) and
  how often a segment's best-matching plan goal changes;
- every shared metric of `casenotes eval` (the pipeline and the two baselines), side by side,
  with the difference from torch, and how many goal statuses, domain levels and flags differ;
- the rule of issue 5: the fastest backend (1-thread sentences/s from the encoder-bench section
  of RESULTS-encoder.md) whose goal-status macro-F1 stays within 0.01 of torch is the default.

    python eval/bench/onnx_eval.py [--gold eval/data/test.jsonl] [--cache-dir DIR] [--no-write]

Writes the eval-set section of eval/bench/RESULTS-encoder.md and prints it.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

from encoder_bench import RESULTS, machine, write_section  # noqa: E402

BACKENDS = ("torch", "onnx-fp32", "onnx-int8", "onnx-int8-mixed")
SECTION = "onnx-eval"
TOLERANCE = 0.01
SCALARS = [
    ("goal_status_macro_f1", "goal-status macro-F1"), ("goal_status_accuracy", "goal-status accuracy"),
    ("citation_f1", "citation F1"), ("citation_precision", "citation precision"),
    ("citation_recall", "citation recall"), ("domain_f1", "domain F1"),
    ("domain_level_within1", "level within-one"), ("domain_level_mae", "level MAE"),
    ("flag_f1", "flag F1"), ("flag_recall", "flag recall"), ("flag_precision", "flag precision"),
]


def all_metrics(metrics: dict) -> list[tuple[str, float | None]]:
    """Every scalar shared metric, then per-status F1 and per-flag-type recall and precision."""
    rows = [(label, metrics[key]) for key, label in SCALARS]
    rows += [(f"F1 {status}", row["f1"]) for status, row in metrics["per_status"].items()]
    rows += [(f"flag recall {t}", v) for t, v in metrics["flag_recall_by_type"].items()]
    rows += [(f"flag precision {t}", v) for t, v in metrics["flag_precision_by_type"].items()]
    return rows


def segment_agreement(pipeline, cases, encoders: dict) -> dict[str, dict[str, float]]:
    """Cosine with torch on every test segment, and how often a segment's nearest plan goal changes."""
    from casenotes.pipeline import _embedding_input

    notes = [[_embedding_input(s.text) for s in pipeline.segmenter.segment(c.note.text)] for c in cases]
    goals = [[_embedding_input(g.text) for g in c.plan.goals] for c in cases]
    flat = [s for n in notes for s in n]
    goal_texts = sorted({g for gs in goals for g in gs})
    index = {g: i for i, g in enumerate(goal_texts)}
    vectors = {name: (enc.inner.encode(flat), enc.inner.encode(goal_texts)) for name, enc in encoders.items()}
    ref_segments, ref_goals = vectors["torch"]
    out = {}
    for name, (segs, gvecs) in vectors.items():
        cosine = (segs * ref_segments).sum(axis=1)
        changed = counted = offset = 0
        for note, plan in zip(notes, goals):
            k, rows = len(note), [index[g] for g in plan]
            if k and len(rows) > 1:
                mine = (segs[offset:offset + k] @ gvecs[rows].T).argmax(axis=1)
                theirs = (ref_segments[offset:offset + k] @ ref_goals[rows].T).argmax(axis=1)
                changed += int((mine != theirs).sum())
                counted += k
            offset += k
        out[name] = {"segments": len(flat), "mean": float(cosine.mean()), "p1": float(np.percentile(cosine, 1)),
                     "min": float(cosine.min()), "top_goal_changed": changed / max(1, counted),
                     "top_goal_segments": counted}
    return out


def batch_invariance(pipeline, cases, encoders: dict, batch: int = 32) -> dict[str, dict[str, float]]:
    """Cosine between each test segment encoded alone and in length-sorted batches of `batch`, per ONNX backend."""
    from casenotes.embed.onnx_backend import OnnxEncoder
    from casenotes.pipeline import _embedding_input

    texts = [_embedding_input(s.text) for c in cases for s in pipeline.segmenter.segment(c.note.text)]
    out = {}
    for name, encoder in encoders.items():
        inner = encoder.inner
        if not isinstance(inner, OnnxEncoder):
            continue
        batched = OnnxEncoder(inner.precision, cache_dir=inner.model_file.parent.parent, batch_size=batch)
        cosine = (batched.encode(texts) * OnnxEncoder(inner.precision, cache_dir=inner.model_file.parent.parent,
                                                      batch_size=1).encode(texts)).sum(axis=1)
        out[name] = {"default_batch": inner.batch_size, "mean": float(cosine.mean()), "min": float(cosine.min())}
    return out


def prediction_changes(reference: list[dict], other: list[dict]) -> dict[str, tuple[int, int]]:
    """How many goal statuses, domain levels (or presence) and flags differ from torch's predictions."""
    goals = domains = flags = goal_n = domain_n = flag_n = 0
    for a, b in zip(reference, other):
        for goal_id, goal in a["goals"].items():
            goal_n += 1
            goals += goal["status"] != b["goals"].get(goal_id, {}).get("status")
        for domain in set(a.get("domains", {})) | set(b.get("domains", {})):
            domain_n += 1
            domains += a.get("domains", {}).get(domain, {}).get("level") != b.get("domains", {}).get(domain, {}).get("level")
        fa = {f["type"] if isinstance(f, dict) else f for f in a.get("flags", [])}
        fb = {f["type"] if isinstance(f, dict) else f for f in b.get("flags", [])}
        flag_n += len(fa | fb)
        flags += len(fa ^ fb)
    return {"goal statuses": (goals, goal_n), "domain levels": (domains, domain_n), "flags": (flags, flag_n)}


def bench_rates(path: Path = RESULTS) -> dict[str, float]:
    """1-thread sentences/s per backend from the encoder-bench section, if it has been run."""
    if not path.exists():
        return {}
    rates = {}
    for backend, rate in re.findall(r"^\| (torch|onnx-[\w-]+) \| 1 \| (\d+) ", path.read_text(encoding="utf-8"), re.M):
        rates[backend] = float(rate)
    return rates


def _cell(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _delta(value: float | None, base: float | None) -> str:
    if value is None or base is None:
        return ""
    diff = value - base
    return " (=)" if abs(diff) < 5e-4 else f" ({diff:+.3f})"


def render(runs: dict, agreement: dict, changes: dict, invariance: dict, gold_path: str, info: dict) -> str:
    names = list(runs)
    torch_metrics = runs["torch"].metrics
    lines = [
        f"<!-- {SECTION}:start -->",
        f"## The eval set on each backend ({gold_path})",
        "",
        f"{info['date']} · {info['cpu']} · {info['versions']}",
        "",
        f"Model {runs['torch'].model_version.split('/')[0]} (heads fitted on torch embeddings), rubric "
        f"{runs['torch'].rubric}; {torch_metrics['casenotes']['cases']} notes.",
        "",
        "### Embedding agreement with torch",
        "",
        f"Every segment of the split ({agreement['torch']['segments']}), as the pipeline embeds it. "
        f"'Top goal changed': segments whose most similar goal of their note's plan differs from torch's "
        f"(over the {agreement['torch']['top_goal_segments']} segments of notes whose plan has two or more goals).",
        "",
        "| backend | cosine mean | cosine 1st pct | cosine min | top goal changed |",
        "|---|---|---|---|---|",
    ]
    for name in names:
        a = agreement[name]
        lines.append(f"| {name} | {a['mean']:.5f} | {a['p1']:.5f} | {a['min']:.5f} | {a['top_goal_changed'] * 100:.1f}% |")
    if invariance:
        lines += ["", "Does a segment's vector depend on what it is batched with? Cosine between each test segment "
                  "encoded alone and in length-sorted batches of 32 (dynamic int8 scales each activation tensor "
                  "as a whole, so batch-mates move it; the int8 backends therefore run one sentence at a time):", "",
                  "| backend | default batch | alone vs batch-32: mean | min |", "|---|---|---|---|"]
        for name, row in invariance.items():
            lines.append(f"| {name} | {row['default_batch']} | {row['mean']:.5f} | {row['min']:.5f} |")
    lines += ["", "### Shared metrics (casenotes pipeline), difference from torch in brackets", "",
              "| metric | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    base_rows = dict(all_metrics(torch_metrics["casenotes"]))
    per_backend = {n: dict(all_metrics(runs[n].metrics["casenotes"])) for n in names}
    for label in base_rows:
        cells = []
        for n in names:
            value = per_backend[n].get(label)
            cells.append(_cell(value) + ("" if n == "torch" else _delta(value, base_rows[label])))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    p50 = {n: float(np.percentile(runs[n].latency_ms, 50)) for n in names}
    p95 = {n: float(np.percentile(runs[n].latency_ms, 95)) for n in names}
    lines.append("| ms/note p50 / p95 (whole pipeline) | " + " | ".join(f"{p50[n]:.1f} / {p95[n]:.1f}" for n in names) + " |")
    lines += ["", "Predictions that differ from torch's (same notes, same heads):", "",
              "| backend | " + " | ".join(changes[names[1]]) + " |", "|---|" + "---|" * len(changes[names[1]])]
    for n in names[1:]:
        lines.append(f"| {n} | " + " | ".join(f"{d} of {t}" for d, t in changes[n].values()) + " |")
    baselines = [s for s in torch_metrics if s != "casenotes"]
    if baselines:
        lines += ["", "Baselines (they embed with the same backend): goal-status macro-F1", "",
                  "| baseline | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for b in baselines:
            base = torch_metrics[b]["goal_status_macro_f1"]
            lines.append(f"| {b} | " + " | ".join(
                _cell(runs[n].metrics[b]["goal_status_macro_f1"]) + ("" if n == "torch" else _delta(runs[n].metrics[b]["goal_status_macro_f1"], base))
                for n in names) + " |")
    lines += ["", "### The default backend", ""]
    rates = bench_rates()
    base_f1 = torch_metrics["casenotes"]["goal_status_macro_f1"]
    eligible = [n for n in names if abs(runs[n].metrics["casenotes"]["goal_status_macro_f1"] - base_f1) <= TOLERANCE]
    if rates and all(n in rates for n in names):
        choice = max(eligible, key=lambda n: rates[n])
        lines.append(f"Rule: the fastest backend whose goal-status macro-F1 is within {TOLERANCE} of torch's "
                     f"({base_f1:.3f}). Within the tolerance: {', '.join(eligible)}. 1-thread sentences/s from the table above: "
                     + ", ".join(f"{n} {rates[n]:.0f}" for n in names) + f". **Default: {choice}.**")
    else:
        lines.append(f"Within {TOLERANCE} of torch's goal-status macro-F1 ({base_f1:.3f}): {', '.join(eligible)}. "
                     "Run eval/bench/encoder_bench.py for the rates that pick the fastest.")
    lines += ["", "Run: `python eval/bench/onnx_eval.py`.", f"<!-- {SECTION}:end -->"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gold", default=str(REPO / "eval" / "data" / "test.jsonl"))
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)

    from casenotes.embed.encoder import make_encoder
    from casenotes.pipeline import Pipeline
    from casenotes.training.harness import read_gold, run_eval

    gold, cases = read_gold(args.gold)
    names = [b for b in args.backends.split(",") if b]
    if names[0] != "torch":
        names.insert(0, "torch")
    encoders = {name: make_encoder(name, cache_dir=args.cache_dir) for name in names}
    reference = Pipeline.load(encoder=encoders["torch"])
    runs = {}
    for name in names:
        pipeline = reference if name == "torch" else Pipeline(
            encoder=encoders[name], rubric=reference.rubric, model=reference.model, segmenter=reference.segmenter,
            context=reference.context, max_note_chars=reference.max_note_chars)
        runs[name] = run_eval(pipeline, gold, cases)
        m = runs[name].metrics["casenotes"]
        print(f"{name}: goal-status macro-F1 {m['goal_status_macro_f1']:.3f}", file=sys.stderr, flush=True)
    agreement = segment_agreement(reference, cases, encoders)
    invariance = batch_invariance(reference, cases, encoders)
    changes = {n: prediction_changes(runs["torch"].predictions["casenotes"], runs[n].predictions["casenotes"])
               for n in names[1:]}
    try:
        gold_label = str(Path(args.gold).resolve().relative_to(REPO))
    except ValueError:
        gold_label = args.gold
    text = render(runs, agreement, changes, invariance, gold_label, machine())
    print(text)
    if not args.no_write:
        write_section(text, SECTION)


if __name__ == "__main__":
    main()
