"""Real databases for tests: a migrated SQLite file and a migrated PostgreSQL database.

Each test session migrates once: SQLite into a template file that every test copies, and
PostgreSQL into a database of its own (named per process, so parallel runs never share one),
which is emptied between tests. `DESKMAIL_TEST_PG_URL` points at another server if needed.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

from deskmail.db import make_engine, upgrade

PG_ADMIN_URL = os.environ.get(
    "DESKMAIL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def migrated_sqlite_template(folder: Path) -> Path:
    """A SQLite file with the whole schema, to copy per test."""
    path = folder / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    # Closing the last connection checkpoints the WAL into the main file and removes it.
    engine.dispose()
    if Path(f"{path}-wal").exists():
        raise RuntimeError("SQLite template still has a WAL file after closing")
    return path


def sqlite_copy(template: Path, folder: Path) -> str:
    """A fresh database for one test, copied from the template."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "deskmail.db"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, migrated PostgreSQL database for this test session, dropped afterwards."""
    name = f"deskmail_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def empty_postgres(url: str) -> None:
    """Delete every row (keeping the schema) so the next test starts clean."""
    engine = create_engine(url)
    with engine.begin() as connection:
        tables = [
            row[0]
            for row in connection.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'alembic_version'"
                )
            )
        ]
        if tables:
            quoted = ", ".join(f'"{t}"' for t in tables)
            connection.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
    engine.dispose()
