"""The schema check every command runs: a database at the head is left alone without Alembic."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect

import casenotes.store.db as db
from casenotes.store import make_engine, migrate, sqlite_url


def test_db_schema_revision_constant_is_alembics_head():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(Path(db.__file__).parent / "migrations"))
    assert ScriptDirectory.from_config(config).get_current_head() == db.SCHEMA_REVISION


def test_db_migrate_builds_a_fresh_database_then_leaves_it_alone(tmp_path, monkeypatch):
    engine = make_engine(sqlite_url(tmp_path / "fresh.db"))
    assert db.schema_revision(engine) is None
    migrate(engine)
    assert db.schema_revision(engine) == db.SCHEMA_REVISION
    assert {"client", "plan", "note"} <= set(inspect(engine).get_table_names())

    import alembic.command

    def refuse(*_args, **_kwargs):
        raise AssertionError("a database at the head must not be upgraded again")

    monkeypatch.setattr(alembic.command, "upgrade", refuse)
    migrate(engine)
