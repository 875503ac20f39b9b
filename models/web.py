"""What the web UI and JSON API keep: login sessions, API tokens and login throttling.

Nothing secret is stored in the clear: a session row is keyed by the SHA-256 of the random key
in the (signed) cookie, and an API token by the SHA-256 of the token, so a copy of the database
opens no session and calls no API (docs/decisions/0102, 0103). The throttle rows count failed
logins per account and per client address and hold the lockout time (docs/decisions/0104).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class WebSession(Base):
    """One signed-in browser: who, since when, until when."""

    __tablename__ = "web_session"

    # SHA-256 (hex) of the random session key the browser holds in its cookie.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Absolute end of the session, whatever the activity.
    expires_at: Mapped[datetime]
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")


class ApiToken(Base):
    """A Bearer token for integrations; it acts with the role of the account it belongs to."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    # SHA-256 (hex) of the whole token; the token itself is shown once, at creation.
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters of the token, so people can tell their tokens apart.
    prefix: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class LoginThrottle(Base):
    """Failed logins of one account or one client address within the current window."""

    __tablename__ = "login_throttle"

    # "account:<email>" or "ip:<address or IPv6 /64>".
    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_started_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
