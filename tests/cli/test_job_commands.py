"""`casenotes worker` and `casenotes jobs`: clear messages on bad input, and nothing stored lost."""

import pytest
from typer.testing import CliRunner

from casenotes.cli.main import app

runner = CliRunner()


@pytest.fixture
def sqlite_home(tmp_path, monkeypatch):
    monkeypatch.delenv("CASENOTES_DATABASE_URL", raising=False)
    monkeypatch.setenv("CASENOTES_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


@pytest.mark.parametrize("command", ["worker", "jobs list", "jobs retry"])
def test_job_commands_have_help(command):
    result = runner.invoke(app, [*command.split(), "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_worker_on_sqlite_says_the_service_scores_there(sqlite_home):
    result = runner.invoke(app, ["worker"])
    assert result.exit_code == 2 and "needs PostgreSQL" in result.output


def test_jobs_list_names_the_states_it_knows(sqlite_home):
    result = runner.invoke(app, ["jobs", "list", "--state", "bogus"])
    assert result.exit_code == 2 and "failed or pending" in result.output


def test_jobs_retry_asks_for_notes_and_names_one_it_cannot_find(sqlite_home):
    assert runner.invoke(app, ["jobs", "retry"]).exit_code == 2
    assert runner.invoke(app, ["jobs", "list"]).exit_code == 0  # an empty queue lists nothing, without error
    missing = runner.invoke(app, ["jobs", "retry", "N-none"])
    assert missing.exit_code != 0 and "N-none" in missing.output and "Traceback" not in missing.output
