"""A migrated database with one client, on SQLite and on PostgreSQL (a fresh database each
time), for the workers that keep their work in the database."""

from __future__ import annotations

import pytest

from casenotes.store.db import make_engine, make_sessionmaker, migrate
from casenotes.store.repository import Repository


@pytest.fixture
def sessions(database_url):
    """Sessions on the migrated database, which holds client "client-1" of program "housing"."""
    engine = make_engine(database_url)
    migrate(engine)
    with make_sessionmaker(engine).begin() as session:
        Repository(session).put_client("client-1", "housing")
    yield make_sessionmaker(engine)
    engine.dispose()
