"""Deskmail's one settings object: environment `DESKMAIL_*` over a TOML file over defaults.

The CLI builds it once (`load_settings`) and passes it down; domain packages never read the
environment — they get small config values derived from it here. List values in the
environment are comma-separated (`DESKMAIL_ADDRESSES=help@example.org,it@example.org`); nested
values (IMAP accounts) come from the TOML file or as JSON in the environment.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from deskmail.classifier_settings import ClassifierSettings
from deskmail.knowledge_settings import KnowledgeSettings
from deskmail.process_settings import ProcessSettings
from deskmail.web.web_settings import WebSettings
from models.errors import DeskmailError


class SettingsError(DeskmailError):
    """The configuration is invalid; the message says which value and why."""


def _split_commas(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def parse_host_port(value: str, *, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """Split `host:port` (IPv6 as `[::1]:25`) into its parts, with a clear error."""
    text = value.strip()
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = default_host, text
    host = host.strip("[]") or default_host
    try:
        port = int(port_text)
    except ValueError as exc:
        raise SettingsError(f"not a host:port value: {value!r}") from exc
    if not 0 <= port <= 65535:
        raise SettingsError(f"port out of range in {value!r}")
    return host, port


class ImapAccount(BaseModel):
    """One mailbox the IMAP poller reads."""

    name: str = Field(description="Short name used in logs and the cursor table.")
    host: str
    port: int = 993
    security: Literal["ssl", "starttls", "none"] = "ssl"
    username: str
    password: SecretStr
    mailboxes: list[str] = Field(default_factory=lambda: ["INBOX"])
    # After the mail is committed: add the \Seen flag, or move it to `move_to`.
    after_fetch: Literal["flag", "move"] = "flag"
    # The flag set after the commit: `\\Seen`, or a keyword such as `$Deskmail` to leave the
    # mail unread for people who also read the mailbox.
    flag: str = "\\Seen"
    move_to: str = "Deskmail/Processed"
    use_idle: bool = True
    poll_seconds: float = 60.0
    timeout_seconds: float = 30.0


class Limits(BaseModel):
    """Limits against hostile or broken mail (RFC 5321 §4.5.3.1 minimums are far lower)."""

    max_message_bytes: int = 25 * 1024 * 1024
    max_recipients: int = 100
    max_header_bytes: int = 256 * 1024
    max_mime_depth: int = 20
    max_mime_parts: int = 500
    max_addresses: int = 1000
    parse_seconds: float = 20.0
    smtp_max_commands: int = 500
    smtp_data_timeout_seconds: float = 300.0
    store_timeout_seconds: float = 5.0


class WorkerSettings(BaseModel):
    """How the pipeline worker claims, retries and gives up."""

    max_attempts: int = 5
    backoff_seconds: float = 30.0
    backoff_max_seconds: float = 3600.0
    poll_seconds: float = 0.5
    batch_size: int = 20
    claim_timeout_seconds: float = 600.0
    # On SQLite, at most this long before each mail the worker lets SMTP intake and the sender
    # write first (deskmail.write_gate).
    yield_seconds: float = 1.0


class OutboxSettings(BaseModel):
    """How the outbox sender retries and gives up (like an MTA's queue)."""

    batch_size: int = 20
    poll_seconds: float = 1.0
    backoff_seconds: float = 60.0
    backoff_max_seconds: float = 3600.0
    # Postfix's maximal_queue_lifetime is 5 days: temporary failures retry this long.
    max_age_hours: float = 120.0
    claim_timeout_seconds: float = 1800.0
    threads: int = 1


class AutoReplySettings(BaseModel):
    """Caps on automatic mail per recipient and per ticket (0 turns a cap off)."""

    per_recipient_short: int = 5
    per_recipient_day: int = 40
    per_ticket_short: int = 3
    per_ticket_day: int = 20
    short_window_minutes: float = 10.0


class Settings(BaseSettings):
    """Everything an operator can set; see docs/configuration.md."""

    model_config = SettingsConfigDict(
        env_prefix="DESKMAIL_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    data_dir: Path = Field(default=Path("deskmail-data"))
    database_url: str = ""
    smtp_listen: str = "127.0.0.1:2525"
    addresses: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["help@localhost"])
    # The domain of Message-IDs we generate; defaults to the first address's domain.
    message_id_domain: str = ""
    helpdesk_name: str = "IT Help Desk"
    secret_key: SecretStr = SecretStr("")
    imap_accounts: list[ImapAccount] = Field(default_factory=list)
    limits: Limits = Field(default_factory=Limits)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    knowledge: KnowledgeSettings = Field(default_factory=KnowledgeSettings)
    classifier: ClassifierSettings = Field(default_factory=ClassifierSettings)
    web_listen: str = "127.0.0.1:8080"
    web: WebSettings = Field(default_factory=WebSettings)
    relay_url: str = ""
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    auto_reply: AutoReplySettings = Field(default_factory=AutoReplySettings)
    process: ProcessSettings = Field(default_factory=ProcessSettings)
    # The help desk's time zone: times in mails, business hours of the SLA calendar.
    timezone: str = "UTC"
    log_level: str = "INFO"

    @field_validator("addresses", mode="before")
    @classmethod
    def _addresses_from_commas(cls, value: Any) -> Any:
        return _split_commas(value)

    @field_validator("addresses")
    @classmethod
    def _addresses_valid(cls, value: list[str]) -> list[str]:
        cleaned = [address.strip().lower() for address in value]
        for address in cleaned:
            local, at, domain = address.rpartition("@")
            if not at or not local or not domain or any(c.isspace() for c in address):
                raise ValueError(f"not an e-mail address: {address!r}")
        if not cleaned:
            raise ValueError("at least one help desk address is needed")
        return cleaned

    @model_validator(mode="after")
    def _derive_defaults(self) -> Settings:
        if not self.message_id_domain:
            self.message_id_domain = self.addresses[0].rpartition("@")[2]
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Command-line overrides, then the environment, then the TOML file.
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    # Derived values -----------------------------------------------------------------------

    @property
    def resolved_database_url(self) -> str:
        """The database URL; the embedded default is SQLite in the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'deskmail.db').resolve()}"

    @property
    def smtp_host_port(self) -> tuple[str, int]:
        """Where the SMTP intake listens."""
        return parse_host_port(self.smtp_listen)

    @property
    def web_host_port(self) -> tuple[str, int]:
        """Where the web UI listens."""
        return parse_host_port(self.web_listen)

    @property
    def address_set(self) -> frozenset[str]:
        """The help desk's own addresses, lower-cased."""
        return frozenset(self.addresses)

    def secret(self) -> bytes:
        """The key for reply tokens, status links and sessions.

        Taken from the setting when given; otherwise created once in the data folder (mode
        0600), so every process sharing the folder signs alike. At scale, set it explicitly.
        """
        if self.secret_key.get_secret_value():
            return self.secret_key.get_secret_value().encode()
        path = self.data_dir / "secret.key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
        return path.read_text().strip().encode()


def load_settings(
    *, config_file: Path | None = None, data_dir: Path | None = None, **overrides: Any
) -> Settings:
    """Build the settings once: overrides > environment > TOML file > defaults.

    The TOML file is `config_file`, else `$DESKMAIL_CONFIG`, else `deskmail.toml` in the data
    folder when it exists.
    """
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    path = config_file or (
        Path(os.environ["DESKMAIL_CONFIG"]) if "DESKMAIL_CONFIG" in os.environ else None
    )
    if path is None:
        folder = Path(
            overrides.get("data_dir") or os.environ.get("DESKMAIL_DATA_DIR") or "deskmail-data"
        )
        candidate = folder / "deskmail.toml"
        path = candidate if candidate.exists() else None
    if path is not None and not path.exists():
        raise SettingsError(f"configuration file not found: {path}")

    class _FromFile(Settings):
        model_config = SettingsConfigDict(toml_file=path)

    try:
        return _FromFile(**overrides)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise SettingsError(str(exc)) from exc
