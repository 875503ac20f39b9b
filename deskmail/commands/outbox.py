"""`deskmail outbox ...` and `deskmail sender`: outgoing mail, its failures, retries, the sender.

`outbox list` shows queued, sent, failed and suppressed mail (`--failed`: failed mail and mail
waiting for another try); `outbox retry ID` queues failed mail again; `outbox check-templates`
renders the help desk's edited templates with sample values and names every problem.
`sender` runs only the outbox sender, any number of them against one PostgreSQL database.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from models import OutboundMessage


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def outbound_summary(row: OutboundMessage) -> dict[str, Any]:
    """One line of `deskmail outbox list --json` (a public shape: keep the keys stable)."""
    return {
        "id": row.id,
        "created": _iso(row.created_at),
        "kind": row.kind,
        "ticket": row.ticket_id,
        "automatic": row.automatic,
        "to": list(row.rcpt_to),
        "delivered_to": list(row.delivered_to),
        "subject": row.subject,
        "message_id": row.message_id,
        "status": str(row.status),
        "attempts": row.attempts,
        "next_attempt": _iso(row.next_attempt_at),
        "sent": _iso(row.sent_at),
        "reason": row.status_reason,
        "last_error": row.last_error,
    }


@click.group()
def outbox() -> None:
    """Outgoing mail: what was sent, what failed, retries."""


@outbox.command("list")
@click.option("--failed", is_flag=True, help="Failed mail and mail waiting for another try.")
@click.option("--suppressed", is_flag=True, help="Automatic mail that was not sent, and why.")
@click.option("--limit", default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def outbox_list(state: CliState, failed: bool, suppressed: bool, limit: int, as_json: bool) -> None:
    """List outgoing mail, newest first."""
    from models import OutboundStatus  # noqa: PLC0415 - keeps `deskmail --help` instant
    from responder.outbox import list_outbound  # noqa: PLC0415

    statuses: list[OutboundStatus] = []
    if failed:
        statuses.append(OutboundStatus.FAILED)
    if suppressed:
        statuses.append(OutboundStatus.SUPPRESSED)
    with opened_app(state) as app, app.read_sessions() as session:
        rows = list_outbound(session, statuses=statuses, retrying=failed, limit=limit)
        data = [outbound_summary(r) for r in rows]
    if as_json:
        print_json(data)
        return
    table = Table("id", "created", "mail", "ticket", "to", "status", "tries", "why")
    for row in data:
        table.add_row(
            str(row["id"]),
            str(row["created"])[:19],
            row["kind"],
            str(row["ticket"] or ""),
            ", ".join(row["to"])[:40],
            row["status"],
            str(row["attempts"]),
            (row["reason"] or row["last_error"])[:80],
        )
    console.print(table)


@outbox.command("retry")
@click.argument("ids", nargs=-1, type=int, required=True)
@pass_state
def outbox_retry(state: CliState, ids: tuple[int, ...]) -> None:
    """Queue failed mail again for a new round of tries."""
    from responder.outbox import retry_failed  # noqa: PLC0415

    with opened_app(state) as app:
        missing = []
        for outbound_id in ids:
            with app.sessions() as session, session.begin():
                if not retry_failed(session, outbound_id):
                    missing.append(outbound_id)
    for outbound_id in ids:
        if outbound_id not in missing:
            console.print(f"mail {outbound_id} queued again")
    if missing:
        err_console.print(f"not failed: {', '.join(map(str, missing))}")
        sys.exit(1)


@outbox.command("check-templates")
@pass_state
def outbox_check_templates(state: CliState) -> None:
    """Render the help desk's own templates with sample values; list what is broken."""
    from deskmail.sender_service import build_outbox  # noqa: PLC0415

    outbox_ = build_outbox(state.settings)
    problems = outbox_.renderer.check()
    folder = outbox_.renderer.config.override_dir
    if not problems:
        click.echo(f"templates in {folder}: no problems")
        return
    for problem in problems:
        click.echo(f"{problem.template}: {problem.error}", err=True)
    click.echo(
        f"{len(problems)} problem(s); broken templates fall back to the packaged ones", err=True
    )
    sys.exit(1)


@click.command()
@click.option("--data", "data_dir", type=click.Path(path_type=Path), help="Data folder.")
@click.option("--threads", default=1, show_default=True, help="Sender threads (connections).")
@click.option(
    "--stop-timeout",
    default=30.0,
    show_default=True,
    help="Seconds to finish the mail in flight after SIGTERM.",
)
@pass_state
def sender(state: CliState, data_dir: Path | None, threads: int, stop_timeout: float) -> None:
    """Run the outbox sender only (the schema must be up to date)."""
    from deskmail.sender_service import SenderService  # noqa: PLC0415
    from deskmail.serve import (  # noqa: PLC0415
        require_current_schema,
        run_services,
        stop_on_signals,
    )

    state.override_data_dir(data_dir)
    with opened_app(state) as app:
        require_current_schema(app.engine)
        service = SenderService(app, threads=threads)
        url = app.engine.url.render_as_string(hide_password=True)
        click.echo(f"data folder {app.settings.data_dir.resolve()}, database {url}")
        stop = threading.Event()
        with stop_on_signals(stop):
            status = run_services([service], stop, announce=click.echo, stop_timeout=stop_timeout)
        click.echo("stopped")
    if status:
        sys.exit(status)
