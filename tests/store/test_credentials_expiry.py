"""Tokens that end, on SQLite and PostgreSQL: an expired token works nowhere, `list_tokens` tells
active from revoked from expired, revoking ends the token's UI sessions, and `ensure_token` keeps
one working token in a file only its owner can read."""

from __future__ import annotations

import stat
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from casenotes.errors import Conflict, InvalidInput, NotFound
from casenotes.store import make_engine, make_sessionmaker
from casenotes.store.credentials import (
    ensure_token,
    list_tokens,
    make_token,
    parse_lifetime,
    principal_for,
    principal_for_session,
    revoke_token,
    start_ui_session,
    token_digest,
)
from casenotes.store.tables import ApiToken, UiSession, utcnow


@pytest.fixture
def sessions(database_url):
    engine = make_engine(database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def token_pk(sessions, token: str) -> int:
    with sessions() as session:
        return session.scalar(select(ApiToken.id).where(ApiToken.token_sha256 == token_digest(token)))


def expire(sessions, token: str) -> None:
    """Move the token's expiry a second into the past, as if its lifetime had run out."""
    with sessions.begin() as session:
        session.execute(update(ApiToken).where(ApiToken.token_sha256 == token_digest(token))
                        .values(expires_at=utcnow() - timedelta(seconds=1)))


def sign_in(sessions, token: str) -> str:
    with sessions.begin() as session:
        return start_ui_session(session, principal_for(session, token), hours=8)


def principal(sessions, token: str):
    with sessions() as session:
        return principal_for(session, token)


def session_principal(sessions, session_id: str):
    with sessions() as session:
        return principal_for_session(session, session_id)


@pytest.mark.parametrize("given, expected", [("12h", timedelta(hours=12)), ("30d", timedelta(days=30)),
                                             ("2w", timedelta(weeks=2)), (" 3D ", timedelta(days=3))])
def test_credentials_lifetime_reads_hours_days_and_weeks(given, expected):
    assert parse_lifetime(given) == expected


@pytest.mark.parametrize("given", ["", "30", "30 days", "1y", "0d", "-3d", "1.5h", "3651d", "99999999w"])
def test_credentials_lifetime_refuses_what_it_cannot_read(given):
    with pytest.raises(InvalidInput, match="hours, days or weeks"):
        parse_lifetime(given)


def test_credentials_token_with_a_lifetime_works_until_it_expires_then_nowhere(sessions):
    token = make_token(sessions, "analyst", None, "temp", parse_lifetime("12h"))
    forever = make_token(sessions, "analyst", None, "forever")
    session_id = sign_in(sessions, token)
    assert principal(sessions, token).name == "temp" and session_principal(sessions, session_id) is not None
    with sessions() as session:
        stored = session.get(ApiToken, token_pk(sessions, token))
    assert timedelta(hours=11.9) < stored.expires_at - utcnow() <= timedelta(hours=12)

    expire(sessions, token)
    assert principal(sessions, token) is None
    assert session_principal(sessions, session_id) is None  # its UI session ends with it
    assert principal(sessions, forever).name == "forever"   # a token made without a lifetime never expires


def test_credentials_list_tells_active_revoked_and_expired_apart_and_shows_no_secret(sessions):
    active = make_token(sessions, "admin", None, "ops", parse_lifetime("30d"))
    revoked = make_token(sessions, "supervisor", "Rapid Re-Housing", "sup")
    expired = make_token(sessions, "ingest", None, "cms", parse_lifetime("1h"))
    revoke_token(sessions, token_pk(sessions, revoked))
    expire(sessions, expired)

    listed = list_tokens(sessions)
    assert [(t.name, t.role, t.program, t.state) for t in listed] == [
        ("ops", "admin", None, "active"), ("sup", "supervisor", "Rapid Re-Housing", "revoked"),
        ("cms", "ingest", None, "expired")]
    assert listed[0].expires_at is not None and listed[1].expires_at is None
    shown = repr(listed)
    assert not any(secret in shown for token in (active, revoked, expired) for secret in (token, token_digest(token)))


def test_credentials_revoke_stops_the_token_and_ends_its_ui_sessions(sessions):
    token = make_token(sessions, "supervisor", None, "sup")
    other = make_token(sessions, "supervisor", None, "other")
    first, second, others = sign_in(sessions, token), sign_in(sessions, token), sign_in(sessions, other)
    revoke_token(sessions, token_pk(sessions, token))

    assert principal(sessions, token) is None
    assert session_principal(sessions, first) is None and session_principal(sessions, second) is None
    assert session_principal(sessions, others).name == "other" and principal(sessions, other) is not None
    with sessions() as session:
        stored = session.get(ApiToken, token_pk(sessions, token))
        ended = session.scalars(select(UiSession.revoked_at).where(UiSession.token_pk == stored.id)).all()
    assert stored.revoked and stored.revoked_at is not None
    assert len(ended) == 2 and all(moment is not None for moment in ended)


def test_credentials_revoke_names_an_unknown_id_and_a_second_revocation(sessions):
    token = make_token(sessions, "analyst", None, "a")
    with pytest.raises(NotFound, match="no token with id 999"):
        revoke_token(sessions, 999)
    revoke_token(sessions, token_pk(sessions, token))
    with pytest.raises(Conflict, match="already revoked"):
        revoke_token(sessions, token_pk(sessions, token))


def test_credentials_ensure_writes_a_private_file_then_reuses_its_token(sessions, tmp_path):
    path = tmp_path / "data" / "admin-token"
    token, made = ensure_token(sessions, path, "admin", "make-run")
    assert made and path.read_text() == token + "\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert principal(sessions, token).role == "admin"

    assert ensure_token(sessions, path, "admin", "make-run") == (token, False)
    assert len(list_tokens(sessions)) == 1  # nothing new minted on the second run


def test_credentials_ensure_tightens_a_kept_file_readable_by_others(sessions, tmp_path):
    path = tmp_path / "admin-token"
    token, _ = ensure_token(sessions, path, "admin", "make-run")
    path.chmod(0o644)
    assert ensure_token(sessions, path, "admin", "make-run") == (token, False)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("end", ["revoked", "expired", "unknown"])
def test_credentials_ensure_replaces_a_token_that_no_longer_works(sessions, tmp_path, end):
    path = tmp_path / "admin-token"
    old, _ = ensure_token(sessions, path, "admin", "make-run")
    if end == "revoked":
        revoke_token(sessions, token_pk(sessions, old))
    elif end == "expired":
        expire(sessions, old)
    else:  # a file from another database, or edited by hand
        path.write_text("cn_not-a-token-this-database-knows\n")
    new, made = ensure_token(sessions, path, "admin", "make-run")
    assert made and new != old and path.read_text() == new + "\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert principal(sessions, new).role == "admin"
    assert [t.state for t in list_tokens(sessions)] == ["active" if end == "unknown" else end, "active"]


def test_credentials_ensure_replaces_and_revokes_a_token_of_another_role(sessions, tmp_path):
    path = tmp_path / "token"
    analyst, _ = ensure_token(sessions, path, "analyst", "kept")
    admin, made = ensure_token(sessions, path, "admin", "kept")
    assert made and principal(sessions, admin).role == "admin"
    assert principal(sessions, analyst) is None  # the file was its one home: it does not linger


def test_credentials_tokens_made_before_expiry_existed_still_work(empty_database_url):
    """Migration 0007 on a database with a token: the token keeps working and never expires."""
    from alembic import command
    from alembic.config import Config

    import casenotes.store.db as db

    engine = make_engine(empty_database_url)
    config = Config()
    config.set_main_option("script_location", str(Path(db.__file__).parent / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0006")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO api_token (name, token_sha256, role, created_at, revoked) "
                                "VALUES ('old', :digest, 'admin', :now, false)"),
                           {"digest": token_digest("cn_old-token"), "now": utcnow()})
    db.migrate(engine)
    sessions = make_sessionmaker(engine)
    try:
        assert principal(sessions, "cn_old-token").name == "old"
        assert [(t.name, t.expires_at, t.state) for t in list_tokens(sessions)] == [("old", None, "active")]
    finally:
        engine.dispose()
