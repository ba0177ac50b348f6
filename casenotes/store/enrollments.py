"""A client's enrollments: one per stay in a program, at most one active per program. Plans and
notes are written to an enrollment, and a program-scoped reader sees a client only through an
enrollment in its program. The `Repository` takes these reads and writes from the `Enrollments`
class here, which works in its session.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from casenotes.errors import Conflict, NotFound
from casenotes.store.scope import visible
from casenotes.store.tables import ACTIVE, CLOSED, Client, Enrollment, Note

__all__ = ["Enrollments"]


class Enrollments:
    """Enrollment reads and writes, for `Repository`, in its session (and with its `_lock`)."""

    session: Session

    def enrollments(self, client: Client, programs: str | None = None) -> list[Enrollment]:
        """The client's enrollments the caller may see, oldest first."""
        query = select(Enrollment).where(Enrollment.client_pk == client.id).order_by(Enrollment.id)
        if programs is not None:
            query = query.where(Enrollment.program == programs)
        return list(self.session.scalars(query))

    def enrollment(self, client: Client, enrollment_id: int, programs: str | None = None) -> Enrollment:
        found = self.session.scalar(select(Enrollment).where(Enrollment.id == enrollment_id,
                                                             Enrollment.client_pk == client.id))
        if found is None or not visible(found.program, programs):
            raise NotFound(f"client {client.client_id!r} has no enrollment {enrollment_id}")
        return found

    def programs_in_use(self) -> list[str]:
        """Every program some client is enrolled in, sorted."""
        return list(self.session.scalars(select(Enrollment.program).distinct().order_by(Enrollment.program)))

    def client_rows(self, programs: str | None = None) -> list[tuple[str, str, int, date | None]]:
        """(client id, program, notes, latest note date) per client and program the caller may see."""
        query = (select(Client.client_id, Enrollment.program, func.count(Note.id), func.max(Note.note_date))
                 .join(Enrollment, Enrollment.client_pk == Client.id)
                 .outerjoin(Note, Note.enrollment_pk == Enrollment.id)
                 .group_by(Client.client_id, Enrollment.program).order_by(Enrollment.program, Client.client_id))
        if programs is not None:
            query = query.where(Enrollment.program == programs)
        return [tuple(row) for row in self.session.execute(query)]

    def active_enrollment(self, client: Client, program: str) -> Enrollment | None:
        return self.session.scalar(select(Enrollment).where(
            Enrollment.client_pk == client.id, Enrollment.program == program, Enrollment.status == ACTIVE))

    def enroll(self, client: Client, program: str, start_date: date) -> Enrollment:
        """A new active enrollment; `Conflict` while the client has one in that program. The client's
        row is locked first, so two enrollments at once queue, and the second finds the first."""
        self._lock(Client, client.id, f"no client {client.client_id!r}")
        if self.active_enrollment(client, program) is not None:
            raise _overlapping(client, program)
        try:
            with self.session.begin_nested():
                enrollment = Enrollment(client_pk=client.id, program=program, start_date=start_date, status=ACTIVE)
                self.session.add(enrollment)
        except IntegrityError:  # the partial unique index: one active enrollment per program
            raise _overlapping(client, program) from None
        return enrollment

    def close_enrollment(self, enrollment: Enrollment, end_date: date) -> Enrollment:
        """Close an active enrollment on `end_date`; its notes and plans stay, and no new note joins it."""
        self._lock(Enrollment, enrollment.id, f"no enrollment {enrollment.id}")
        self.session.refresh(enrollment)
        if enrollment.status == CLOSED:
            raise Conflict(f"enrollment {enrollment.id} is closed already (on {enrollment.end_date})")
        if end_date < enrollment.start_date:
            raise Conflict(f"end_date {end_date} is before the enrollment's start_date {enrollment.start_date}")
        enrollment.status, enrollment.end_date = CLOSED, end_date
        return enrollment

    def enrollment_for_writing(self, client: Client, programs: str | None, program: str | None = None) -> Enrollment:
        """The active enrollment a plan or note is for: in the caller's program when the caller is
        scoped, else in the `program` named, else the client's only active one. `Conflict` when that
        enrollment is closed or missing, or when the client's several active enrollments leave the
        choice to the caller (who must name `program`). The messages count enrollments and never
        name programs the caller did not name."""
        wanted = programs if programs is not None else program
        if wanted is not None:
            found = self.active_enrollment(client, wanted)
            if found is None:
                raise Conflict(f"client {client.client_id!r} has no active enrollment in {wanted!r}"
                               + ("; it was closed" if self.enrollments(client, wanted) else ""))
            return found
        active = [e for e in self.enrollments(client) if e.status == ACTIVE]
        if len(active) == 1:
            return active[0]
        if not active:
            raise Conflict(f"client {client.client_id!r} has no active enrollment; every one is closed")
        raise Conflict(f"client {client.client_id!r} has {len(active)} active enrollments: "
                           "name the `program` this is for")


def _overlapping(client: Client, program: str) -> Conflict:
    return Conflict(f"client {client.client_id!r} already has an active enrollment in {program!r}: "
                    "close it before enrolling again")
