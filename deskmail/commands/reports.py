"""`deskmail reports`: the help desk's figures for a period, as tables or JSON.

`--since` and `--until` take a date (midnight in the help desk's time zone) or an ISO date
and time; the default is the last 30 days. `--json` prints `HelpdeskReport.as_json()`, a
public shape for scripts (README.md).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table

from deskmail.commands.base import CliState, opened_app, pass_state, print_json

if TYPE_CHECKING:
    from deskmail.reports import Adherence, HelpdeskReport, TimeStats

DEFAULT_DAYS = 30


def parse_moment(text: str, zone_name: str) -> datetime:
    """A date (midnight in `zone_name`) or an ISO date and time (UTC when no offset given)."""
    from deskmail.sla import zone_of  # noqa: PLC0415 - keeps `deskmail --help` instant

    value = text.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day, time(0), zone_of(zone_name)).astimezone(UTC)
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"not a date or ISO date and time: {value[:40]!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _hours(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} h"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def _times_table(title: str, stats: TimeStats) -> Table:
    table = Table("priority", "tickets", "median", "90th pct", "mean", title=title)
    for name, row in [*stats.by_priority.items(), ("all", stats.overall)]:
        table.add_row(
            name,
            str(row.count),
            _hours(row.median_hours),
            _hours(row.p90_hours),
            _hours(row.mean_hours),
        )
    return table


def print_report(report: HelpdeskReport) -> None:
    """The report as tables for people."""
    # Made now, not at import: the width follows the terminal (or COLUMNS) of this call.
    console = Console()
    period = report.period
    console.print(
        f"[bold]Help desk report[/] {period.since:%Y-%m-%d %H:%M} to "
        f"{period.until:%Y-%m-%d %H:%M} UTC: {report.tickets} tickets",
        highlight=False,
    )
    volume = Table("category", "priority", "tickets", "still open", title="Volume")
    for row in report.volume:
        volume.add_row(
            row.category or "(triage)", row.priority or "-", str(row.tickets), str(row.still_open)
        )
    console.print(volume)
    console.print(_times_table("First response", report.first_response))
    console.print(_times_table("Resolution", report.resolution))
    sla = Table("target", "met", "missed", "running", "escalated", "adherence", title="SLA")
    targets: list[tuple[str, Adherence]] = list(report.sla.items())
    for name, value in targets:
        sla.add_row(
            name.replace("_", " "),
            str(value.met),
            str(value.missed),
            str(value.running),
            str(value.escalated),
            _rate(value.rate),
        )
    console.print(sla)
    deflection = report.deflection
    table = Table("acknowledged", "offered solutions", "solved by reply", "rate", "rate if offered")
    table.title = "Deflection (closed by replying SOLVED)"
    table.add_row(
        str(deflection.acknowledged),
        str(deflection.offered_solutions),
        str(deflection.solved_by_reply),
        _rate(deflection.rate),
        _rate(deflection.rate_when_offered),
    )
    console.print(table)
    articles = Table(
        "article",
        "suggested",
        "offered",
        "solved",
        "accepted",
        "rejected",
        "reopened",
        "solve rate",
        title="Articles",
    )
    for article in report.articles:
        articles.add_row(
            article.title[:60],
            str(article.suggested),
            str(article.offered),
            str(article.solved),
            str(article.accepted),
            str(article.rejected),
            str(article.reopened),
            _rate(article.solve_rate),
        )
    console.print(articles)


@click.command()
@click.option("--since", help="From this date or ISO time (default: 30 days ago).")
@click.option("--until", help="Up to this date or ISO time, exclusive (default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_state
def reports(state: CliState, since: str | None, until: str | None, as_json: bool) -> None:
    """Volume, response and resolution times, SLA adherence, deflection, articles."""
    from deskmail.reports import Period, build_report  # noqa: PLC0415
    from models import utcnow  # noqa: PLC0415

    now = utcnow()
    zone = state.settings.timezone
    end = parse_moment(until, zone) if until else now
    start = parse_moment(since, zone) if since else end - timedelta(days=DEFAULT_DAYS)
    if end <= start:
        raise click.BadParameter("--until must be later than --since")
    with opened_app(state) as app, app.read_sessions() as session:
        report = build_report(session, Period(start, end), now=now)
    if as_json:
        print_json(report.as_json())
        return
    print_report(report)
