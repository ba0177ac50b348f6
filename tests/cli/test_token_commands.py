"""`casenotes token create|list|revoke|ensure` as an operator types them: lifetimes, a table of
states that never shows a secret, revocation that ends access, a kept token reused, and bad input
answered with a message, never a traceback."""

from __future__ import annotations

import stat

import pytest
from typer.testing import CliRunner

from casenotes.cli.main import app
from casenotes.store import make_engine, make_sessionmaker
from casenotes.store.credentials import principal_for, token_digest

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CASENOTES_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CASENOTES_DATABASE_URL", raising=False)
    return tmp_path / "data"


def works(data_dir, token: str) -> bool:
    engine = make_engine(f"sqlite:///{data_dir / 'casenotes.db'}")
    try:
        with make_sessionmaker(engine)() as session:
            return principal_for(session, token) is not None
    finally:
        engine.dispose()


def create(*options: str) -> str:
    result = runner.invoke(app, ["token", "create", *options])
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def table(data_dir) -> list[list[str]]:
    """The rows of `token list`, split on its column gaps, header first."""
    result = runner.invoke(app, ["token", "list"])
    assert result.exit_code == 0, result.output
    return [[cell.strip() for cell in line.split("  ") if cell.strip()] for line in result.stdout.splitlines()]


def test_token_list_shows_each_state_and_when_it_expires_but_no_secret(data_dir):
    admin = create("--role", "admin", "--name", "ops", "--expires-in", "30d")
    analyst = create("--role", "analyst", "--name", "a-1", "--program", "Rapid Re-Housing")
    assert runner.invoke(app, ["token", "revoke", "2"]).exit_code == 0
    rows = table(data_dir)
    assert rows[0] == ["id", "name", "role", "program", "created (UTC)", "expires (UTC)", "state"]
    assert [(r[0], r[1], r[2], r[3], r[-1]) for r in rows[1:]] == [
        ("1", "ops", "admin", "all", "active"), ("2", "a-1", "analyst", "Rapid Re-Housing", "revoked")]
    assert rows[1][5] > rows[1][4] and rows[2][5] == "never"  # a 30-day token expires after it was made
    output = runner.invoke(app, ["token", "list"]).output
    for token in (admin, analyst):
        assert token not in output and token_digest(token) not in output


def test_token_list_shows_an_expired_token_as_expired(data_dir):
    from datetime import timedelta

    from sqlalchemy import update

    from casenotes.store.tables import ApiToken, utcnow

    token = create("--role", "ingest", "--name", "cms", "--expires-in", "12h")
    engine = make_engine(f"sqlite:///{data_dir / 'casenotes.db'}")
    with make_sessionmaker(engine).begin() as session:
        session.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(minutes=1)))
    engine.dispose()
    assert table(data_dir)[1][-1] == "expired" and not works(data_dir, token)


def test_token_list_with_no_tokens_says_how_to_make_one(data_dir):
    result = runner.invoke(app, ["token", "list"])
    assert result.exit_code == 0 and "casenotes token create" in result.output


@pytest.mark.parametrize("value", ["30", "1y", "0d", "soon", "-2h"])
def test_token_create_refuses_a_bad_lifetime_naming_the_option(data_dir, value):
    result = runner.invoke(app, ["token", "create", "--role", "admin", "--expires-in", value])
    assert result.exit_code == 2 and "--expires-in" in result.output and "12h" in result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, Exception)
    assert table(data_dir)[1:] == []  # no token was made


def test_token_revoke_ends_access(data_dir):
    token = create("--role", "supervisor")
    assert works(data_dir, token)
    result = runner.invoke(app, ["token", "revoke", "1"])
    assert result.exit_code == 0 and "token 1 revoked" in result.output
    assert not works(data_dir, token)


def test_token_revoke_of_an_unknown_id_or_twice_is_a_message(data_dir):
    create("--role", "analyst")
    unknown = runner.invoke(app, ["token", "revoke", "42"])
    assert unknown.exit_code == 2 and "no token with id 42" in unknown.output and "Traceback" not in unknown.output
    assert runner.invoke(app, ["token", "revoke", "1"]).exit_code == 0
    again = runner.invoke(app, ["token", "revoke", "1"])
    assert again.exit_code == 2 and "token 1 is already revoked" in again.output
    not_a_number = runner.invoke(app, ["token", "revoke", "first"])
    assert not_a_number.exit_code == 2 and "ID" in not_a_number.output


def test_token_ensure_reuses_a_working_token_and_replaces_a_revoked_one(data_dir):
    path = data_dir / "admin-token"
    arguments = ["token", "ensure", "--role", "admin", "--name", "make-run", "--file", str(path)]
    first = runner.invoke(app, arguments)
    assert first.exit_code == 0 and "made a new admin token" in first.output
    token = first.stdout.strip()
    assert first.stdout == token + "\n" and path.read_text() == token + "\n" and works(data_dir, token)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    second = runner.invoke(app, arguments)
    assert second.stdout == token + "\n" and "reusing" in second.output
    assert len(table(data_dir)) == 2  # the header and the one token: nothing minted again

    assert runner.invoke(app, ["token", "revoke", "1"]).exit_code == 0
    third = runner.invoke(app, arguments)
    renewed = third.stdout.strip()
    assert third.exit_code == 0 and renewed != token and works(data_dir, renewed)
    assert path.read_text() == renewed + "\n" and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_token_ensure_refuses_a_bad_lifetime_and_writes_nothing(data_dir):
    path = data_dir / "admin-token"
    result = runner.invoke(app, ["token", "ensure", "--role", "admin", "--file", str(path), "--expires-in", "forever"])
    assert result.exit_code == 2 and "--expires-in" in result.output and not path.exists()
