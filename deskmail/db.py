"""The database engine, sessions and migrations, for SQLite (embedded) and PostgreSQL (scale).

SQLite runs in WAL mode with `synchronous=FULL`, so a commit is on disk before SMTP answers
250; a busy timeout lets several threads and processes share the file. PostgreSQL uses its
durable defaults. `upgrade()` applies the Alembic migrations in `models/migrations`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

import models
from deskmail.write_gate import waiting_for_lock

MIGRATIONS = Path(models.__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: the WAL is synced at every commit, so an acknowledged mail survives power loss.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # Writers take the lock at BEGIN (IMMEDIATE): a deferred transaction that reads and then
    # writes fails with "database is locked" when another writer committed in between, and
    # busy_timeout does not cover that case. Read-only engines (`reader`) begin DEFERRED.
    mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    if mode == "IMMEDIATE":
        # Intake and the sender let the worker know they wait (deskmail.write_gate).
        with waiting_for_lock():
            conn.exec_driver_sql(f"BEGIN {mode}")
    else:
        conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine for `url` with Deskmail's connection settings applied."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool_size,
            max_overflow=pool_size,
        )
        # The driver's own transaction handling is turned off so that BEGIN IMMEDIATE works.
        event.listen(engine, "connect", _disable_pysqlite_transactions)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def _disable_pysqlite_transactions(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (no expire_on_commit)."""
    return sessionmaker(engine, expire_on_commit=False)


def reader(engine: Engine) -> Engine:
    """The same engine for read-only work: on SQLite it does not take the write lock."""
    return engine.execution_options(sqlite_begin="DEFERRED")


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


def alembic_config(engine: Engine) -> Config:
    """The Alembic configuration, built in code (no alembic.ini to ship)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the migrations up to `revision`."""
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415 - rarely needed

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_postgres(engine: Engine) -> bool:
    """True on PostgreSQL, where claiming uses FOR UPDATE SKIP LOCKED."""
    return engine.dialect.name == "postgresql"
