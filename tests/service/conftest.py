"""Fixtures for the service: an app on SQLite and on PostgreSQL (a fresh database each
time), sharing the session's real pipeline, and tokens for every role and program."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

POSTGRES_ADMIN_URL = os.environ.get("CASENOTES_TEST_POSTGRES", "postgresql+psycopg://root@127.0.0.1:5432/test")
PROGRAM_A = "Rapid Re-Housing"
PROGRAM_B = "Behavioral Health"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'casenotes.db'}"
        return
    yield from _fresh_postgres_database()


def _fresh_postgres_database():
    from sqlalchemy import create_engine, text

    name = f"casenotes_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def settings(database_url, tmp_path):
    from casenotes.service.settings import Settings

    return Settings(database_url=database_url, data_dir=tmp_path / "data", max_note_chars=20_000,
                    secure_cookies=False, _env_file=None)


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
