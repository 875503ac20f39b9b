"""`deskmail web`: the web UI and JSON API alone, for scale-out (any number, behind a proxy).

Like `deskmail smtp` and `deskmail worker`, it needs an up-to-date schema, prints where it
listens and stops gracefully on SIGTERM or SIGINT. `deskmail serve` runs the same service
beside the others.
"""

from __future__ import annotations

from pathlib import Path

import click

from deskmail.commands.base import CliState, opened_app, pass_state


@click.command()
@click.option("--data", "data_dir", type=click.Path(path_type=Path), help="Data folder.")
@click.option("--listen", default=None, help="host:port (default: DESKMAIL_WEB_LISTEN).")
@click.option(
    "--stop-timeout",
    default=30.0,
    show_default=True,
    help="Seconds requests in flight get to finish after SIGTERM.",
)
@pass_state
def web(state: CliState, data_dir: Path | None, listen: str | None, stop_timeout: float) -> None:
    """Run the web UI and JSON API only (the schema must be up to date)."""
    from deskmail.commands.serve import run_process  # noqa: PLC0415 - shared run/exit logic
    from deskmail.serve import require_current_schema  # noqa: PLC0415
    from deskmail.web_service import WebService  # noqa: PLC0415

    state.override_data_dir(data_dir)
    with opened_app(state) as app:
        require_current_schema(app.engine)
        run_process(app, [WebService(app, listen=listen)], stop_timeout)
