"""The frozen configuration the web app receives, made from the settings once per process.

`web_config` turns the whole settings object (with its `[web]` part, `WebSettings`) into a
`WebConfig`, so nothing below reads settings or the environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from deskmail.accounts import PasswordParams
from deskmail.settings import Settings
from deskmail.web.web_settings import WebSettings


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failed logins lock an account or a client address out, and for how long."""

    max_failures_account: int = 5
    max_failures_ip: int = 30
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class WebConfig:
    """Everything the web app needs to know, fixed when the process starts."""

    secret: bytes
    helpdesk_name: str = "IT Help Desk"
    public_url: str = "http://127.0.0.1:8080"
    cookie_secure: Literal["auto", "always", "never"] = "auto"
    trusted_proxies: tuple[str, ...] = ()
    session_idle: timedelta = timedelta(hours=8)
    session_max: timedelta = timedelta(days=7)
    throttle: ThrottlePolicy = field(default_factory=ThrottlePolicy)
    status_link_max_age: timedelta = timedelta(days=365)
    page_size: int = 50
    passwords: PasswordParams = field(default_factory=PasswordParams)


def web_settings(settings: Settings) -> WebSettings:
    """The `[web]` part of the settings (defaults until `Settings.web` exists)."""
    value = getattr(settings, "web", None)
    return value if isinstance(value, WebSettings) else WebSettings()


def default_public_url(settings: Settings) -> str:
    """`http://host:port` of `web_listen`, used when no public URL is configured."""
    host, port = settings.web_host_port
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - naming the wildcard, not binding to it
        host = "127.0.0.1"
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def web_config(settings: Settings) -> WebConfig:
    """The web app's configuration from the settings."""
    web = web_settings(settings)
    return WebConfig(
        secret=settings.secret(),
        helpdesk_name=settings.helpdesk_name,
        public_url=(web.public_url or default_public_url(settings)).rstrip("/"),
        cookie_secure=web.cookie_secure,
        trusted_proxies=tuple(web.trusted_proxies),
        session_idle=timedelta(minutes=web.session_idle_minutes),
        session_max=timedelta(hours=web.session_max_hours),
        throttle=ThrottlePolicy(
            max_failures_account=web.login_max_failures_per_account,
            max_failures_ip=web.login_max_failures_per_ip,
            window=timedelta(minutes=web.login_window_minutes),
            lockout=timedelta(minutes=web.login_lockout_minutes),
        ),
        status_link_max_age=timedelta(days=web.status_link_days),
        page_size=web.page_size,
        passwords=PasswordParams(
            time_cost=web.password_time_cost,
            memory_kib=web.password_memory_kib,
            parallelism=web.password_parallelism,
        ),
    )
