"""`deskmail inject` and `deskmail inbound ...`: feeding mail in, failures and retries."""

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


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line and file.")
@pass_state
def inject(state: CliState, files: tuple[Path, ...], as_json: bool) -> None:
    """Run mail files through the whole pipeline now, in the order given."""
    from deskmail.inject import inject_files  # noqa: PLC0415
    from deskmail.wiring import build_worker  # noqa: PLC0415

    with opened_app(state) as app:
        worker = build_worker(app)
        results = inject_files(app, worker, list(files))
    failed = False
    for item in results:
        data = item.as_json()
        failed = failed or data["outcome"] == "failed"
        if as_json:
            print_json(data)
        else:
            ticket = f" #{data['ticket']}" if data["ticket"] else ""
            console.print(
                f"{data['file']}: [bold]{data['outcome']}[/]{ticket} — {data['reason']}",
                highlight=False,
            )
    if failed:
        sys.exit(1)


@click.group()
def inbound() -> None:
    """Stored incoming mail: failures, quarantine, retries."""


@inbound.command("list")
@click.option("--failed", is_flag=True, help="Dead-lettered mail and mail waiting for a retry.")
@click.option("--quarantined", is_flag=True, help="Only quarantined mail.")
@click.option("--limit", default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def inbound_list(
    state: CliState, failed: bool, quarantined: bool, limit: int, as_json: bool
) -> None:
    """List stored mail, newest first."""
    from deskmail.views import inbound_summary, list_inbound, list_retrying  # noqa: PLC0415
    from models import InboundStatus  # noqa: PLC0415

    statuses: list[InboundStatus] = []
    if failed:
        statuses.append(InboundStatus.DEAD)
    if quarantined:
        statuses.append(InboundStatus.QUARANTINED)
    with opened_app(state) as app, app.read_sessions() as session:
        rows = list_inbound(session, statuses=statuses, limit=limit)
        if failed:
            rows += list_retrying(session, limit=limit)
        data = [inbound_summary(r) for r in sorted(rows, key=lambda r: -r.id)]
    if as_json:
        print_json(data)
        return
    table = Table("id", "received", "from", "status", "tries", "outcome", "ticket", "reason")
    for row in data:
        table.add_row(
            str(row["id"]),
            str(row["received_at"])[:19],
            row["mail_from"][:40],
            row["status"],
            str(row["attempts"]),
            row["outcome"] or "",
            str(row["ticket"] or ""),
            (row["last_error"] or row["reason"])[:80],
        )
    console.print(table)


@inbound.command("retry")
@click.argument("ids", nargs=-1, type=int, required=True)
@pass_state
def inbound_retry(state: CliState, ids: tuple[int, ...]) -> None:
    """Queue dead-lettered or quarantined mail again."""
    from deskmail.worker import retry_dead  # noqa: PLC0415

    with opened_app(state) as app:
        missing = [i for i in ids if not retry_dead(app, i)]
    for inbound_id in ids:
        if inbound_id not in missing:
            console.print(f"mail {inbound_id} queued again")
    if missing:
        err_console.print(f"not dead-lettered or quarantined: {', '.join(map(str, missing))}")
        sys.exit(1)
