"""Split the labeled notes in eval/data/raw/ into train, dev and test by client.

Every note of a client lands in one split, so no model sees a client it is
scored on. Within each program, clients are ordered by a hash of their id and
dealt 60/20/20, so each split holds every program. Deterministic.

    python eval/make_splits.py            # writes eval/data/{train,dev,test}.jsonl
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
SHARES = (("train", 0.6), ("dev", 0.2), ("test", 0.2))


def _order(client_id: str) -> str:
    return hashlib.sha256(client_id.encode()).hexdigest()


def assign_clients(cases: list[dict]) -> dict[str, str]:
    clients_by_program: dict[str, set[str]] = defaultdict(set)
    for case in cases:
        clients_by_program[case["program"]].add(case["client_id"])
    split_of = {}
    for program, clients in sorted(clients_by_program.items()):
        ordered = sorted(clients, key=_order)
        n_dev = max(1, round(len(ordered) * SHARES[1][1]))
        n_test = max(1, round(len(ordered) * SHARES[2][1]))
        for i, client in enumerate(ordered):
            split_of[client] = "test" if i < n_test else "dev" if i < n_test + n_dev else "train"
    return split_of


def main() -> None:
    cases = [json.loads(line) for path in sorted((DATA / "raw").glob("*.jsonl"))
             for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    split_of = assign_clients(cases)
    rows: dict[str, list[str]] = defaultdict(list)
    for case in sorted(cases, key=lambda c: (c["client_id"], c["note_date"], c["id"])):
        rows[split_of[case["client_id"]]].append(json.dumps(case, ensure_ascii=False))
    for split, _ in SHARES:
        (DATA / f"{split}.jsonl").write_text("\n".join(rows[split]) + "\n", encoding="utf-8")
    clients = Counter(split_of.values())
    for split, _ in SHARES:
        print(f"{split}: {len(rows[split])} notes, {clients[split]} clients")


if __name__ == "__main__":
    main()
