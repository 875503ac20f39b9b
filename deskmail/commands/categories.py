"""`deskmail categories ...`: the help desk's category tree from the command line.

List the tree with its descriptions, add, edit and remove (stop offering) a category, import and
export the tree as a TOML file. Every command calls the admin use cases of
`deskmail.categories` (the web UI calls the same ones); changes are audited as made by "cli".
The classify stage of every process sees a change within its reload interval: the zero-shot
model reads the descriptions, so a better description is a better cold-start classifier.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.table import Table

from deskmail.commands.base import (
    CliState,
    console,
    err_console,
    opened_app,
    pass_state,
    print_json,
)
from models.errors import DeskmailError

ACTOR = "cli"


def _fail(exc: Exception) -> None:
    err_console.print(f"[red]error:[/] {exc}", highlight=False)
    sys.exit(1)


@click.group()
def categories() -> None:
    """The category tree tickets are classified into."""


@categories.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include categories no longer offered.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def categories_list(state: CliState, show_all: bool, as_json: bool) -> None:
    """The tree in display order, with descriptions (seeded with the default on first use)."""
    from deskmail.categories import ensure_categories, list_categories  # noqa: PLC0415

    with opened_app(state) as app:
        settings = app.settings.classifier
        if settings.seed_default_categories:
            with app.sessions() as session, session.begin():
                ensure_categories(session, settings.categories_file)
        with app.read_sessions() as session:
            rows = list_categories(session)
            keys = {row.id: row.key for row in rows}
            # A subcategory of a category no longer offered is not offered either.
            offered = {row.id for row in rows if row.active and row.parent_id is None}
            offered |= {row.id for row in rows if row.active and row.parent_id in offered}
            data = [
                {
                    "key": row.key,
                    "name": row.name,
                    "description": row.description,
                    "parent": keys.get(row.parent_id) if row.parent_id else None,
                    "active": row.id in offered,
                }
                for row in rows
                if row.id in offered or show_all
            ]
    if as_json:
        print_json(data)
        return
    table = Table()
    table.add_column("key", no_wrap=True)
    table.add_column("name")
    table.add_column("description")
    if show_all:
        table.add_column("active")
    for item in data:
        indent = "  " if item["parent"] else ""
        cells = [f"{indent}{item['key']}", str(item["name"]), str(item["description"])]
        if show_all:
            cells.append("yes" if item["active"] else "no")
        table.add_row(*cells)
    console.print(table)


@categories.command("add")
@click.argument("key")
@click.option("--name", required=True, help="The name agents and requesters see.")
@click.option(
    "--description", default="", help="What belongs here, in employees' words (zero-shot reads it)."
)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def categories_add(state: CliState, key: str, name: str, description: str, as_json: bool) -> None:
    """Add a category; a key "parent/sub" adds a subcategory of "parent"."""
    from deskmail.categories import create_category  # noqa: PLC0415

    with opened_app(state) as app:
        try:
            with app.sessions() as session, session.begin():
                row = create_category(session, key, name=name, description=description, actor=ACTOR)
                created = {"key": row.key, "name": row.name, "description": row.description}
        except DeskmailError as exc:
            _fail(exc)
            return
    if as_json:
        print_json(created)
        return
    console.print(f"added {created['key']}", highlight=False)


@categories.command("edit")
@click.argument("key")
@click.option("--name", default=None)
@click.option("--description", default=None)
@click.option("--position", type=int, default=None, help="Order among its siblings.")
@click.option("--active/--inactive", "active", default=None, help="Offer it again, or stop.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def categories_edit(
    state: CliState,
    *,
    key: str,
    name: str | None,
    description: str | None,
    position: int | None,
    active: bool | None,
    as_json: bool,
) -> None:
    """Change a category's name, description, order or whether it is offered (keys never change)."""
    from deskmail.categories import update_category  # noqa: PLC0415

    with opened_app(state) as app:
        try:
            with app.sessions() as session, session.begin():
                row = update_category(
                    session,
                    key,
                    actor=ACTOR,
                    name=name,
                    description=description,
                    active=active,
                    position=position,
                )
                changed = {
                    "key": row.key,
                    "name": row.name,
                    "description": row.description,
                    "active": row.active,
                }
        except DeskmailError as exc:
            _fail(exc)
            return
    if as_json:
        print_json(changed)
        return
    console.print(f"changed {changed['key']}", highlight=False)


@categories.command("remove")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def categories_remove(state: CliState, key: str, as_json: bool) -> None:
    """Stop offering a category and its subcategories.

    The row is kept, not deleted: old tickets, articles and trained models refer to its key,
    and `categories edit KEY --active` brings it back.
    """
    from deskmail.categories import deactivate_category  # noqa: PLC0415

    with opened_app(state) as app:
        try:
            with app.sessions() as session, session.begin():
                row = deactivate_category(session, key, actor=ACTOR)
                removed = {"key": row.key, "active": row.active}
        except DeskmailError as exc:
            _fail(exc)
            return
    if as_json:
        print_json(removed)
        return
    console.print(f"removed {removed['key']} (kept for old tickets)", highlight=False)


@categories.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--deactivate-missing", is_flag=True, help="Stop offering categories the file does not list."
)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def categories_import(state: CliState, path: Path, deactivate_missing: bool, as_json: bool) -> None:
    """Create and update categories from a TOML tree file (matched by key)."""
    from deskmail.categories import import_tree, read_tree_file  # noqa: PLC0415

    with opened_app(state) as app:
        try:
            text = read_tree_file(path)
            with app.sessions() as session, session.begin():
                report = import_tree(
                    session, text, actor=ACTOR, deactivate_missing=deactivate_missing
                )
        except DeskmailError as exc:
            _fail(exc)
            return
    if as_json:
        print_json(report.as_json())
        return
    console.print(
        f"{len(report.created)} created, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged, {len(report.deactivated)} deactivated",
        highlight=False,
    )


@categories.command("export")
@click.option("--active-only", is_flag=True)
@pass_state
def categories_export(state: CliState, active_only: bool) -> None:
    """Print the tree as a TOML file that `categories import` reads back."""
    from deskmail.categories import export_tree  # noqa: PLC0415

    with opened_app(state) as app, app.read_sessions() as session:
        text = export_tree(session, include_inactive=not active_only)
    click.echo(text, nl=False)
