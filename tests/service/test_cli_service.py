"""The operator's commands: tokens printed once and stored hashed, the demo, the index, exports."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from casenotes.cli.main import app
from casenotes.service.admin import DEMO_PATH

runner = CliRunner()


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("CASENOTES_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CASENOTES_DATABASE_URL", raising=False)
    return tmp_path / "data"


def test_cli_token_create_prints_only_the_token_and_stores_its_hash(env):
    result = runner.invoke(app, ["token", "create", "--role", "supervisor", "--program", "Child Welfare"])
    assert result.exit_code == 0
    token = result.stdout.strip()
    assert result.stdout == token + "\n" and token.startswith("cn_") and len(token) > 40
    with create_engine(f"sqlite:///{env / 'casenotes.db'}").connect() as connection:
        rows = connection.execute(text("SELECT token_sha256, role, program FROM api_token")).all()
    assert len(rows) == 1 and rows[0][1:] == ("supervisor", "Child Welfare")
    assert token not in rows[0][0]


def test_cli_token_create_refuses_an_unknown_role(env):
    result = runner.invoke(app, ["token", "create", "--role", "root"])
    assert result.exit_code == 2 and "role must be one of" in result.output


@pytest.mark.slow
def test_cli_demo_loads_once_and_the_index_rebuilds(env, tmp_path):
    rows = [json.loads(line) for line in open(DEMO_PATH, encoding="utf-8")][:3]
    small = tmp_path / "small.jsonl"
    small.write_text("".join(json.dumps(r) + "\n" for r in rows))
    first = runner.invoke(app, ["demo", "--file", str(small)])
    assert first.exit_code == 0 and "3 notes scored and stored, 0 already there" in first.output
    again = runner.invoke(app, ["demo", "--file", str(small)])
    assert "0 notes scored and stored, 3 already there" in again.output
    rebuilt = runner.invoke(app, ["index", "rebuild"])
    assert rebuilt.exit_code == 0
    with create_engine(f"sqlite:///{env / 'casenotes.db'}").connect() as connection:
        segments = connection.execute(text("SELECT count(*) FROM segment")).scalar()
    assert f"search index rebuilt: {segments} segments" in rebuilt.output and segments > 3
    exported = runner.invoke(app, ["export-labels", "--out", str(tmp_path / "labels.jsonl")])
    assert exported.exit_code == 0 and "wrote 0 labeled notes" in exported.output
