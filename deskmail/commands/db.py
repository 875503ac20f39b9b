"""`deskmail db ...`: the database schema."""

from __future__ import annotations

import click

from deskmail.commands.base import CliState, console, opened_app, pass_state


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@pass_state
def db_upgrade(state: CliState, revision: str) -> None:
    """Apply the schema migrations."""
    from deskmail.db import current_revision, upgrade  # noqa: PLC0415

    with opened_app(state) as app:
        upgrade(app.engine, revision)
        console.print(f"database at revision {current_revision(app.engine)}")


@db.command("current")
@pass_state
def db_current(state: CliState) -> None:
    """Print the schema revision of the database."""
    from deskmail.db import current_revision  # noqa: PLC0415

    with opened_app(state) as app:
        click.echo(current_revision(app.engine) or "(empty)")
