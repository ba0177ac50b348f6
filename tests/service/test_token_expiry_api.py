"""Tokens that end, as the API and the review UI see them (SQLite and PostgreSQL): an expired
token is refused like a revoked one, its UI sessions end with it, and `casenotes token revoke`
(`revoke_token`) cuts off both at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from casenotes.service.auth import SESSION_COOKIE
from casenotes.store.credentials import make_token, parse_lifetime, revoke_token, token_digest
from casenotes.store.tables import ApiToken, utcnow


@pytest.fixture
def pipeline(fake_pipeline):
    """No test here reads a note: the fake pipeline, no real model."""
    return fake_pipeline


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sign_in(client, token: str) -> dict[str, str]:
    response = client.post("/ui/login", data={"token": token}, follow_redirects=False)
    assert response.status_code == 303
    session_id = response.cookies[SESSION_COOKIE]
    client.cookies.clear()
    return {"Cookie": f"{SESSION_COOKIE}={session_id}"}


def expire(client, token: str) -> None:
    with client.app.state.services.sessions.begin() as session:
        session.execute(update(ApiToken).where(ApiToken.token_sha256 == token_digest(token))
                        .values(expires_at=utcnow() - timedelta(seconds=1)))


def test_token_expiry_api_refuses_an_expired_token_and_ends_its_ui_session(client):
    sessions = client.app.state.services.sessions
    token = make_token(sessions, "supervisor", None, "temp", parse_lifetime("1h"))
    cookie = sign_in(client, token)
    assert client.get("/v1/flags", headers=bearer(token)).status_code == 200
    assert client.get("/v1/flags", headers=cookie).status_code == 200

    expire(client, token)
    refused = client.get("/v1/flags", headers=bearer(token))
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
    assert client.get("/v1/flags", headers=cookie).status_code == 401
    login = client.post("/ui/login", data={"token": token}, follow_redirects=False)
    assert login.status_code == 401 and "not valid" in login.text


def test_token_expiry_api_revoke_cuts_off_the_token_and_its_ui_sessions_at_once(client, tokens):
    sessions = client.app.state.services.sessions
    token = make_token(sessions, "admin", None, "ops", parse_lifetime("30d"))
    cookie = sign_in(client, token)
    assert client.get("/v1/audit", headers=cookie).status_code == 200
    with sessions() as session:
        token_pk = session.scalar(select(ApiToken.id).where(ApiToken.token_sha256 == token_digest(token)))
    revoke_token(sessions, token_pk)
    assert client.get("/v1/audit", headers=bearer(token)).status_code == 401
    assert client.get("/v1/audit", headers=cookie).status_code == 401
    assert client.get("/v1/audit", headers=tokens("admin")).status_code == 200  # other tokens are untouched
