"""API tokens and review-UI sessions as stored: random, shown once, kept only as SHA-256 digests.

No web framework here, so that `casenotes token create` starts at once; the request side
(bearer and cookie checks, roles on routes) is `casenotes.service.auth`.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import ColumnElement, delete, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from casenotes.errors import Conflict, InvalidInput, NotFound
from casenotes.store.tables import ApiToken, UiSession, utcnow

__all__ = ["ROLES", "Principal", "TokenInfo", "create_token", "end_ui_session", "ensure_token", "list_tokens",
           "make_token", "parse_lifetime", "principal_for", "principal_for_session", "revoke_token",
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


@dataclass(frozen=True)
class TokenInfo:
    """A stored token as `casenotes token list` shows it: never the token or its hash."""

    id: int
    name: str
    role: str
    program: str | None
    created_at: datetime
    expires_at: datetime | None
    state: str  # active, revoked or expired


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


_LIFETIME = re.compile(r"(\d{1,7})\s*([hdw])")
_LIFETIME_UNITS = {"h": "hours", "d": "days", "w": "weeks"}
_LONGEST_LIFETIME = timedelta(days=3650)


def parse_lifetime(text: str) -> timedelta:
    """A token's lifetime from `12h`, `30d` or `2w`: more than nothing, at most ten years."""
    match = _LIFETIME.fullmatch(text.strip().lower())
    lifetime = timedelta(**{_LIFETIME_UNITS[match.group(2)]: int(match.group(1))}) if match else timedelta(0)
    if not timedelta(0) < lifetime <= _LONGEST_LIFETIME:
        raise InvalidInput(f"a lifetime is a whole number of hours, days or weeks up to 3650d, such as 12h, 30d "
                           f"or 2w; not {text!r}")
    return lifetime


def create_token(session: Session, role: str, program: str | None = None, name: str | None = None,
                 lifetime: timedelta | None = None) -> str:
    """A new token for `role` (and only `program`, if given), expiring after `lifetime` if given;
    the caller shows it once."""
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    token = _TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = utcnow() + lifetime if lifetime else None
    session.add(ApiToken(name=name or role, token_sha256=token_digest(token), role=role, program=program,
                         expires_at=expires_at))
    session.flush()
    return token


def make_token(sessions: sessionmaker[Session], role: str, program: str | None, name: str | None,
               lifetime: timedelta | None = None) -> str:
    """`create_token` in a transaction of its own: what `casenotes token create` prints."""
    with sessions.begin() as session:
        return create_token(session, role, program, name, lifetime)


def list_tokens(sessions: sessionmaker[Session]) -> list[TokenInfo]:
    """Every stored token, oldest first, with its state now."""
    now = utcnow()
    with sessions() as session:
        rows = session.scalars(select(ApiToken).order_by(ApiToken.id)).all()
        return [TokenInfo(r.id, r.name, r.role, r.program, r.created_at, r.expires_at, _state(r, now)) for r in rows]


def revoke_token(sessions: sessionmaker[Session], token_id: int) -> None:
    """Stop a token working at once, and end the review-UI sessions signed in with it."""
    now = utcnow()
    with sessions.begin() as session:
        row = session.get(ApiToken, token_id)
        if row is None:
            raise NotFound(f"no token with id {token_id} (`casenotes token list` shows them)")
        if row.revoked:
            raise Conflict(f"token {token_id} is already revoked")
        row.revoked, row.revoked_at = True, now
        session.execute(update(UiSession).where(UiSession.token_pk == token_id, UiSession.revoked_at.is_(None))
                        .values(revoked_at=now))


def ensure_token(sessions: sessionmaker[Session], path: Path, role: str, name: str,
                 program: str | None = None, lifetime: timedelta | None = None) -> tuple[str, bool]:
    """The token kept in `path` if it still works for `role` and `program`; otherwise a new one,
    written there readable by its owner alone. (token, whether it was made now)."""
    kept = path.read_text(encoding="utf-8").strip() if path.is_file() else ""
    with sessions.begin() as session:
        principal = principal_for(session, kept)
        if principal is not None and (principal.role, principal.program) == (role, program):
            path.chmod(0o600)
            return kept, False
        if principal is not None:  # a working token of another role: the file was its one home
            session.execute(update(ApiToken).where(ApiToken.id == principal.token_pk)
                            .values(revoked=True, revoked_at=utcnow()))
        token = create_token(session, role, program, name, lifetime)
        _write_private(path, token)
    return token, True


def _write_private(path: Path, text: str) -> None:
    """Write `text` to `path` with mode 0600 from the first byte, replacing any file there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as sink:
        sink.write(text + "\n")
    os.replace(partial, path)


def _state(row: ApiToken, now: datetime) -> str:
    if row.revoked:
        return "revoked"
    return "expired" if row.expires_at is not None and row.expires_at <= now else "active"


def _usable(now: datetime) -> ColumnElement[bool]:
    """Neither revoked nor past its expiry."""
    return ApiToken.revoked.is_(False) & or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now)


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
    row = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == token_digest(token), _usable(utcnow())))
    return Principal(row.id, row.name, row.role, row.program) if row else None


def principal_for_session(session: Session, session_id: str | None) -> Principal | None:
    """The principal of a live UI session: neither signed out nor expired, and made with a token
    that is neither revoked nor expired."""
    if not session_id or not session_id.startswith(_SESSION_PREFIX) or len(session_id) > 200:
        return None
    now = utcnow()
    row = session.scalar(select(ApiToken).join(UiSession, UiSession.token_pk == ApiToken.id)
                         .where(UiSession.id == token_digest(session_id), UiSession.revoked_at.is_(None),
                                UiSession.expires_at > now, _usable(now)))
    return Principal(row.id, row.name, row.role, row.program) if row else None
