"""`deskmail tickets ...`: listing and showing tickets."""

from __future__ import annotations

import sys

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
from deskmail.commands.ticket_labels import tickets_classify, tickets_import


@click.group()
def tickets() -> None:
    """Tickets."""


# The classifier's labelled tickets: history from CSV, agents' corrections.
tickets.add_command(tickets_import)
tickets.add_command(tickets_classify)


@tickets.command("list")
@click.option("--status", default=None)
@click.option("--limit", default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def tickets_list(state: CliState, status: str | None, limit: int, as_json: bool) -> None:
    """List tickets, newest first."""
    from deskmail.views import list_tickets, ticket_summary  # noqa: PLC0415

    with opened_app(state) as app, app.read_sessions() as session:
        rows = [ticket_summary(t) for t in list_tickets(session, limit=limit, status=status)]
    if as_json:
        print_json(rows)
        return
    table = Table("#", "created", "status", "priority", "category", "requester", "subject")
    for row in rows:
        table.add_row(
            str(row["number"]),
            str(row["created"])[:16],
            row["status"],
            row["priority"] or "",
            row["subcategory"] or row["category"] or "",
            row["requester"],
            row["subject"][:60],
        )
    console.print(table)


@tickets.command("show")
@click.argument("number", type=int)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def tickets_show(state: CliState, number: int, as_json: bool) -> None:
    """Show one ticket with its conversation."""
    from deskmail.views import ticket_detail  # noqa: PLC0415
    from models import Ticket  # noqa: PLC0415

    with opened_app(state) as app, app.read_sessions() as session:
        ticket = session.get(Ticket, number)
        if ticket is None:
            err_console.print(f"no ticket #{number}")
            sys.exit(1)
        data = ticket_detail(session, ticket)
    if as_json:
        print_json(data)
        return
    console.print(f"[bold]#{data['number']}[/] {data['subject']}", highlight=False)
    console.print(
        f"status {data['status']} · priority {data['priority'] or '-'} · category "
        f"{data['subcategory'] or data['category'] or '-'} · "
        f"requester {data['requester']['email']}",
        highlight=False,
    )
    for message in data["messages"]:
        console.rule(f"{message['date'][:16]} {message['from']['email']} ({message['direction']})")
        console.print(message["new_text"] or message["text"], markup=False, highlight=False)
