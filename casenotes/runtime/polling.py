"""What the database-backed workers share: a thread that polls for due work, and leases.

A row is claimed by pushing its next attempt time past a lease: two processes on one database
never take the same row at once, and a process that dies mid-attempt leaves a lease that runs
out, so the row is taken again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from sqlalchemy import ColumnElement, event, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

__all__ = ["PooledPoller", "Poller", "lease_due"]

log = logging.getLogger(__name__)


def lease_due(sessions: sessionmaker[Session], table: type, due: list[ColumnElement[bool]],
              next_attempt: InstrumentedAttribute, order_by: list, limit: int, until: datetime) -> list[int]:
    """Ids of up to `limit` rows of `table` that are `due`, each leased `until` then."""
    claimed = []
    with sessions.begin() as session:
        candidates = list(session.scalars(select(table.id).where(*due).order_by(*order_by).limit(limit)))
        for row_id in candidates:
            leased = session.execute(update(table).where(table.id == row_id, *due).values({next_attempt: until}))
            if leased.rowcount == 1:
                claimed.append(row_id)
    return claimed


class Poller:
    """A daemon thread that calls `run_once` until stopped, and waits `poll_seconds` (or until
    woken) whenever a round found nothing to do."""

    def __init__(self, name: str, run_once: Callable[[], int], poll_seconds: float) -> None:
        self.name = name
        self.run_once = run_once
        self.poll_seconds = poll_seconds
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        self._wake.set()

    def wake_after_commit(self, session: Session) -> None:
        """Look for work as soon as the caller's transaction commits (not before: it would not see it)."""
        event.listen(session, "after_commit", lambda _session: self._wake.set(), once=True)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Start no more rounds; the round in progress ends first."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                found = self.run_once()
            except Exception:  # noqa: BLE001 - the poller must outlive a database hiccup; the next round retries
                log.exception("%s: a round failed", self.name)
                found = 0
            if not found:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()


class PooledPoller:
    """A poller whose rounds hand work to a thread pool: started and stopped as one."""

    def __init__(self, name: str, poll_seconds: float, threads: int) -> None:
        self._poller = Poller(f"{name}-poller", self.run_once, poll_seconds)
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix=name)

    def run_once(self) -> int:
        raise NotImplementedError

    def start(self) -> None:
        self._poller.start()

    def stop(self) -> None:
        """Claim nothing more and finish the work in hand."""
        self._poller.stop()
        self._pool.shutdown(wait=True)
