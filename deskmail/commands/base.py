"""What every subcommand shares: the settings built once, the application, and output helpers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console

from deskmail.settings import Settings, load_settings

if TYPE_CHECKING:
    from deskmail.app import App

console = Console()
err_console = Console(stderr=True)


class CliState:
    """What the group passes to its commands."""

    def __init__(self, config_file: Path | None, data_dir: Path | None) -> None:
        self.config_file = config_file
        self.data_dir = data_dir
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        """Built on first use, so `--help` works with a broken configuration."""
        if self._settings is None:
            self._settings = load_settings(config_file=self.config_file, data_dir=self.data_dir)
        return self._settings

    def override_data_dir(self, data_dir: Path | None) -> None:
        """`--data` given after the subcommand (`deskmail serve --data DIR`)."""
        if data_dir is not None:
            self.data_dir = data_dir
            self._settings = None


pass_state = click.make_pass_decorator(CliState)


@contextmanager
def opened_app(state: CliState) -> Iterator[App]:
    """The application for one command, closed afterwards."""
    from deskmail.app import App  # noqa: PLC0415 - keeps `deskmail --help` instant

    app = App.open(state.settings)
    try:
        yield app
    finally:
        app.close()


def print_json(value: Any) -> None:
    """One JSON document on standard output."""
    click.echo(json.dumps(value, ensure_ascii=False, default=str))
