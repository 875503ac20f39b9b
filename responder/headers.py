"""Header values of outgoing mail: one clean line each, and addresses and ids we can vouch for.

Everything that may carry mail text (a subject, a display name, a Message-ID a requester's
client made up) passes through here before it becomes a header. RFC 5322 §2.2 makes a header
field one logical line: a CR or LF inside a value would start a new field (header injection,
"Bcc:" smuggled in a subject), so every control character is removed, not only CR/LF. The
stdlib `email` package refuses CR/LF in values too; we do not rely on it.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable

from responder.errors import AddressError

# C0 and C1 controls, DEL, the Unicode line and paragraph separators, and the bidirectional
# overrides (they can make a subject read differently from what it says).
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")
_SPACES = re.compile(r"\s+")
ELLIPSIS = "…"

# RFC 5322 §3.2.3 dot-atom text; quoted local parts are refused (no help desk needs them).
_ATOM = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
MAX_ADDRESS_CHARS = 254  # RFC 5321 §4.5.3.1.3 path limit minus the angle brackets
MAX_LOCAL_CHARS = 64  # RFC 5321 §4.5.3.1.1

# The token of `intake.reply_tokens` ("t12-<26 base32>") and anything of its shape; the dot
# separates it from the random part in our Message-IDs, so it may not contain one.
_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
# msg-id characters we accept from others (RFC 5322 §3.6.4, without the obsolete forms).
_ID = re.compile(r"^[!#-'*-+\-/-9=?A-Z^-~.]+@[!#-'*-+\-/-9=?A-Z^-~.\[\]]+$")
MAX_ID_CHARS = 250  # keeps `References:` folding within RFC 5322's 998-octet lines


def one_line(value: str) -> str:
    """`value` without control characters, runs of white space collapsed, trimmed."""
    return _SPACES.sub(" ", _CONTROLS.sub(" ", value)).strip()


def shorten(text: str, max_chars: int) -> str:
    """`text` cut to at most `max_chars` characters, at a word boundary when one is near."""
    if len(text) <= max_chars:
        return text
    if max_chars <= 1:
        return ELLIPSIS[:max_chars]
    cut = text[: max_chars - 1]
    space = cut.rfind(" ")
    if space >= max_chars * 0.7:
        cut = cut[:space]
    return cut.rstrip() + ELLIPSIS


def header_text(value: str, max_chars: int) -> str:
    """A safe header value from any text: one line, no control characters, capped."""
    return shorten(one_line(value), max_chars)


def body_text(value: str) -> str:
    """Rendered body text with line breaks normalised and other control characters removed.

    Tabs and newlines stay; CR is dropped (the MIME encoder writes CRLF itself), and escape
    sequences from hostile mail never reach a requester's terminal-based reader.
    """
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    return re.sub("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]", "", text)


def mailbox_address(value: str) -> str:
    """An address we may put in a header and an SMTP command, or AddressError.

    International domains become their ASCII (IDNA) form; international local parts would
    need SMTPUTF8 (RFC 6531) end to end, which a relay may not offer, so they are refused.
    """
    address = value.strip()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise AddressError(f"not an e-mail address: {one_line(value)[:100]!r}")
    if len(local) > MAX_LOCAL_CHARS or not all(_ATOM.match(p) for p in local.split(".")):
        raise AddressError(f"unusable local part in {one_line(value)[:100]!r}")
    try:
        ascii_domain = domain.encode("idna").decode("ascii") if not domain.isascii() else domain
    except UnicodeError as exc:
        raise AddressError(f"bad domain in {one_line(value)[:100]!r}") from exc
    labels = ascii_domain.rstrip(".").split(".")
    if len(labels) < 1 or not all(_LABEL.match(label) for label in labels):
        raise AddressError(f"bad domain in {one_line(value)[:100]!r}")
    result = f"{local}@{'.'.join(labels)}"
    if len(result) > MAX_ADDRESS_CHARS:
        raise AddressError("address too long")
    return result


def is_mailbox_address(value: str) -> bool:
    """True when `mailbox_address` would accept `value`."""
    try:
        mailbox_address(value)
    except AddressError:
        return False
    return True


def message_id_domain(value: str) -> str:
    """The right-hand side of our Message-IDs, checked to be a host name."""
    domain = value.strip().lower()
    labels = domain.split(".")
    if not domain or not all(_LABEL.match(label) for label in labels):
        raise AddressError(f"not a host name for Message-IDs: {one_line(value)[:100]!r}")
    return domain


def new_message_id(domain: str, token: str | None = None) -> str:
    """A fresh Message-ID (without angle brackets): `<token>.<random>@<domain>` or `<random>@...`.

    The reply token at the front lets a reply find its ticket even when the client dropped the
    Reply-To address but kept In-Reply-To (DESIGN.md, Threading; intake/threading.py reads it).
    96 random bits make the id unique without coordination between senders (RFC 5322 §3.6.4).
    """
    random_part = secrets.token_hex(12)
    if token is None:
        return f"{random_part}@{message_id_domain(domain)}"
    if not _TOKEN.match(token):
        raise AddressError("a reply token may only hold letters, digits, '-' and '_'")
    return f"{token}.{random_part}@{message_id_domain(domain)}"


def clean_message_id(value: str) -> str | None:
    """A Message-ID from elsewhere, without angle brackets, or None when unusable in a header."""
    candidate = value.strip().strip("<>").strip()
    if not candidate or len(candidate) > MAX_ID_CHARS or not _ID.match(candidate):
        return None
    return candidate


def references(ids: Iterable[str], limit: int) -> list[str]:
    """Usable, distinct Message-IDs in order, trimmed to `limit`: the root and the newest.

    RFC 5322 §3.6.4 builds References from the parent's References plus the parent; long
    threads may drop ids from the middle, keeping the first (the thread's root) and the latest.
    """
    seen: dict[str, None] = {}
    for value in ids:
        cleaned = clean_message_id(value)
        if cleaned is not None:
            seen.setdefault(cleaned, None)
    found = list(seen)
    if len(found) <= limit:
        return found
    if limit <= 1:
        return found[-limit:] if limit == 1 else []
    return [found[0], *found[len(found) - (limit - 1) :]]


def angle(message_id: str) -> str:
    """A bare Message-ID in its header form `<id>`."""
    return f"<{message_id}>"
