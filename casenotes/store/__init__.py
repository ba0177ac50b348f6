"""Storage: the persistent client record behind the service (SQLAlchemy 2, Alembic)."""

from casenotes.store.db import make_engine, make_sessionmaker, migrate, sqlite_url

__all__ = ["make_engine", "make_sessionmaker", "migrate", "sqlite_url"]
