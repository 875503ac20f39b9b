"""Shared fixtures: real databases (SQLite and PostgreSQL), settings and the application.

`db_url` runs a test once on SQLite and once on PostgreSQL; `sqlite_url` only on SQLite for
tests whose subject is not the database. Nothing here downloads anything: the embedding model
is loaded offline from site-packages by the tests that need it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from deskmail.app import App  # the offline switches must come first
from deskmail.settings import Settings, load_settings
from tests.servers.databases import (
    empty_postgres,
    migrated_sqlite_template,
    postgres_database,
    sqlite_copy,
)

pytest_plugins = ["tests.servers.dovecot", "tests.servers.browser", "tests.servers.smtp"]

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("DESKMAIL_SHARED_DATA", REPO.parent / "shared" / "data"))
HELPDESK = "help@example.org"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The migrated SQLite template of this session."""
    return migrated_sqlite_template(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(scope="session")
def postgres_session_url() -> Iterator[str]:
    """This session's migrated PostgreSQL database."""
    with postgres_database() as url:
        yield url


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh SQLite database for one test."""
    return sqlite_copy(sqlite_template, tmp_path / "db")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh database for one test, on each engine."""
    if request.param == "sqlite":
        return sqlite_copy(sqlite_template, tmp_path / "db")
    url: str = request.getfixturevalue("postgres_session_url")
    empty_postgres(url)
    return url


def make_settings(data_dir: Path, database_url: str, **overrides: object) -> Settings:
    """Test settings: one help desk address, a fixed secret, the given database."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "addresses": [HELPDESK],
        "secret_key": "test-secret-key-not-for-production",
        "smtp_listen": "127.0.0.1:0",
        # The classify stage embeds every new ticket (zero-shot): tests that build their own
        # worker would load another copy of the model. Classification tests opt in
        # (tests/deskmail/classifier_support.py).
        "classifier": {"enabled": False},
    }
    values.update(overrides)
    return load_settings(data_dir=data_dir, **values)


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """Settings on the parametrised database."""
    return make_settings(tmp_path / "data", db_url)


@pytest.fixture
def app(settings: Settings) -> Iterator[App]:
    """The application on the parametrised database."""
    application = App.open(settings)
    yield application
    application.close()


@pytest.fixture
def sqlite_app(sqlite_url: str, tmp_path: Path) -> Iterator[App]:
    """The application on SQLite only."""
    application = App.open(make_settings(tmp_path / "data", sqlite_url))
    yield application
    application.close()
