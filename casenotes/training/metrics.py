"""The shared metrics of ../shared/eval-format.md, over gold cases and predictions.

Agrees with `eval_check.py score` figure for figure (a test holds it to that).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from casenotes.schema import FLAG_TYPES, STATUSES

__all__ = ["Metrics", "evidence_span", "score_predictions", "spans_hit"]

Span = tuple[int, int]
Metrics = dict[str, Any]


def evidence_span(text: str, quote: str) -> Span:
    start = text.find(quote)
    return (start, start + len(quote))


def spans_hit(a: Span, b: Span) -> bool:
    """Two spans match when their overlap covers at least half of the shorter one."""
    overlap = min(a[1], b[1]) - max(a[0], b[0])
    shorter = min(a[1] - a[0], b[1] - b[0])
    return shorter > 0 and overlap >= shorter / 2


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


class _CitationTally:
    def __init__(self) -> None:
        self.predicted = self.predicted_hit = self.gold = self.gold_hit = 0

    def add(self, gold: list[Span], predicted: list[Span]) -> None:
        self.predicted += len(predicted)
        self.predicted_hit += sum(any(spans_hit(p, g) for g in gold) for p in predicted)
        self.gold += len(gold)
        self.gold_hit += sum(any(spans_hit(p, g) for p in predicted) for g in gold)

    def prf(self) -> tuple[float, float, float]:
        precision = _ratio(self.predicted_hit, self.predicted)
        recall = _ratio(self.gold_hit, self.gold)
        return precision, recall, _f1(precision, recall)


def score_predictions(gold_cases: Iterable[Mapping[str, Any]], predictions: Iterable[Mapping[str, Any]]) -> Metrics:
    """Gold cases are shared-format dicts with `labels`; predictions are shared-format dicts."""
    gold_cases = list(gold_cases)
    by_id = {p["id"]: p for p in predictions}
    confusion: Counter[tuple[str, str]] = Counter()
    citations = _CitationTally()
    domain_counts = Counter()
    level_errors: list[int] = []
    flag_counts: dict[str, Counter[str]] = defaultdict(Counter)
    for case in gold_cases:
        prediction = by_id.get(case["id"], {})
        _score_goals(case, prediction, confusion, citations)
        _score_domains(case, prediction, domain_counts, level_errors, citations)
        _score_flags(case, prediction, flag_counts, citations)
    return _summary(gold_cases, by_id, confusion, citations, domain_counts, level_errors, flag_counts)


def _score_goals(case, prediction, confusion, citations) -> None:
    text = case["note_text"]
    for goal_id, label in case["labels"]["goals"].items():
        predicted = prediction.get("goals", {}).get(goal_id, {})
        confusion[(label["status"], predicted.get("status", "not-addressed"))] += 1
        if label["status"] != "not-addressed":
            citations.add([evidence_span(text, q) for q in label["evidence"]],
                          [tuple(s) for s in predicted.get("citations", [])])


def _score_domains(case, prediction, counts, level_errors, citations) -> None:
    text = case["note_text"]
    gold, predicted = case["labels"].get("domains", {}), prediction.get("domains", {})
    for domain in set(gold) | set(predicted):
        if domain in gold and domain in predicted:
            counts["tp"] += 1
            level_errors.append(abs(gold[domain]["level"] - predicted[domain]["level"]))
        elif domain in gold:
            counts["fn"] += 1
        else:
            counts["fp"] += 1
        if domain in gold:
            citations.add([evidence_span(text, q) for q in gold[domain]["evidence"]],
                          [tuple(s) for s in predicted.get(domain, {}).get("citations", [])])


def _score_flags(case, prediction, counts, citations) -> None:
    text = case["note_text"]
    gold: dict[str, list[Span]] = defaultdict(list)
    for flag in case["labels"].get("flags", []):
        gold[flag["type"]] += [evidence_span(text, q) for q in flag["evidence"]]
    predicted: dict[str, list[Span]] = defaultdict(list)
    for flag in prediction.get("flags", []):
        predicted[flag["type"]] += [tuple(s) for s in flag.get("citations", [])]
    for flag_type in set(gold) | set(predicted):
        outcome = "tp" if flag_type in gold and flag_type in predicted else "fn" if flag_type in gold else "fp"
        counts[outcome][flag_type] += 1
        if flag_type in gold:
            citations.add(gold[flag_type], predicted.get(flag_type, []))


def _per_status(confusion: Counter[tuple[str, str]]) -> dict[str, dict[str, float]]:
    table = {}
    for status in STATUSES:
        tp = confusion[(status, status)]
        fp = sum(v for (g, p), v in confusion.items() if p == status and g != status)
        fn = sum(v for (g, p), v in confusion.items() if g == status and p != status)
        precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
        table[status] = {"precision": precision, "recall": recall, "f1": _f1(precision, recall),
                         "support": tp + fn}
    return table


def _summary(gold_cases, by_id, confusion, citations, domain_counts, level_errors, flag_counts) -> Metrics:
    per_status = _per_status(confusion)
    present = [s for s in STATUSES if per_status[s]["support"]]
    domain_precision = _ratio(domain_counts["tp"], domain_counts["tp"] + domain_counts["fp"])
    domain_recall = _ratio(domain_counts["tp"], domain_counts["tp"] + domain_counts["fn"])
    tp, fp, fn = (sum(flag_counts[k].values()) for k in ("tp", "fp", "fn"))
    flag_precision, flag_recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    citation_precision, citation_recall, citation_f1 = citations.prf()
    return {
        "cases": len(gold_cases),
        "missing_predictions": sum(1 for c in gold_cases if c["id"] not in by_id),
        "goal_status_macro_f1": sum(per_status[s]["f1"] for s in present) / len(present) if present else 0.0,
        "goal_status_accuracy": _ratio(sum(confusion[(s, s)] for s in STATUSES), max(1, sum(confusion.values()))),
        "per_status": per_status,
        "citation_precision": citation_precision, "citation_recall": citation_recall,
        "citation_f1": citation_f1,
        "domain_f1": _f1(domain_precision, domain_recall),
        "domain_level_mae": sum(level_errors) / len(level_errors) if level_errors else None,
        "domain_level_within1": sum(e <= 1 for e in level_errors) / len(level_errors) if level_errors else None,
        "flag_precision": flag_precision, "flag_recall": flag_recall,
        "flag_f1": _f1(flag_precision, flag_recall),
        "flag_recall_by_type": {
            t: flag_counts["tp"][t] / (flag_counts["tp"][t] + flag_counts["fn"][t])
            for t in FLAG_TYPES if flag_counts["tp"][t] + flag_counts["fn"][t]
        },
        "flag_precision_by_type": {
            t: flag_counts["tp"][t] / (flag_counts["tp"][t] + flag_counts["fp"][t])
            for t in FLAG_TYPES if flag_counts["tp"][t] + flag_counts["fp"][t]
        },
        "confusion": {f"{g}|{p}": v for (g, p), v in sorted(confusion.items())},
    }
