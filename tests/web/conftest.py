"""Fixtures of the web tests: the help desk with its web app, on each database or on SQLite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from deskmail.app import App
from tests.web.helpers import Desk


@pytest.fixture
def desk(app: App) -> Iterator[Desk]:
    """The web app on the parametrised database (SQLite and PostgreSQL)."""
    opened = Desk.open(app)
    yield opened
    opened.client.close()


@pytest.fixture
def sqlite_desk(sqlite_app: App) -> Iterator[Desk]:
    """The web app on SQLite only."""
    opened = Desk.open(sqlite_app)
    yield opened
    opened.client.close()
