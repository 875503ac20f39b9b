"""Login sessions of the web UI: server-side rows, a signed random key in the cookie.

The browser holds a random 256-bit key, signed with the help desk's secret (itsdangerous), in
an HttpOnly, SameSite=Lax cookie that is Secure behind TLS (then named with the `__Host-`
prefix, RFC 6265bis §4.1.3.2). The database keeps only the key's SHA-256, who it belongs to and
its idle and absolute end, so logout, a password reset or deactivating an account ends
sessions at once (docs/decisions/0102). The CSRF token of a session is an HMAC of its key:
bound to the session, never stored, never in a cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, Signer
from sqlalchemy import delete
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from deskmail.web.config import WebConfig
from models import UserAccount, utcnow
from models.web import WebSession

COOKIE = "deskmail_session"
SECURE_COOKIE = "__Host-deskmail_session"
# Writing `last_seen_at` on every request would turn reads into writes.
TOUCH_INTERVAL = timedelta(minutes=1)
_SALT = "deskmail.session.v1"


@dataclass(frozen=True)
class LoadedSession:
    """A live session and its account."""

    session_id: str
    key: str
    user: UserAccount
    stale: bool


def is_secure(request: Request, config: WebConfig) -> bool:
    """Whether cookies get the Secure flag (and the `__Host-` name) on this request."""
    if config.cookie_secure == "always":
        return True
    if config.cookie_secure == "never":
        return False
    return request.url.scheme == "https"


def cookie_name(secure: bool) -> str:
    """The session cookie's name."""
    return SECURE_COOKIE if secure else COOKIE


def _signer(secret: bytes) -> Signer:
    return Signer(secret, salt=_SALT, digest_method=hashlib.sha256)


def session_id(key: str) -> str:
    """What the database stores of a session key."""
    return hashlib.sha256(key.encode()).hexdigest()


def csrf_token(secret: bytes, key: str) -> str:
    """The CSRF token of the session with this key (HMAC, so it reveals nothing of the key)."""
    return hmac.new(secret, b"deskmail.csrf:" + key.encode(), hashlib.sha256).hexdigest()


def cookie_key(request: Request, config: WebConfig) -> str | None:
    """The verified session key from the request's cookie, or None."""
    value = request.cookies.get(cookie_name(is_secure(request, config)))
    if not value or len(value) > 200:
        return None
    try:
        return _signer(config.secret).unsign(value).decode()
    except (BadSignature, UnicodeDecodeError):
        return None


def start_session(
    db: Session, user: UserAccount, *, config: WebConfig, ip: str, user_agent: str
) -> str:
    """A new session for `user`; returns the key for the cookie."""
    now = utcnow()
    key = secrets.token_urlsafe(32)
    db.add(
        WebSession(
            id=session_id(key),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + config.session_max,
            ip=ip[:64],
            user_agent=user_agent[:300],
        )
    )
    user.last_login_at = now
    # Sessions that ended long ago are removed now and then, here, where a row is written anyway.
    db.execute(delete(WebSession).where(WebSession.expires_at < now))
    return key


def load_session(
    db: Session, key: str, *, config: WebConfig, now: datetime | None = None
) -> LoadedSession | None:
    """The live session of `key` and its active account, or None (reads only)."""
    now = now or utcnow()
    row = db.get(WebSession, session_id(key))
    if row is None or row.expires_at <= now or row.last_seen_at + config.session_idle <= now:
        return None
    user = db.get(UserAccount, row.user_id)
    if user is None or not user.active:
        return None
    return LoadedSession(
        session_id=row.id, key=key, user=user, stale=now - row.last_seen_at > TOUCH_INTERVAL
    )


def touch_session(db: Session, sid: str, *, now: datetime | None = None) -> None:
    """Record activity on a session (keeps it from idling out)."""
    row = db.get(WebSession, sid)
    if row is not None:
        row.last_seen_at = now or utcnow()


def end_session(db: Session, key: str) -> None:
    """Log out: the session's row is gone, so its cookie opens nothing any more."""
    db.execute(delete(WebSession).where(WebSession.id == session_id(key)))


def set_session_cookie(response: Response, key: str, *, secure: bool, config: WebConfig) -> None:
    """Hand the signed key to the browser (a session cookie: it ends with the browser)."""
    response.set_cookie(
        cookie_name(secure),
        _signer(config.secret).sign(key).decode(),
        path="/",
        secure=secure,
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response, *, secure: bool) -> None:
    """Remove the session cookie from the browser."""
    response.delete_cookie(cookie_name(secure), path="/", secure=secure, httponly=True)
