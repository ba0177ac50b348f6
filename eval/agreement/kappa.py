"""Agreement between the labels of record and an independent second labeling pass.

    python eval/agreement/kappa.py FIRST.jsonl SECOND.jsonl

Goal status: Cohen's kappa over (note, goal) pairs; domains and flags: detection
agreement (F1 of one pass against the other) per (note, domain) and (note, flag type);
evidence: the share of the first pass's goal evidence the second pass hit (span rule of
the shared metrics). Only notes present in both files count.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

STATUSES = ("improving", "worsening", "no-change", "achieved", "not-addressed")


def _read(path: str) -> dict[str, dict]:
    rows = (json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip())
    return {row["id"]: row for row in rows}


def cohen_kappa(pairs: list[tuple[str, str]]) -> float:
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    first, second = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    expected = sum(first[s] * second[s] for s in STATUSES) / (n * n)
    return (observed - expected) / (1 - expected)


def _detection_f1(first: set, second: set) -> float:
    both = len(first & second)
    return 2 * both / (len(first) + len(second)) if first or second else 1.0


def _span(text: str, quote: str) -> tuple[int, int]:
    start = text.find(quote)
    return start, start + len(quote)


def _hit(a: tuple[int, int], b: tuple[int, int]) -> bool:
    overlap = min(a[1], b[1]) - max(a[0], b[0])
    shorter = min(a[1] - a[0], b[1] - b[0])
    return shorter > 0 and overlap >= shorter / 2


def agreement(first: dict[str, dict], second: dict[str, dict]) -> dict:
    ids = sorted(set(first) & set(second))
    pairs, evidence_total, evidence_hit = [], 0, 0
    domains_a, domains_b, flags_a, flags_b, levels = set(), set(), set(), set(), []
    for note_id in ids:
        a, b, text = first[note_id]["labels"], second[note_id]["labels"], first[note_id]["note_text"]
        for goal_id, label in a["goals"].items():
            other = b["goals"][goal_id]
            pairs.append((label["status"], other["status"]))
            theirs = [_span(text, q) for q in other["evidence"]]
            for quote in label["evidence"]:
                evidence_total += 1
                evidence_hit += any(_hit(_span(text, quote), t) for t in theirs)
        domains_a |= {(note_id, d) for d in a.get("domains", {})}
        domains_b |= {(note_id, d) for d in b.get("domains", {})}
        levels += [abs(a["domains"][d]["level"] - b["domains"][d]["level"])
                   for d in set(a.get("domains", {})) & set(b.get("domains", {}))]
        flags_a |= {(note_id, f["type"]) for f in a.get("flags", [])}
        flags_b |= {(note_id, f["type"]) for f in b.get("flags", [])}
    return {
        "notes": len(ids), "goal_pairs": len(pairs),
        "status_agreement": sum(x == y for x, y in pairs) / len(pairs),
        "status_kappa": cohen_kappa(pairs),
        "status_confusion": Counter(f"{x}|{y}" for x, y in pairs if x != y).most_common(8),
        "goal_evidence_hit": evidence_hit / max(evidence_total, 1),
        "domain_detection_f1": _detection_f1(domains_a, domains_b),
        "level_within_one": sum(d <= 1 for d in levels) / max(len(levels), 1),
        "flag_detection_f1": _detection_f1(flags_a, flags_b),
    }


if __name__ == "__main__":
    print(json.dumps(agreement(_read(sys.argv[1]), _read(sys.argv[2])), indent=1))
