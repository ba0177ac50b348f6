"""API tokens and review-UI sessions as stored: random, shown once, kept only as SHA-256 digests.

No web framework here, so that `casenotes token create` starts at once; the request side
(bearer and cookie checks, roles on routes) is `casenotes.service.auth`.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from casenotes.errors import InvalidInput
from casenotes.store.tables import ApiToken, UiSession, utcnow

__all__ = ["ROLES", "Principal", "create_token", "make_token", "end_ui_session", "principal_for", "principal_for_session",
           "start_ui_session", "token_digest"]

ROLES = ("ingest", "supervisor", "analyst", "admin")
_TOKEN_PREFIX = "cn_"
_SESSION_PREFIX = "cns_"


@dataclass(frozen=True)
class Principal:
    token_pk: int
    name: str
    role: str
    program: str | None

    @property
    def actor(self) -> str:
        return f"{self.name}#{self.token_pk}"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(session: Session, role: str, program: str | None = None, name: str | None = None) -> str:
    """A new token for `role` (and only `program`, if given); the caller shows it once."""
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    token = _TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(name=name or role, token_sha256=token_digest(token), role=role, program=program))
    session.flush()
    return token


def make_token(sessions: sessionmaker[Session], role: str, program: str | None, name: str | None) -> str:
    """`create_token` in a transaction of its own: what `casenotes token create` prints."""
    with sessions.begin() as session:
        return create_token(session, role, program, name)


def start_ui_session(session: Session, principal: Principal, hours: float) -> str:
    """A new review-UI session for `principal`, lasting `hours`: the id for the cookie (only its
    digest is stored). Sessions that have expired are cleared out on the way."""
    now = utcnow()
    session.execute(delete(UiSession).where(UiSession.expires_at <= now))
    session_id = _SESSION_PREFIX + secrets.token_urlsafe(32)
    session.add(UiSession(id=token_digest(session_id), token_pk=principal.token_pk, created_at=now,
                          expires_at=now + timedelta(hours=hours)))
    session.flush()
    return session_id


def end_ui_session(session: Session, session_id: str) -> None:
    """Sign out: the session stops working at once, whatever its cookie's remaining life."""
    session.execute(update(UiSession).where(UiSession.id == token_digest(session_id),
                                            UiSession.revoked_at.is_(None)).values(revoked_at=utcnow()))


def principal_for(session: Session, token: str | None) -> Principal | None:
    if not token or not token.startswith(_TOKEN_PREFIX) or len(token) > 200:
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == token_digest(token),
                                                ApiToken.revoked.is_(False)))
    return Principal(row.id, row.name, row.role, row.program) if row else None


def principal_for_session(session: Session, session_id: str | None) -> Principal | None:
    """The principal of a live UI session: neither signed out, expired, nor made with a revoked token."""
    if not session_id or not session_id.startswith(_SESSION_PREFIX) or len(session_id) > 200:
        return None
    row = session.scalar(select(ApiToken).join(UiSession, UiSession.token_pk == ApiToken.id)
                         .where(UiSession.id == token_digest(session_id), UiSession.revoked_at.is_(None),
                                UiSession.expires_at > utcnow(), ApiToken.revoked.is_(False)))
    return Principal(row.id, row.name, row.role, row.program) if row else None
