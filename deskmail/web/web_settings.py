"""The web UI's settings: `[web]` in the TOML file, `DESKMAIL_WEB__*` in the environment.

`deskmail.settings.Settings.web` holds a `WebSettings`; this module imports nothing of Deskmail,
so the settings module can import it without a cycle. `deskmail.web.config` turns it into the
frozen `WebConfig` the app receives.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import NoDecode


class WebSettings(BaseModel):
    """What an operator can set about the web UI and JSON API."""

    # Where people reach the UI, for links in mail (status links); default: http://web_listen.
    public_url: str = ""
    # "auto": cookies are Secure when the request came over https (directly or, from a
    # trusted proxy, by X-Forwarded-Proto).
    cookie_secure: Literal["auto", "always", "never"] = "auto"
    # Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed ("*" for any).
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    session_idle_minutes: int = Field(default=480, ge=5)
    session_max_hours: int = Field(default=168, ge=1)
    login_max_failures_per_account: int = Field(default=5, ge=1)
    login_max_failures_per_ip: int = Field(default=30, ge=1)
    login_window_minutes: int = Field(default=15, ge=1)
    login_lockout_minutes: int = Field(default=15, ge=1)
    status_link_days: int = Field(default=365, ge=1)
    page_size: int = Field(default=50, ge=10, le=500)
    password_time_cost: int = Field(default=3, ge=1)
    password_memory_kib: int = Field(default=65536, ge=1024)
    password_parallelism: int = Field(default=4, ge=1)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value
