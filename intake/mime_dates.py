"""The Date header of the MIME parsing stage, as a timezone-aware UTC datetime.

RFC 5322 section 3.3 dates, plus what real mail carries: obsolete and unofficial zone names,
two-digit years, ISO 8601 from broken scripts. A date that cannot be read or is implausible
(before 1970, or more than a day after the mail arrived) is not used: the caller falls back
to the time the mail was received and records why.
"""

import re
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_tz

# Zone names RFC 5322 does not define but mailers write; parsedate_tz reads them as UTC.
_ZONE_NAMES: dict[str, int] = {
    "CET": 60,
    "CEST": 120,
    "MEZ": 60,
    "MESZ": 120,
    "BST": 60,
    "WET": 0,
    "WEST": 60,
    "EET": 120,
    "EEST": 180,
    "MSK": 180,
    "IST": 330,
    "SGT": 480,
    "HKT": 480,
    "JST": 540,
    "KST": 540,
    "AEST": 600,
    "AEDT": 660,
    "NZST": 720,
    "NZDT": 780,
}
_TRAILING_ZONE = re.compile(r"\b([A-Za-z]{3,4})\)?\s*$")
_NUMERIC_ZONE = re.compile(r"[+-]\d{4}\b")

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
# Clocks of senders drift; more than this ahead of our receive time is not a real date.
MAX_AHEAD = timedelta(days=1)


def _zone_minutes(text: str) -> int | None:
    if _NUMERIC_ZONE.search(text):
        return None
    match = _TRAILING_ZONE.search(text)
    return _ZONE_NAMES.get(match.group(1).upper()) if match else None


def _parse(text: str) -> datetime | None:
    try:
        parts = parsedate_tz(text)
        if parts is None:
            parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        offset = parts[9]
        named = _zone_minutes(text)
        if named is not None:
            offset = named * 60
        # "-0000" or no zone at all: RFC 5322 says the local time is unknown; read as UTC.
        zone = timezone(timedelta(seconds=offset or 0))
        year, month, day, hour, minute, second = parts[:6]
        return datetime(year, month, day, hour, minute, min(second, 59), tzinfo=zone)
    except (ValueError, TypeError, OverflowError, IndexError):
        return None


def parse_date(value: str | None, received_at: datetime) -> tuple[datetime | None, str | None]:
    """(UTC datetime, None) for a usable Date value, else (None, a short defect name)."""
    if value is None or not value.strip():
        return None, "date_missing"
    parsed = _parse(value)
    if parsed is None:
        return None, "date_unparseable"
    parsed = parsed.astimezone(UTC)
    if parsed < EARLIEST or parsed > received_at.astimezone(UTC) + MAX_AHEAD:
        return None, "date_implausible"
    return parsed, None
