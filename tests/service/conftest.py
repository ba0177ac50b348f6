"""Fixtures for the service: an app on SQLite and on PostgreSQL (a fresh database each
time), sharing the session's real pipeline, and tokens for every role and program.

A module whose tests need no real reading overrides `pipeline` with the fake one, and its
app is built on that instead (tests/conftest.py leaves such tests out of the `model` tier):

    @pytest.fixture
    def pipeline(fake_pipeline):
        return fake_pipeline
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from tests.conftest import PROGRAM_A, PROGRAM_B


@pytest.fixture
def settings(database_url, tmp_path):
    from casenotes.service.settings import Settings

    # No scoring workers or webhook sender: only the tests of accepting now and scoring next need
    # them (and ask). Their threads would also import lazily beside pytest's assertion rewriting,
    # which CPython 3.11 cannot parse in two threads at once ("AST constructor recursion depth").
    return Settings(database_url=database_url, data_dir=tmp_path / "data", max_note_chars=20_000,
                    secure_cookies=False, scoring_workers=0, send_webhooks=False, _env_file=None)


@pytest.fixture
def app(settings, pipeline):
    from casenotes.service.app import create_app

    return create_app(settings, pipeline=pipeline)


@pytest.fixture
def client(app):
    with TestClient(app) as test_client:
        yield test_client


@dataclass
class Tokens:
    """Headers for each role, unscoped and scoped to program A or B."""

    by_key: dict[tuple[str, str | None], str]

    def __call__(self, role: str, program: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.by_key[(role, program)]}"}


@pytest.fixture
def tokens(client) -> Tokens:
    from casenotes.store.credentials import make_token

    sessions = client.app.state.services.sessions
    return Tokens({(role, program): make_token(sessions, role, program, f"{role}-{program or 'all'}")
                   for role in ("ingest", "supervisor", "analyst", "admin")
                   for program in (None, PROGRAM_A, PROGRAM_B)})
