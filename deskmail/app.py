"""The application object: settings plus the database, built once per process.

The CLI builds one `App` from the settings and hands it to whatever runs (the SMTP server, the
worker, the web UI); nothing keeps it in a global.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from deskmail.db import make_engine, make_sessionmaker, reader
from deskmail.settings import Settings
from intake.reply_tokens import ReplyTokenKey
from intake.threading import ThreadingConfig


@dataclass(frozen=True)
class App:
    """Settings, engine and session factories of one Deskmail process."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    read_sessions: sessionmaker[Session]

    @classmethod
    def open(cls, settings: Settings) -> App:
        """Connect to the configured database (migrations are `deskmail db upgrade`)."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.resolved_database_url)
        return cls(
            settings=settings,
            engine=engine,
            sessions=make_sessionmaker(engine),
            read_sessions=make_sessionmaker(reader(engine)),
        )

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()

    @cached_property
    def token_key(self) -> ReplyTokenKey:
        """The key of reply tokens."""
        return ReplyTokenKey(self.settings.secret())

    @cached_property
    def threading_config(self) -> ThreadingConfig:
        """What the correlate stage needs to know."""
        return ThreadingConfig(
            helpdesk_addresses=self.settings.address_set,
            token_key=self.token_key,
            message_id_domain=self.settings.message_id_domain,
        )
