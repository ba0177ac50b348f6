"""Shared by every tier (unit, model and tests/system): the real pipeline (loaded once per
session) and the fake one, the labeled splits, and a fresh PostgreSQL database."""

from __future__ import annotations

import atexit
import functools
import importlib.util
import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "eval" / "data"
EVAL_CHECK = REPO.parent / "shared" / "tools" / "eval_check.py"
POSTGRES_ADMIN_URL = os.environ.get("CASENOTES_TEST_POSTGRES", "postgresql+psycopg://root@127.0.0.1:5432/test")
PROGRAM_A = "Rapid Re-Housing"
PROGRAM_B = "Behavioral Health"


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def pytest_configure(config):
    """Under `make test-fast` (CASENOTES_NO_MODEL=1) loading the packaged model is an error,
    so a test that needs it and is not marked `model` or `slow` fails loudly instead of
    slowing the inner loop."""
    if os.environ.get("CASENOTES_NO_MODEL") == "1":
        import casenotes.embed.encoder

        def refuse() -> str:
            raise RuntimeError("this run loads no real model (make test-fast): mark the test `model`")

        casenotes.embed.encoder._packaged_model_path = refuse


def pytest_collection_modifyitems(items):
    """A test that reads with the real pipeline is marked `model`: `make test-fast` leaves
    those out, with the `slow` and `system` ones. A module whose tests need no real reading
    overrides `pipeline` with `fake_pipeline` (see tests/service/test_note_text.py); its tests
    then hold both names and are not marked. (Under `make test-fast` a test that loads the real
    model all the same fails loudly: see pytest_configure.)"""
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "pipeline" in names and "fake_pipeline" not in names:
            item.add_marker(pytest.mark.model)


@pytest.fixture(scope="session")
def pipeline():
    from casenotes.pipeline import Pipeline

    return Pipeline.load()


@pytest.fixture(scope="session")
def eval_check():
    """The project-wide scorer in ../shared/tools, imported from its file."""
    if not EVAL_CHECK.exists():
        pytest.skip(f"{EVAL_CHECK} is not beside this checkout")
    spec = importlib.util.spec_from_file_location("eval_check", EVAL_CHECK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def test_split() -> list[dict]:
    return read_jsonl(DATA / "test.jsonl")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A migrated database, on SQLite and on PostgreSQL (a copy of a template: quicker than migrating each time)."""
    if request.param == "sqlite":
        yield fresh_sqlite_database(tmp_path)
        return
    yield from fresh_postgres_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request, tmp_path):
    """A database no migration has touched, for tests of the migrations."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'casenotes.db'}"
        return
    yield from fresh_postgres_database(migrated=False)


def fresh_postgres_database(migrated: bool = True):
    """A generator: yields the URL of a new database on the test server, then drops it (with
    FORCE, so connections left open do not keep it) when resumed or closed. A migrated one is a
    copy of a template migrated once per test run (copying is far quicker than migrating);
    `migrated=False` gives an empty one, for tests of the migrations themselves."""
    from sqlalchemy import create_engine, text

    name = f"casenotes_test_{uuid.uuid4().hex[:12]}"
    template = f' TEMPLATE "{_migrated_template()}"' if migrated else ""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"{template}'))
    try:
        yield _database_url(name)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def fresh_sqlite_database(folder: Path) -> str:
    """The URL of a new SQLite database in `folder`, a copy of one migrated once per test run."""
    target = folder / "casenotes.db"
    shutil.copyfile(_migrated_sqlite_template(), target)
    return f"sqlite:///{target}"


@functools.cache
def _migrated_sqlite_template() -> Path:
    from casenotes.store import make_engine, migrate

    path = Path(tempfile.mkdtemp(prefix="casenotes-template-")) / "casenotes.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    connection = engine.raw_connection()
    try:  # everything in the one file, nothing left in the write-ahead log
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    engine.dispose()
    atexit.register(shutil.rmtree, path.parent, True)
    return path


def _database_url(name: str) -> str:
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


@functools.cache
def _migrated_template() -> str:
    """A database at the newest schema, made on first use and dropped when the run ends."""
    from sqlalchemy import create_engine, text

    from casenotes.store import make_engine, migrate

    name = f"casenotes_template_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(_database_url(name))
    migrate(engine)
    engine.dispose()  # a template takes no connections while it is copied

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    atexit.register(drop)
    return name


def segments_in(text: str, pieces: list[tuple[str, str]]) -> list:
    """Segments of `text` at each (piece, section) in turn, with exact offsets: synthetic
    evidence for tests of decisions that need no segmenter."""
    from casenotes.schema import Segment

    out, cursor = [], 0
    for piece, section in pieces:
        start = text.index(piece, cursor)
        out.append(Segment(start=start, end=start + len(piece), text=piece, section=section))
        cursor = start + len(piece)
    return out


@pytest.fixture(scope="session")
def fake_pipeline():
    """The packaged rubric and heads on the fake word-hash encoder, without the goal reader:
    for tests of storage, offsets and access that must not load the real model. Its readings
    mean nothing; no test of reading quality may use it."""
    from casenotes.embed.fake import FakeEncoder
    from casenotes.pipeline import Pipeline
    from casenotes.reading.model import load_model
    from casenotes.rubric import load_rubric

    return Pipeline(encoder=FakeEncoder(), rubric=load_rubric("self-sufficiency"), model=load_model(None),
                    goal_reader=None)
