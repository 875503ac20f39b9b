"""Reply tokens: `help+<token>@example.org` addresses that lead a reply to its ticket.

A token names the ticket and carries an HMAC-SHA256 over (ticket, recipient) truncated to 130
bits, so it cannot be guessed and only proves something for mail from the recipient it was made
for (DESIGN.md, Threading). It is lower-case base32: mail systems may change the case of a
local part (RFC 5321 §2.4 lets them treat it as case-insensitive in practice).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

TOKEN_PREFIX = "t"
_MAC_CHARS = 26  # 26 base32 characters = 130 bits
_TOKEN_RE = re.compile(rf"^{TOKEN_PREFIX}(\d{{1,12}})-([a-z2-7]{{{_MAC_CHARS}}})$")


@dataclass(frozen=True)
class ReplyTokenKey:
    """The secret that signs tokens (from the settings)."""

    secret: bytes


def _mac(key: ReplyTokenKey, ticket_id: int, recipient: str) -> str:
    message = f"reply:{ticket_id}:{recipient.strip().lower()}".encode()
    digest = hmac.new(key.secret, message, hashlib.sha256).digest()
    return base64.b32encode(digest).decode().lower()[:_MAC_CHARS]


def make_token(key: ReplyTokenKey, ticket_id: int, recipient: str) -> str:
    """The token for mail to `recipient` about ticket `ticket_id`."""
    return f"{TOKEN_PREFIX}{ticket_id}-{_mac(key, ticket_id, recipient)}"


def reply_address(key: ReplyTokenKey, helpdesk_address: str, ticket_id: int, recipient: str) -> str:
    """`help+<token>@domain` for the help desk address `help@domain`."""
    local, _, domain = helpdesk_address.partition("@")
    return f"{local}+{make_token(key, ticket_id, recipient)}@{domain}"


def verify_token(key: ReplyTokenKey, token: str, sender: str) -> int | None:
    """The ticket id when `token` is valid for mail from `sender`, else None."""
    match = _TOKEN_RE.match(token.strip().lower())
    if match is None:
        return None
    ticket_id = int(match.group(1))
    if hmac.compare_digest(match.group(2), _mac(key, ticket_id, sender)):
        return ticket_id
    return None


def token_from_address(address: str, helpdesk_addresses: frozenset[str]) -> str | None:
    """The `+token` part of an address to one of our addresses, if it has one."""
    local, at, domain = address.strip().lower().rpartition("@")
    if not at:
        return None
    base, plus, tag = local.partition("+")
    if not plus or f"{base}@{domain}" not in helpdesk_addresses:
        return None
    return tag


def is_helpdesk_address(address: str, helpdesk_addresses: frozenset[str]) -> bool:
    """True for our addresses and their `+tag` variants (RCPT TO checks this)."""
    local, at, domain = address.strip().lower().rpartition("@")
    if not at:
        return False
    base = local.partition("+")[0]
    return f"{base}@{domain}" in helpdesk_addresses
