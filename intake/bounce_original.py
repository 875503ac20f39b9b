"""Find the Message-ID of the mail a bounce returns, so the bounce can be threaded to it.

Part of screening (`intake.bounces`). Correlation later looks the id up among the Message-IDs
we sent (DESIGN.md, Threading). Sources, most reliable first:

1. the returned message itself: a message/rfc822 part (RFC 6522 third part) or the headers-only
   text/rfc822-headers variant (RFC 3462/6522);
2. `Message-ID:` lines of an original quoted in the body, as non-standard bounces (qmail,
   Exim, old Sendmail) append it after a separator line;
3. an X-Original-Message-ID field in the delivery-status part;
4. the bounce's own In-Reply-To / References, which some MTAs (Gmail among them) fill with the
   returned message's id.
"""

from __future__ import annotations

import re
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32

from intake.bounce_mime import (
    RETURNED_MESSAGE_TYPES,
    decode_text,
    is_unparsed_multipart,
    normalize_message_id,
    part_bytes,
    part_text,
    raw_header,
    walk,
)

_QUOTED_MESSAGE_ID = re.compile(
    r"^[ \t>|]*(?:Message-ID|Message-Id|Original-Message-ID)[ \t]*:[ \t]*(?:\r?\n[ \t]+)?"
    r"(<[^<>\s]{1,900}>|[^\s<>]{1,900}@[^\s<>]{1,255})",
    re.IGNORECASE | re.MULTILINE,
)


def _returned_part_id(part: Message, ctype: str) -> str | None:
    if ctype == "message/rfc822":
        try:
            payload = part.get_payload()
        except Exception:
            payload = None
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            found = normalize_message_id(raw_header(payload[0], "Message-ID"))
            if found:
                return found
        # A returned message that did not parse as one: read its text instead.
        return quoted_message_id(decode_text(part_bytes(part), None))
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    text = decode_text(part_bytes(part), charset)
    try:
        headers = HeaderParser(policy=compat32).parsestr(text[:200_000], headersonly=True)
        found = normalize_message_id(raw_header(headers, "Message-ID"))
    except Exception:
        found = None
    return found or quoted_message_id(text)


def quoted_message_id(text: str) -> str | None:
    """The first Message-ID header line quoted in free text (a returned original)."""
    match = _QUOTED_MESSAGE_ID.search(text)
    if not match:
        return None
    return normalize_message_id(match.group(1))


def _from_parts(msg: Message) -> str | None:
    """Sources 1 and 2: a returned message part, else a Message-ID quoted in the text."""
    texts: list[str] = []
    for walked in walk(msg):
        found: str | None = None
        if walked.content_type in RETURNED_MESSAGE_TYPES:
            found = _returned_part_id(walked.part, walked.content_type)
        elif walked.depth > 0 and raw_header(walked.part, "Message-ID"):
            # An original attached without a Content-Type: its header block became the
            # part's headers (MIME parts default to text/plain, RFC 2046 section 5.1).
            found = normalize_message_id(raw_header(walked.part, "Message-ID"))
        elif walked.content_type.startswith("text/") or is_unparsed_multipart(walked.part):
            texts.append(part_text(walked.part))
        if found:
            return found
    for text in texts:
        found = quoted_message_id(text)
        if found:
            return found
    return None


def _from_own_headers(msg: Message) -> str | None:
    """Source 4: the bounce's In-Reply-To, else the last of its References."""
    found = normalize_message_id(raw_header(msg, "In-Reply-To"))
    if found:
        return found
    references = re.findall(r"<[^<>\s]+>", raw_header(msg, "References"))
    return normalize_message_id(references[-1]) if references else None


def original_message_id(msg: Message, *, dsn_original_id: str | None = None) -> str | None:
    """The Message-ID (without angle brackets) of the message that `msg` returns, if any."""
    return (
        _from_parts(msg)
        or (normalize_message_id(dsn_original_id) if dsn_original_id else None)
        or _from_own_headers(msg)
    )
