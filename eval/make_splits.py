"""Split the labeled notes into train, dev and test, two ways.

- By client (the first 318 notes, `eval/data/raw/`): every note of a client lands in
  one split; within each program, clients are ordered by a hash of their id and dealt
  60/20/20. Writes `eval/data/{train,dev,test}.jsonl`, the splits the first reader was
  trained and measured on, kept for comparison.
- By writer (`eval/data/raw/` and `eval/data/writers/`): the dev and test splits hold
  writers the training never sees, so a test measures notes in a style the reader has
  not met. The founding writers' notes keep their client split beside them. Writes
  `eval/data/by-writer/{train,dev,test}.jsonl`.

Deterministic:

    python eval/make_splits.py
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
SHARES = (("train", 0.6), ("dev", 0.2), ("test", 0.2))
HELD_OUT_WRITERS = {
    "test": {"aba-tech", "clinic-soap", "long-narrative", "benefits-navigator", "youth-shelter"},
    "dev": {"peer-specialist", "school-social-worker", "dv-advocate"},
}


def _order(client_id: str) -> str:
    return hashlib.sha256(client_id.encode()).hexdigest()


def assign_clients(cases: list[dict]) -> dict[str, str]:
    clients_by_program: dict[str, set[str]] = defaultdict(set)
    for case in cases:
        clients_by_program[case["program"]].add(case["client_id"])
    split_of = {}
    for _program, clients in sorted(clients_by_program.items()):
        ordered = sorted(clients, key=_order)
        n_dev = max(1, round(len(ordered) * SHARES[1][1]))
        n_test = max(1, round(len(ordered) * SHARES[2][1]))
        for i, client in enumerate(ordered):
            split_of[client] = "test" if i < n_test else "dev" if i < n_test + n_dev else "train"
    return split_of


def split_of_writer(writer: str) -> str:
    return next((split for split, writers in HELD_OUT_WRITERS.items() if writer in writers), "train")


def _read(folder: Path) -> list[dict]:
    return [json.loads(line) for path in sorted(folder.glob("*.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _write(folder: Path, cases: list[dict], split_of_case) -> None:
    rows: dict[str, list[str]] = defaultdict(list)
    for case in sorted(cases, key=lambda c: (c["client_id"], c["note_date"], c["id"])):
        rows[split_of_case(case)].append(json.dumps(case, ensure_ascii=False))
    folder.mkdir(parents=True, exist_ok=True)
    for split, _ in SHARES:
        (folder / f"{split}.jsonl").write_text("\n".join(rows[split]) + "\n", encoding="utf-8")
        writers = Counter(json.loads(row)["writer"] for row in rows[split])
        print(f"{folder.name}/{split}: {len(rows[split])} notes, "
              f"{len({json.loads(r)['client_id'] for r in rows[split]})} clients, {len(writers)} writers")


def _check_one_writer_per_client(cases: list[dict]) -> None:
    writers_of: dict[str, set[str]] = defaultdict(set)
    for case in cases:
        writers_of[case["client_id"]].add(case["writer"])
    shared = sorted(client for client, writers in writers_of.items() if len(writers) > 1)
    if shared:
        raise SystemExit(f"clients written by more than one writer: {shared[:5]}")


def main() -> None:
    founding = _read(DATA / "raw")
    client_split = assign_clients(founding)
    _write(DATA, founding, lambda case: client_split[case["client_id"]])
    written = _read(DATA / "writers")
    _check_one_writer_per_client(founding + written)
    _write(DATA / "by-writer", founding + written,
           lambda case: client_split.get(case["client_id"]) or split_of_writer(case["writer"]))


if __name__ == "__main__":
    main()
