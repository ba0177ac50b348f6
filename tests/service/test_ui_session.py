"""Review-UI sessions, over HTTP on SQLite and PostgreSQL: the cookie holds a random session
id (never the token), sign-out revokes it, and an expired session or a revoked token ends it."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from casenotes.service.auth import SESSION_COOKIE, csrf_token
from casenotes.store.credentials import token_digest
from casenotes.store.tables import ApiToken, UiSession, utcnow


@pytest.fixture
def pipeline(fake_pipeline):
    """The fake one: no test here checks what a note says, so none loads the real model."""
    return fake_pipeline


def sign_in(client, headers: dict[str, str]) -> str:
    """Sign in through the form with the token of `headers`; the session cookie's value."""
    token = headers["Authorization"].removeprefix("Bearer ")
    response = client.post("/ui/login", data={"token": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/ui/flags"
    session_id = response.cookies[SESSION_COOKIE]
    client.cookies.clear()  # each request below names its cookie itself
    return session_id


def with_cookie(session_id: str) -> dict[str, str]:
    return {"Cookie": f"{SESSION_COOKIE}={session_id}"}


def assert_signed_out(client, session_id: str) -> None:
    page = client.get("/ui/flags", headers=with_cookie(session_id), follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/ui/login"
    as_json = client.get("/ui/flags", headers={**with_cookie(session_id), "Accept": "application/json"})
    assert as_json.status_code == 401
    assert client.get("/v1/flags", headers=with_cookie(session_id)).status_code == 401


def test_ui_session_cookie_holds_a_random_id_stored_only_as_its_digest(client, tokens):
    headers = tokens("supervisor")
    token = headers["Authorization"].removeprefix("Bearer ")
    response = client.post("/ui/login", data={"token": token}, follow_redirects=False)
    session_id = response.cookies[SESSION_COOKIE]
    set_cookie = response.headers["set-cookie"]
    assert token not in set_cookie and session_id != token and not session_id.startswith("cn_")
    assert "HttpOnly" in set_cookie and "SameSite=strict" in set_cookie
    assert f"Max-Age={8 * 3600}" in set_cookie
    client.cookies.clear()

    with client.app.state.services.sessions() as session:
        [stored] = session.scalars(select(UiSession)).all()
        token_pk = session.scalar(select(ApiToken.id).where(ApiToken.token_sha256 == token_digest(token)))
    assert stored.id == hashlib.sha256(session_id.encode()).hexdigest() and stored.token_pk == token_pk
    assert stored.revoked_at is None
    assert timedelta(hours=7.9) < stored.expires_at - stored.created_at <= timedelta(hours=8)

    assert client.get("/ui/flags", headers=with_cookie(session_id)).status_code == 200
    assert client.get("/v1/flags", headers=with_cookie(session_id)).status_code == 200
    # The token itself no longer works as a cookie: only a session id does.
    assert client.get("/v1/flags", headers=with_cookie(token)).status_code == 401
    assert client.get("/ui/flags", headers=with_cookie(token), follow_redirects=False).status_code == 303


def test_ui_session_sign_out_revokes_the_session_for_the_old_cookie(client, tokens):
    session_id = sign_in(client, tokens("analyst"))
    other_session = sign_in(client, tokens("analyst"))
    signed_out = client.post("/ui/logout", headers=with_cookie(session_id), data={"csrf_token": csrf_token(session_id)},
                             follow_redirects=False)
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/ui/login"
    assert f'{SESSION_COOKIE}=""' in signed_out.headers["set-cookie"]  # the browser drops it...
    assert_signed_out(client, session_id)                                # ...and a kept copy is refused
    assert client.get("/v1/flags", headers=with_cookie(other_session)).status_code == 200
    assert client.get("/v1/flags", headers=tokens("analyst")).status_code == 200  # the token lives on


def test_ui_session_sign_out_without_the_csrf_token_is_refused_and_signs_nobody_out(client, tokens):
    session_id = sign_in(client, tokens("supervisor"))
    assert client.post("/ui/logout", headers=with_cookie(session_id), follow_redirects=False).status_code == 403
    assert client.get("/v1/flags", headers=with_cookie(session_id)).status_code == 200


def test_ui_session_expired_is_refused(client, tokens):
    session_id = sign_in(client, tokens("supervisor"))
    with client.app.state.services.sessions.begin() as session:
        session.execute(update(UiSession).where(UiSession.id == token_digest(session_id))
                        .values(expires_at=utcnow() - timedelta(seconds=1)))
    assert_signed_out(client, session_id)


def test_ui_session_ends_when_its_token_is_revoked(client, tokens):
    headers = tokens("admin")
    session_id = sign_in(client, headers)
    assert client.get("/v1/audit", headers=with_cookie(session_id)).status_code == 200
    with client.app.state.services.sessions.begin() as session:
        session.execute(update(ApiToken).values(revoked=True)
                        .where(ApiToken.token_sha256 == token_digest(headers["Authorization"].removeprefix("Bearer "))))
    assert_signed_out(client, session_id)


def test_ui_session_length_comes_from_the_settings_and_old_sessions_are_cleared(settings, pipeline):
    from fastapi.testclient import TestClient

    from casenotes.service.app import create_app
    from casenotes.store.credentials import make_token

    with TestClient(create_app(settings.model_copy(update={"ui_session_hours": 0.5}), pipeline=pipeline)) as client:
        token = make_token(client.app.state.services.sessions, "analyst", None, "brief")
        headers = {"Authorization": f"Bearer {token}"}
        first = sign_in(client, headers)
        with client.app.state.services.sessions.begin() as session:
            session.execute(update(UiSession).values(expires_at=utcnow() - timedelta(days=1)))
        response = client.post("/ui/login", data={"token": token}, follow_redirects=False)
        assert "Max-Age=1800" in response.headers["set-cookie"]
        with client.app.state.services.sessions() as session:
            stored = session.scalars(select(UiSession.id)).all()
    assert stored == [token_digest(response.cookies[SESSION_COOKIE])] and token_digest(first) not in stored


@pytest.mark.parametrize("cookie", ["", "cns_", "cns_" + "x" * 43, "cn_" + "x" * 43, "cns_" + "x" * 300])
def test_ui_session_unknown_or_malformed_cookie_is_401(client, cookie):
    assert client.get("/v1/flags", headers=with_cookie(cookie)).status_code == 401
