"""Alembic environment: runs migrations on the connection `deskmail.db` hands over.

`deskmail db upgrade` builds the Alembic config in code and passes an open connection in
`config.attributes["connection"]`, so the same engine settings (SQLite pragmas) apply.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

import models

config = context.config
target_metadata = models.Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate through the given connection, or one opened from the configured URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        _run(conn)


run_migrations_online()
