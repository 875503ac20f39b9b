"""`deskmail scheduler`: the timed work (SLA warnings and escalations, auto-close) on its own.

`deskmail serve` runs the scheduler already; this command runs only it, for scale-out against
PostgreSQL (any number may run: each action is claimed once). `--once` runs a single round
and prints what it did (for cron jobs and for operators who want to see it work).
"""

from __future__ import annotations

from pathlib import Path

import click

from deskmail.commands.base import CliState, opened_app, pass_state, print_json


@click.command()
@click.option("--data", "data_dir", type=click.Path(path_type=Path), help="Data folder.")
@click.option("--once", is_flag=True, help="Run one round, print what it did and exit.")
@click.option("--json", "as_json", is_flag=True, help="With --once: print the round as JSON.")
@click.option(
    "--stop-timeout",
    default=30.0,
    show_default=True,
    help="Seconds to finish the round in progress after SIGTERM.",
)
@pass_state
def scheduler(
    state: CliState, data_dir: Path | None, once: bool, as_json: bool, stop_timeout: float
) -> None:
    """Run the scheduler only (the schema must be up to date)."""
    from deskmail.commands.serve import run_process  # noqa: PLC0415
    from deskmail.scheduler import Scheduler, SchedulerService  # noqa: PLC0415
    from deskmail.serve import require_current_schema  # noqa: PLC0415

    state.override_data_dir(data_dir)
    with opened_app(state) as app:
        require_current_schema(app.engine)
        if not once:
            run_process(app, [SchedulerService(app)], stop_timeout)
            return
        report = Scheduler.for_app(app).run_once()
    if as_json:
        print_json(
            {
                "refreshed": report.refreshed,
                "warned": report.warned,
                "escalated": report.escalated,
                "closed": report.closed,
                "more_waiting": report.full,
            }
        )
        return
    click.echo(
        f"{report.refreshed} due times updated, {report.warned} warnings, "
        f"{report.escalated} escalations, {report.closed} tickets closed"
    )
