"""`deskmail serve`, `deskmail smtp`, `deskmail worker`: the long-running processes.

`serve` is the embedded default: it brings the schema up to date and runs every service in one
process. `smtp` and `worker` run one kind of service each, any number of them against one
PostgreSQL database. Each prints where it listens (stdout) and stops gracefully on SIGTERM or
SIGINT; the exit status is 1 when a service failed.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import click

from deskmail.commands.base import CliState, opened_app, pass_state

if TYPE_CHECKING:
    from deskmail.app import App
    from deskmail.serve import Service
    from deskmail.wiring import ProcessServices

_data_option = click.option(
    "--data", "data_dir", type=click.Path(path_type=Path), help="Data folder."
)
_stop_option = click.option(
    "--stop-timeout",
    default=30.0,
    show_default=True,
    help="Seconds each service gets to finish its work in flight after SIGTERM.",
)


def _announce(line: str) -> None:
    click.echo(line)  # click.echo flushes: scripts and tests read these lines as they come


def run_process(app: App, services: list[Service], stop_timeout: float) -> None:
    """Run `services` until SIGTERM/SIGINT, announcing each line; exit 1 if one failed."""
    from deskmail.serve import run_services, stop_on_signals  # noqa: PLC0415

    url = app.engine.url.render_as_string(hide_password=True)
    _announce(f"data folder {app.settings.data_dir.resolve()}, database {url}")
    stop = threading.Event()
    with stop_on_signals(stop):
        status = run_services(services, stop, announce=_announce, stop_timeout=stop_timeout)
    _announce("stopped")
    if status:
        sys.exit(status)


@click.command()
@_data_option
@click.option("--workers", default=1, show_default=True, help="Pipeline worker threads.")
@click.option(
    "--starter-kb/--no-starter-kb",
    default=True,
    show_default=True,
    help="Load the starter knowledge base when the knowledge base is empty.",
)
@_stop_option
@pass_state
def serve(
    state: CliState, data_dir: Path | None, workers: int, starter_kb: bool, stop_timeout: float
) -> None:
    """Run everything in one process: schema upgrade, SMTP intake, IMAP polling, pipeline
    workers, the outbox sender, the scheduler and the web UI."""
    from deskmail.db import upgrade  # noqa: PLC0415 - keeps `deskmail --help` instant

    state.override_data_dir(data_dir)
    with opened_app(state) as app:
        upgrade(app.engine)
        run_process(app, embedded_services(app, workers, starter_kb=starter_kb), stop_timeout)


def warm_up(services: ProcessServices) -> None:
    """Load the sentence model and the knowledge base's vectors before the first mail."""
    services.encoder.model()
    services.knowledge.matching.refresh()


def embedded_services(app: App, workers: int, *, starter_kb: bool) -> list[Service]:
    """Every service of the embedded default, sharing one set of costly process services."""
    from deskmail.imap_service import ImapService  # noqa: PLC0415
    from deskmail.knowledge_transfer import ensure_starter_kb  # noqa: PLC0415
    from deskmail.scheduler import SchedulerService  # noqa: PLC0415
    from deskmail.sender_service import SenderService  # noqa: PLC0415
    from deskmail.serve import WorkerService  # noqa: PLC0415
    from deskmail.smtp_service import SmtpService  # noqa: PLC0415
    from deskmail.web_service import WebService  # noqa: PLC0415
    from deskmail.wiring import build_services, build_worker  # noqa: PLC0415

    services = build_services(app)
    if starter_kb and app.settings.knowledge.load_starter_kb:
        loaded = ensure_starter_kb(app, services.knowledge.store)
        if loaded:
            _announce(f"knowledge base: loaded {loaded} starter articles")
    running: list[Service] = [
        WorkerService(
            app,
            workers,
            build=lambda a, name: build_worker(a, name, services),
            warm_up=lambda: warm_up(services),
        ),
        SmtpService(app),
        SenderService(app),
        SchedulerService(app),
        WebService(app, knowledge=services.knowledge),
    ]
    if app.settings.imap_accounts:
        running.append(ImapService(app))
    return running


@click.command()
@_data_option
@click.option("--listen", default=None, help="host:port (default: DESKMAIL_SMTP_LISTEN).")
@_stop_option
@pass_state
def smtp(state: CliState, data_dir: Path | None, listen: str | None, stop_timeout: float) -> None:
    """Run SMTP intake only (the schema must be up to date)."""
    from deskmail.serve import require_current_schema  # noqa: PLC0415
    from deskmail.smtp_service import SmtpService  # noqa: PLC0415

    state.override_data_dir(data_dir)
    with opened_app(state) as app:
        require_current_schema(app.engine)
        run_process(app, [SmtpService(app, listen=listen)], stop_timeout)


@click.command()
@_data_option
@click.option("--threads", default=1, show_default=True, help="Worker threads.")
@_stop_option
@pass_state
def worker(state: CliState, data_dir: Path | None, threads: int, stop_timeout: float) -> None:
    """Run pipeline workers only (the schema must be up to date)."""
    from deskmail.serve import WorkerService, require_current_schema  # noqa: PLC0415

    state.override_data_dir(data_dir)
    with opened_app(state) as app:
        require_current_schema(app.engine)
        from deskmail.wiring import build_services, build_worker  # noqa: PLC0415

        services = build_services(app)
        service = WorkerService(
            app,
            threads,
            build=lambda a, name: build_worker(a, name, services),
            warm_up=lambda: warm_up(services),
        )
        run_process(app, [service], stop_timeout)
