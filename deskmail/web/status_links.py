"""Requesters' status links: signed tokens that open one ticket's status page for one person.

Requesters have no account. The acknowledgement and later mails carry a link
`<public_url>/status/<token>`; the token names the ticket and is signed (HMAC-SHA256,
itsdangerous) with a key derived from the help desk's secret *and the recipient's address*, so
it opens that ticket only, only for a person the ticket still lists as requester or CC, and
the address itself never appears in the URL (docs/decisions/0106). Tokens expire after
`status_link_days` (the signature carries its time).

This module does not import the web framework: the responder's wiring calls `status_link`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer

from deskmail.settings import Settings
from deskmail.web.config import web_config

_SALT = "deskmail.status-link.v1"
MAX_TOKEN_CHARS = 200


def _serializer(secret: bytes, email: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        secret,
        salt=f"{_SALT}:{email.strip().lower()}",
        signer_kwargs={"digest_method": hashlib.sha256},
    )


def make_status_token(secret: bytes, ticket_id: int, email: str) -> str:
    """The token for `email`'s view of ticket `ticket_id`."""
    return str(_serializer(secret, email).dumps(ticket_id))


def claimed_ticket(token: str) -> int | None:
    """The ticket number a token claims to be for, before any check (None when malformed)."""
    if len(token) > MAX_TOKEN_CHARS:
        return None
    try:
        _valid, payload = URLSafeTimedSerializer(b"-").loads_unsafe(token)
    except Exception:
        return None
    if isinstance(payload, int) and not isinstance(payload, bool) and payload > 0:
        return payload
    return None


def verify_status_token(
    secret: bytes, token: str, ticket_id: int, emails: Iterable[str], *, max_age: timedelta
) -> str | None:
    """Which of `emails` the token was made for (it must name `ticket_id`), or None."""
    if len(token) > MAX_TOKEN_CHARS:
        return None
    for email in emails:
        try:
            payload = _serializer(secret, email).loads(token, max_age=int(max_age.total_seconds()))
        except BadSignature:  # also SignatureExpired
            continue
        if payload == ticket_id:
            return email.strip().lower()
    return None


def status_path(secret: bytes, ticket_id: int, email: str) -> str:
    """The path of the status page (for links inside the UI)."""
    return f"/status/{make_status_token(secret, ticket_id, email)}"


def status_link(settings: Settings, ticket_id: int, email: str) -> str:
    """The absolute link to put in mail to `email` about ticket `ticket_id`."""
    config = web_config(settings)
    return config.public_url + status_path(config.secret, ticket_id, email)
