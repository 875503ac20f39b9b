"""Login rate limiting: failed logins counted per account and per client address, with lockout.

The counters live in the database (`login_throttle`), so every web process of a scaled-out
installation sees the same numbers. A key collects failures within a window; reaching the
limit locks the key for the lockout time, during which even the right password is refused
(otherwise the lock would not stop guessing). IPv6 clients are counted per /64, the block one
subscriber usually gets (docs/decisions/0104).
"""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from deskmail.web.config import ThrottlePolicy
from models.web import LoginThrottle

# Rows untouched this long (and not locked) are forgotten.
RETENTION = timedelta(days=1)


def account_key(email: str) -> str:
    """The throttle key of an account (whether or not it exists)."""
    return "account:" + email.strip().lower()[:320]


def address_key(ip: str) -> str:
    """The throttle key of a client address: IPv4 as is, IPv6 by its /64."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return "ip:" + ip[:64]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is None:
        return "ip:" + str(ipaddress.IPv6Network((address, 64), strict=False))
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return "ip:" + str(address.ipv4_mapped)
    return "ip:" + str(address)


def locked_until(db: Session, keys: list[str], now: datetime) -> datetime | None:
    """The latest lock end among `keys` that is still in the future, or None."""
    ends = db.execute(
        select(LoginThrottle.locked_until).where(
            LoginThrottle.key.in_(keys), LoginThrottle.locked_until > now
        )
    ).scalars()
    latest = [end for end in ends if end is not None]
    return max(latest) if latest else None


def record_failure(
    db: Session, key: str, *, limit: int, policy: ThrottlePolicy, now: datetime
) -> bool:
    """Count one failed login against `key`; True when this failure locked the key."""
    dialect = db.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    db.execute(
        insert(LoginThrottle)
        .values(key=key, failures=0, window_started_at=now, locked_until=None, updated_at=now)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    row = db.execute(
        select(LoginThrottle).where(LoginThrottle.key == key).with_for_update()
    ).scalar_one()
    if row.window_started_at + policy.window <= now:
        row.failures = 0
        row.window_started_at = now
    row.failures += 1
    row.updated_at = now
    locked = row.failures >= limit
    if locked:
        row.locked_until = now + policy.lockout
        row.failures = 0
        row.window_started_at = now
    db.execute(
        delete(LoginThrottle).where(
            LoginThrottle.updated_at < now - RETENTION,
            or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until < now),
        )
    )
    return locked


def clear(db: Session, key: str) -> None:
    """Forget the failures of `key` (after a successful login of that account)."""
    db.execute(delete(LoginThrottle).where(LoginThrottle.key == key))
