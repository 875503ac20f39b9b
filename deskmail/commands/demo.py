"""`deskmail demo`: the first-run tour - sample mails to the running service, and their fate.

Start the service in one terminal (`deskmail serve`), then run `deskmail demo` with the same
settings (the same `--data` folder): it sends five sample mails over SMTP to the help desk's
address and prints, for each, the ticket, its category, priority and suggestions, and the
acknowledgement that went out (`deskmail.demo`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from deskmail.commands.base import CliState, console, opened_app, pass_state, print_json

if TYPE_CHECKING:
    from deskmail.demo import DemoOutcome


def say(line: str) -> None:
    """One line as written: mail text is neither markup nor wrapped."""
    console.print(line, highlight=False, markup=False, soft_wrap=True)


def print_outcome(number: int, outcome: DemoOutcome) -> None:
    """One sample's story, for people."""
    from deskmail.demo import excerpt_lines  # noqa: PLC0415

    console.rule(f"{number}. {outcome.title}", align="left")
    say(f"From:    {outcome.sender}")
    say(f"Subject: {outcome.subject}")
    if outcome.ticket is None:
        why = f" ({outcome.reason})" if outcome.reason else ""
        say(f"Result:  no ticket - {outcome.result}{why}")
        return
    if outcome.result == "ticket_created":
        result = f"new ticket #{outcome.ticket}, status {outcome.status}"
    elif outcome.result == "followup":
        result = f"added to ticket #{outcome.ticket}, which is now {outcome.status}"
    else:
        result = f"{outcome.result} on ticket #{outcome.ticket}, status {outcome.status}"
    if outcome.closed_by_solved:
        result += " (closed by the requester's SOLVED reply)"
    say(f"Result:  {result}")
    if outcome.result == "ticket_created":
        triage = " (waiting for triage)" if outcome.needs_triage else ""
        category, priority = outcome.category or "unknown", outcome.priority or "unknown"
        say(f"Category: {category}, priority: {priority}{triage}")
        say("Suggestions:" if outcome.suggestions else "Suggestions: none")
        for suggestion in outcome.suggestions:
            audience = "" if suggestion.offered else " (agents only)"
            say(f"  - {suggestion.title} (confidence {suggestion.confidence:.2f}){audience}")
    ack = outcome.acknowledgement
    if ack is not None:
        say(f"Acknowledgement ({ack.status}, {ack.source}) to {', '.join(ack.to)}:")
        say(f"  Subject: {ack.subject}")
        for line in excerpt_lines(ack.text):
            say(f"  | {line}")
    elif outcome.result == "ticket_created":
        say("Acknowledgement: none was queued for this ticket")


@click.command()
@click.option("--data", "data_dir", type=click.Path(path_type=Path), help="Data folder.")
@click.option(
    "--smtp",
    "smtp_address",
    default=None,
    help="host:port of the running service (default: DESKMAIL_SMTP_LISTEN).",
)
@click.option("--timeout", default=120.0, show_default=True, help="Seconds to wait per mail.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcomes as JSON.")
@pass_state
def demo(
    state: CliState, data_dir: Path | None, smtp_address: str | None, timeout: float, as_json: bool
) -> None:
    """Send sample mails to the running service and show what became of each."""
    from deskmail.demo import Demo  # noqa: PLC0415 - keeps `deskmail --help` instant
    from deskmail.settings import parse_host_port  # noqa: PLC0415

    state.override_data_dir(data_dir)
    host, port = parse_host_port(smtp_address or state.settings.smtp_listen)
    if host in ("0.0.0.0", "::"):  # noqa: S104 - naming the wildcard, not binding to it
        host = "127.0.0.1"

    def progress(line: str) -> None:
        if not as_json:
            click.echo(line)

    with opened_app(state) as app:
        if not as_json:
            click.echo(f"help desk {app.settings.addresses[0]} at {host}:{port}")
        outcomes = Demo(app, host, port, timeout=timeout, progress=progress).run()
    if as_json:
        print_json([o.as_json() for o in outcomes])
        return
    for number, outcome in enumerate(outcomes, 1):
        print_outcome(number, outcome)
