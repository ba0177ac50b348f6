"""Backfill on Ray Data: a caseload's history scored into the record by a pool of actors,
each holding one pipeline and one database connection pool.

The driver stores clients and plan versions first (cheap and serial); the actors then
score and store notes through `NoteIngestor.arrive`, which is idempotent per `note_id`,
so a rerun after a failure, or a note sent twice, stores each note once.

On a cluster, start Ray there and pass its address (`ray://head:10001` or `auto`); the
database URL must be one every node can reach (PostgreSQL), and each node needs this
package installed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from casenotes.shared_format import case_from_json, iter_cases

__all__ = ["BackfillSummary", "NoteWriter", "backfill"]


@dataclass(frozen=True)
class BackfillSummary:
    created: int
    existing: int
    conflicts: int


class NoteWriter:
    """A Ray Data callable class: one pipeline per actor, loaded once, used for many batches."""

    def __init__(self, database_url: str, model_path: str | None = None, rubric: str = "self-sufficiency",
                 threads: int = 1) -> None:
        from casenotes.runtime.factory import PipelineSpec, build_pipeline
        from casenotes.runtime.ingest import NoteIngestor
        from casenotes.store import make_engine, make_sessionmaker

        self.engine = make_engine(database_url)
        pipeline = build_pipeline(PipelineSpec(model_path=model_path, rubric=rubric, threads=threads))
        self.ingestor = NoteIngestor(make_sessionmaker(self.engine), pipeline, index=None)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from casenotes.errors import Conflict
        from casenotes.store.loading import case_program, note_fields

        outcomes = []
        for line, version in zip(batch["line"], batch["plan_version"]):
            case = case_from_json(json.loads(line), "backfill")
            try:
                arrival = self.ingestor.arrive(case.note.client_id, note_fields(case), program=case_program(case),
                                               plan_version=int(version))
                outcomes.append("created" if arrival.created else "existing")
            except Conflict:
                outcomes.append("conflict")
        return {"note_id": np.array([json.loads(line)["note_id"] for line in batch["line"]]),
                "outcome": np.array(outcomes)}


def backfill(in_path: Path, database_url: str, *, actors: int = 2, batch_notes: int = 16,
             model_path: str | None = None, rubric: str = "self-sufficiency",
             ray_address: str | None = None) -> BackfillSummary:
    """Score every note of a shared-format file into the database at `database_url`."""
    import ray

    from casenotes.store import make_engine, make_sessionmaker, migrate
    from casenotes.store.loading import prepare_clients_and_plans

    cases = list(iter_cases(in_path))  # every line validated before any work is sent out
    engine = make_engine(database_url)
    migrate(engine)
    versions = prepare_clients_and_plans(make_sessionmaker(engine), cases, rubric)
    engine.dispose()
    rows = [{"line": json.dumps(_case_line(case), ensure_ascii=False), "plan_version": versions[case.id]}
            for case in cases]
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=ray_address, num_cpus=None if ray_address else actors, include_dashboard=False,
                 log_to_driver=False)
    try:
        outcomes = (ray.data.from_items(rows)
                    .map_batches(NoteWriter, batch_size=batch_notes, compute=ray.data.ActorPoolStrategy(size=actors),
                                 num_cpus=1, fn_constructor_kwargs={"database_url": database_url,
                                                                     "model_path": model_path, "rubric": rubric})
                    .take_all())
    finally:
        if started_here:
            ray.shutdown()
    counts = {kind: sum(1 for o in outcomes if o["outcome"] == kind) for kind in ("created", "existing", "conflict")}
    return BackfillSummary(counts["created"], counts["existing"], counts["conflict"])


def _case_line(case) -> dict:
    note = case.note
    return {"id": case.id, "note_id": note.note_id, "client_id": note.client_id, "program": note.program,
            "note_date": note.note_date.isoformat() if note.note_date else None, "note_format": note.note_format,
            "note_text": note.text, "goals": [g.model_dump(mode="json") for g in case.plan.goals]}
