"""The `deskmail` command: the operator's and scripts' interface to every use case.

The group builds the settings once (options > environment > TOML file) and each command opens
the application it needs. Commands print tables for people and JSON (`--json`) for scripts;
the JSON shapes are the product's public surface (README.md). Only the CLI exits the process
with a status code. Subcommands live in `deskmail.commands`, one module per group.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from deskmail.commands import (
    db,
    demo,
    inbound,
    kb,
    outbox,
    reports,
    scheduler,
    serve,
    tickets,
    users,
    web,
)
from deskmail.commands.base import CliState, err_console
from deskmail.commands.categories import categories
from deskmail.commands.classifier import classifier
from models.errors import DeskmailError


@click.group()
@click.option(
    "--config", "config_file", type=click.Path(path_type=Path), help="TOML settings file."
)
@click.option("--data", "data_dir", type=click.Path(path_type=Path), help="Data folder.")
@click.option("-v", "--verbose", is_flag=True, help="Log at DEBUG level.")
@click.version_option(package_name="deskmail")
@click.pass_context
def cli(ctx: click.Context, config_file: Path | None, data_dir: Path | None, verbose: bool) -> None:
    """Deskmail: an email-driven IT help desk."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Alembic announces each of its plugins at INFO; only its warnings help an operator.
    logging.getLogger("alembic").setLevel(logging.DEBUG if verbose else logging.WARNING)
    ctx.obj = CliState(config_file, data_dir)


cli.add_command(db.db)
cli.add_command(inbound.inject)
cli.add_command(inbound.inbound)
cli.add_command(tickets.tickets)
cli.add_command(kb.kb)
cli.add_command(classifier)
cli.add_command(categories)
cli.add_command(serve.serve)
cli.add_command(serve.smtp)
cli.add_command(serve.worker)
cli.add_command(outbox.outbox)
cli.add_command(outbox.sender)
cli.add_command(scheduler.scheduler)
cli.add_command(reports.reports)
cli.add_command(demo.demo)
cli.add_command(users.users)
cli.add_command(web.web)


def main() -> None:
    """Entry point: run the CLI, turning Deskmail's own errors into a clear message."""
    from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415 - only on the error path

    try:
        cli(standalone_mode=True)
    except DeskmailError as exc:
        err_console.print(f"[red]error:[/] {exc}", highlight=False)
        sys.exit(2)
    except SQLAlchemyError as exc:
        # The most common cause by far: a schema older than the code.
        first_line = str(exc).splitlines()[0]
        err_console.print(
            f"[red]database error:[/] {first_line}\n"
            "Is the schema up to date? Run `deskmail db upgrade`.",
            highlight=False,
        )
        sys.exit(2)
