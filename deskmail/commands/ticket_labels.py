"""`deskmail tickets import` and `deskmail tickets classify`: the classifier's labelled tickets.

`import` loads a help desk's history from a CSV export as training examples (columns mapped by
options, values translated by `--category-value RAW=KEY` and the like; re-importing adds
nothing twice), `classify` is an agent's correction of a ticket's labels, stored as a training
example naming who made it. Both call the use cases of `deskmail.training_data` and
`deskmail.classification`; `deskmail.commands.tickets` registers them in its group.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
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
# A priority read as the urgency (`--priority-column`): its nearest level in the matrix's
# urgency row; `--urgency-value` overrides any of these.
PRIORITY_AS_URGENCY = {"P1": "critical", "P2": "high", "P3": "medium", "P4": "low"}


def _fail(exc: Exception | str) -> None:
    err_console.print(f"[red]error:[/] {exc}", highlight=False)
    sys.exit(1)


def _pairs(values: Sequence[str], option: str) -> dict[str, str]:
    """`RAW=VALUE` options as a mapping (the raw side may contain "=" only before the last)."""
    found: dict[str, str] = {}
    for value in values:
        raw, sep, mapped = value.rpartition("=")
        if not sep or not raw.strip() or not mapped.strip():
            raise click.BadParameter(f"expected RAW=VALUE, got {value!r}", param_hint=option)
        found[raw.strip()] = mapped.strip()
    return found


def _columns(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@click.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--text-columns",
    required=True,
    help="Column(s) holding the ticket text, comma-separated (e.g. subject,body).",
)
@click.option("--category-column", default=None)
@click.option("--subcategory-column", default=None)
@click.option("--impact-column", default=None)
@click.option("--urgency-column", default=None)
@click.option(
    "--priority-column",
    default=None,
    help="A priority column (P1-P4, high/low...) read as the urgency when there is no "
    "urgency column: priority is urgency and impact combined, urgency is its nearest label.",
)
@click.option("--category-value", multiple=True, help="RAW=KEY: translate a category value.")
@click.option("--subcategory-value", multiple=True, help="RAW=KEY: translate a subcategory value.")
@click.option("--impact-value", multiple=True, help="RAW=LEVEL: translate an impact value.")
@click.option("--urgency-value", multiple=True, help="RAW=LEVEL: translate an urgency value.")
@click.option("--where", multiple=True, help="COLUMN=VALUE: import only the rows that match.")
@click.option("--delimiter", default=None, help="The field delimiter (default: detected).")
@click.option("--encoding", default="utf-8-sig", show_default=True)
@click.option(
    "--create-categories",
    is_flag=True,
    help="Add the category column's values that the tree lacks as new categories.",
)
@click.option("--dry-run", is_flag=True, help="Read and report, store nothing.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def tickets_import(
    state: CliState,
    *,
    path: Path,
    text_columns: str,
    category_column: str | None,
    subcategory_column: str | None,
    impact_column: str | None,
    urgency_column: str | None,
    priority_column: str | None,
    category_value: tuple[str, ...],
    subcategory_value: tuple[str, ...],
    impact_value: tuple[str, ...],
    urgency_value: tuple[str, ...],
    where: tuple[str, ...],
    delimiter: str | None,
    encoding: str,
    create_categories: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Import labelled historical tickets from a CSV file (plain or gzip) as training examples.

    They never become tickets in the queue; `deskmail classifier train` learns from them.
    """
    from classifier import CsvMapping  # noqa: PLC0415
    from deskmail.training_data import create_missing_categories, import_csv  # noqa: PLC0415

    if priority_column and urgency_column:
        raise click.UsageError("give --urgency-column or --priority-column, not both")
    columns = _columns(text_columns)
    if not columns:
        raise click.BadParameter("at least one column", param_hint="--text-columns")
    mapping = CsvMapping(
        text_columns=columns,
        category_column=category_column,
        subcategory_column=subcategory_column,
        impact_column=impact_column,
        urgency_column=urgency_column or priority_column,
        category_values=_pairs(category_value, "--category-value"),
        subcategory_values=_pairs(subcategory_value, "--subcategory-value"),
        impact_values=_pairs(impact_value, "--impact-value"),
        urgency_values=(PRIORITY_AS_URGENCY if priority_column else {})
        | _pairs(urgency_value, "--urgency-value"),
        where=_pairs(where, "--where"),
        delimiter=delimiter,
        encoding=encoding,
    )
    created: list[str] = []
    with opened_app(state) as app:
        try:
            if create_categories and not dry_run:
                created = create_missing_categories(app, path, mapping, actor=ACTOR)
            report = import_csv(app, path, mapping, actor=ACTOR, dry_run=dry_run)
        except DeskmailError as exc:
            _fail(exc)
            return
    if as_json:
        print_json({**report.as_json(), "created_categories": created})
        return
    if created:
        console.print(f"categories added: {', '.join(created)}", highlight=False)
    console.print(
        f"{report.rows} rows: {report.imported} imported"
        f"{' (dry run, nothing stored)' if dry_run else ''}, {report.duplicates} already "
        f"there, {report.skipped} skipped, {report.filtered} filtered out, "
        f"{report.partial} imported without some labels",
        highlight=False,
    )
    if report.problem_counts:
        table = Table("problem", "rows")
        for problem, count in report.problem_counts.most_common(20):
            table.add_row(problem, str(count))
        console.print(table)


@click.command("classify")
@click.argument("number", type=int)
@click.option("--category", default=None, help="A category key or name.")
@click.option("--subcategory", default=None, help="A subcategory key or name.")
@click.option("--impact", default=None, help="individual, team, site or organisation.")
@click.option("--urgency", default=None, help="low, medium, high or critical.")
@click.option("--priority", default=None, help="P1-P4 (default: from impact and urgency).")
@click.option(
    "--by", "by", default=ACTOR, show_default=True, help="Who makes the correction (e-mail)."
)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def tickets_classify(
    state: CliState,
    *,
    number: int,
    category: str | None,
    subcategory: str | None,
    impact: str | None,
    urgency: str | None,
    priority: str | None,
    by: str,
    as_json: bool,
) -> None:
    """Set or correct a ticket's labels; what is set becomes a training example."""
    from deskmail.classification import (  # noqa: PLC0415
        classification_view,
        correct_classification,
    )
    from deskmail.ticket_actions import Actor  # noqa: PLC0415

    with opened_app(state) as app:
        try:
            with app.sessions() as session, session.begin():
                row = correct_classification(
                    session,
                    number,
                    actor=Actor(by.strip()[:320] or ACTOR),
                    settings=app.settings.classifier,
                    category=category,
                    subcategory=subcategory,
                    impact=impact,
                    urgency=urgency,
                    priority=priority,
                )
                view = classification_view(row)
        except DeskmailError as exc:
            _fail(exc)
            return
    if as_json:
        print_json(view)
        return
    console.print(
        f"#{number}: {view['subcategory'] or view['category'] or '-'} · impact "
        f"{view['impact']} · urgency {view['urgency']} · {view['priority']}",
        highlight=False,
    )
