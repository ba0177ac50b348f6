"""Search's side of the record: the vectors of the current segments, the hits an index finds
that are still live and visible, and the change log every search index follows. A write that
adds or retires searchable segments logs them in its own transaction, in commit order, and each
index applies the log from the last change it saw. The `Repository` takes these reads and writes
from the `SegmentLog` class here, which works in its session.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import and_, func, insert, select
from sqlalchemy.orm import Session

from casenotes.store.scope import is_current
from casenotes.store.tables import Client, Enrollment, Note, NoteRevision, SegmentChange, SegmentRow, utcnow

__all__ = ["SEGMENT_LOG_LOCK", "SegmentLog"]

# Any constant works, as long as every writer of segment_change takes the same one.
SEGMENT_LOG_LOCK = 0x5E6C4A6E
_VECTOR_READ_CHUNK = 5_000


class SegmentLog:
    """Search support and the search index's change log, for `Repository`, in its session."""

    session: Session

    def segment_vectors(self, after_id: int = 0, client: Client | None = None,
                        programs: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of current segments, newer than `after_id`, of one client or all, of the
        notes of `programs`' enrollments or of every one."""
        query = select(SegmentRow.id, SegmentRow.vector).join(NoteRevision).join(Note, is_current(Note)) \
            .where(SegmentRow.id > after_id).order_by(SegmentRow.id)
        if client is not None:
            query = query.where(Note.client_pk == client.id)
        if programs is not None:
            query = query.join(Enrollment, Note.enrollment_pk == Enrollment.id).where(Enrollment.program == programs)
        return _ids_and_vectors(self.session.execute(query).all())

    def search_hits(self, segment_ids: list[int], programs: str | None,
                    client_id: str | None = None) -> dict[int, tuple[SegmentRow, NoteRevision, Note, Client]]:
        """The live, visible segments among `segment_ids`: deleted ones drop out, and those of notes
        of another program's enrollment for a program-scoped caller."""
        if not segment_ids:
            return {}
        query = select(SegmentRow, NoteRevision, Note, Client).join(NoteRevision, SegmentRow.revision_pk == NoteRevision.id) \
            .join(Note, and_(NoteRevision.note_pk == Note.id, NoteRevision.revision == Note.current_revision)) \
            .join(Client, Note.client_pk == Client.id).where(SegmentRow.id.in_(segment_ids))
        if programs is not None:
            query = query.join(Enrollment, Note.enrollment_pk == Enrollment.id).where(Enrollment.program == programs)
        if client_id is not None:
            query = query.where(Client.client_id == client_id)
        return {row[0].id: tuple(row) for row in self.session.execute(query)}

    def log_segment_changes(self, segment_ids: list[int], op: str) -> None:
        """Record in this transaction that these segments became searchable (`add`) or stopped being so (`remove`).

        Every index applies the log in `seq` order and remembers only the last seq it applied,
        so a seq must never become visible before a smaller one: seq order has to be commit
        order. SQLite gives that already, since every transaction begins IMMEDIATE and writers
        run one at a time. PostgreSQL hands out sequence values at insert time, and two
        transactions may commit in the other order; so here the transaction first takes a
        transaction-scoped advisory lock, held until its commit is visible: the next writer
        draws its seqs only after that. The lock is taken after everything else is flushed, so
        it is held only for these inserts and the commit (scoring happened long before), and
        no writer waits on a row lock while holding it. Tracking gaps in the seqs instead
        would need a timeout to tell a slow transaction from a rolled-back one."""
        if not segment_ids:
            return
        self.session.flush()
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(select(func.pg_advisory_xact_lock(SEGMENT_LOG_LOCK)))
        now = utcnow()
        self.session.execute(insert(SegmentChange), [{"segment_id": int(i), "op": op, "at": now}
                                                     for i in segment_ids])

    def segment_changes(self, after_seq: int, limit: int) -> list[tuple[int, int, str]]:
        """(seq, segment id, op) of the changes after `after_seq`, oldest first, at most `limit`."""
        query = select(SegmentChange.seq, SegmentChange.segment_id, SegmentChange.op) \
            .where(SegmentChange.seq > after_seq).order_by(SegmentChange.seq).limit(limit)
        return [(seq, segment_id, op) for seq, segment_id, op in self.session.execute(query)]

    def last_segment_change(self) -> int:
        return self.session.scalar(select(func.max(SegmentChange.seq))) or 0

    def stored_vectors(self, segment_ids: list[int]) -> dict[int, np.ndarray]:
        """The vectors of those of these segments still in the database, current or not."""
        found: dict[int, np.ndarray] = {}
        for start in range(0, len(segment_ids), _VECTOR_READ_CHUNK):
            chunk = segment_ids[start:start + _VECTOR_READ_CHUNK]
            rows = self.session.execute(select(SegmentRow.id, SegmentRow.vector).where(SegmentRow.id.in_(chunk)))
            found.update((segment_id, np.frombuffer(vector, dtype=np.float32)) for segment_id, vector in rows)
        return found


def _ids_and_vectors(rows) -> tuple[np.ndarray, np.ndarray]:
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    vectors = np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows]) if rows else np.zeros((0, 0), np.float32)
    return ids, vectors
