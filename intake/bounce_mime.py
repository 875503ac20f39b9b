"""Bounded, never-raising access to a parsed message for the screening stage.

Screening (`intake.screening`) runs right after MIME loading on an `email.message.Message`
parsed with `policy=compat32`. Bounce, report and auto-reply detection all need the same few
things from it: decoded header text, a walk over the parts that stops at limits, and the
readable text of the notification (not of the returned original message). They live here so
each detector stays small. Every function tolerates broken input: a hostile or damaged mail
yields empty strings, never an exception.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.header import Header, decode_header
from email.message import Message
from email.utils import getaddresses

# Limits: screening looks at the structure and the notification text of a mail, never at
# megabytes of attachments. A bounce notice is small; anything beyond these sizes is either the
# returned original or an attack on our regexes.
MAX_PARTS = 200
MAX_DEPTH = 12
MAX_HEADER_CHARS = 4000
MAX_PART_TEXT_CHARS = 100_000
MAX_NOTICE_CHARS = 200_000

# Content types that carry the returned original message (RFC 3462/6522 report parts and the
# way non-standard bounces attach it).
RETURNED_MESSAGE_TYPES = frozenset(
    {"message/rfc822", "text/rfc822-headers", "message/rfc822-headers"}
)

_CRLF = re.compile(r"[\r\n]+\s*")
_ADDR_SPEC = re.compile(r"[^\s<>()\[\],;:\"'@]+@[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9])?")


def _decode_chunk(chunk: bytes | str, charset: str | None) -> str:
    if isinstance(chunk, str):
        # compat32 keeps raw 8-bit header bytes as surrogates; most such headers are UTF-8.
        try:
            return chunk.encode("utf-8", "surrogateescape").decode("utf-8")
        except UnicodeError:
            return chunk.encode("utf-8", "replace").decode("utf-8", "replace")
    if charset in (None, "unknown-8bit"):
        charset = None
    return decode_text(chunk, charset)


def _flatten(value: object) -> str:
    """Turn a compat32 header value (str or `email.header.Header`) into one line of text."""
    if value is None:
        return ""
    try:
        chunks = decode_header(value if isinstance(value, Header) else str(value))
        text = "".join(_decode_chunk(chunk, charset) for chunk, charset in chunks)
    except Exception:  # malformed encoded words or unknown charsets: keep what str() gives
        try:
            text = str(value)
        except Exception:
            return ""
    return _CRLF.sub(" ", text).strip()[:MAX_HEADER_CHARS]


def header(msg: Message, name: str) -> str:
    """The first `name` header, RFC 2047-decoded, unfolded, without CR/LF; "" if absent."""
    try:
        value = msg.get(name)
    except Exception:
        return ""
    return _flatten(value)


def headers(msg: Message, name: str) -> list[str]:
    """All `name` headers, decoded like `header`."""
    try:
        values = msg.get_all(name) or []
    except Exception:
        return []
    return [_flatten(v) for v in values[:50]]


def raw_header(msg: Message, name: str) -> str:
    """The first `name` header without RFC 2047 decoding (for Message-IDs and addresses)."""
    try:
        value = msg.get(name)
    except Exception:
        return ""
    if value is None:
        return ""
    try:
        text = str(value)
    except Exception:
        return ""
    return _CRLF.sub(" ", text).strip()[:MAX_HEADER_CHARS]


def addresses(value: str) -> list[str]:
    """The lower-cased addr-specs in an address header value (display names dropped)."""
    found: list[str] = []
    try:
        pairs = getaddresses([value])
    except Exception:
        pairs = []
    for _name, raw in pairs:
        addr = raw.strip().strip("<>").lower()
        if "@" in addr and addr not in found:
            found.append(addr)
    if not found:
        found = [a.rstrip(".") for a in find_addr_specs(value)]
    return found


def normalize_message_id(value: str) -> str | None:
    """The first Message-ID in a header value, without angle brackets; None if there is none."""
    value = value.strip()
    if not value:
        return None
    match = re.search(r"<\s*([^<>\s]+?)\s*>", value)
    if match:
        return match.group(1)[:998]
    # Some MTAs write the id without brackets; accept one token with an "@".
    token = value.split()[0].strip("<>\"'")
    if "@" in token and len(token) > 3:
        return token[:998]
    return None


@dataclass(frozen=True)
class WalkedPart:
    """One part met while walking, with its depth and whether it lies in a returned message."""

    part: Message
    depth: int
    content_type: str


def content_type(part: Message) -> str:
    """The part's content type, lower-case; text/plain when absent or unparseable."""
    try:
        return part.get_content_type().lower()
    except Exception:
        return "text/plain"


def walk(msg: Message, *, into_returned: bool = False) -> Iterator[WalkedPart]:
    """Depth-first walk over `msg`, bounded by MAX_PARTS and MAX_DEPTH.

    With `into_returned=False` (the default) a returned message (message/rfc822) is yielded
    but not entered: its parts belong to the original mail, not to the notification.
    """
    stack: list[tuple[Message, int]] = [(msg, 0)]
    seen = 0
    while stack and seen < MAX_PARTS:
        part, depth = stack.pop()
        seen += 1
        ctype = content_type(part)
        yield WalkedPart(part, depth, ctype)
        if depth >= MAX_DEPTH:
            continue
        if ctype == "message/rfc822" and not into_returned:
            continue
        if ctype == "message/delivery-status":
            continue  # its "sub-messages" are the DSN field blocks, not parts
        try:
            payload = part.get_payload() if part.is_multipart() else None
        except Exception:
            payload = None
        if isinstance(payload, list):
            children = [p for p in payload if isinstance(p, Message)]
            stack.extend((child, depth + 1) for child in reversed(children[:MAX_PARTS]))


def returned_messages(msg: Message) -> list[Message]:
    """The parsed messages of the message/rfc822 parts of `msg` (a bounce's returned mail)."""
    found: list[Message] = []
    for walked in walk(msg):
        if walked.content_type != "message/rfc822":
            continue
        try:
            payload = walked.part.get_payload()
        except Exception:  # a damaged part simply has no returned message
            payload = None
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            found.append(payload[0])
    return found


def part_bytes(part: Message) -> bytes:
    """The decoded payload of a leaf part (transfer encoding undone); b"" on any problem."""
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if isinstance(data, bytes):
        return data[: MAX_PART_TEXT_CHARS * 4]
    try:
        payload = part.get_payload()
    except Exception:
        return b""
    if isinstance(payload, str):
        return payload[: MAX_PART_TEXT_CHARS * 4].encode("utf-8", "surrogateescape")
    if isinstance(payload, list):
        # message/* parts parsed into sub-messages: re-serialise their headers and bodies.
        try:
            return "\n\n".join(p.as_string() for p in payload if isinstance(p, Message)).encode(
                "utf-8", "replace"
            )[: MAX_PART_TEXT_CHARS * 4]
        except Exception:
            return b""
    return b""


def decode_text(data: bytes, charset: str | None) -> str:
    """Decode bytes with the declared charset, then UTF-8, then Latin-1 (which cannot fail)."""
    for candidate in (charset, "utf-8"):
        if not candidate:
            continue
        try:
            return data.decode(candidate)
        except (LookupError, UnicodeDecodeError, ValueError):
            continue
    return data.decode("latin-1")


_TAG = re.compile(r"<[^<>]{0,2000}>")
_BLOCK_TAG = re.compile(r"<\s*(?:br|/p|p|/div|div|/tr|tr|li|/li|/h\d)\b[^<>]{0,500}>", re.I)


def _drop_elements(markup: str, name: str) -> str:
    """Remove <script>/<style> elements with plain string search (no backtracking regex)."""
    lowered = markup.lower()
    pieces: list[str] = []
    position = 0
    while True:
        start = lowered.find(f"<{name}", position)
        if start < 0:
            pieces.append(markup[position:])
            break
        pieces.append(markup[position:start])
        end = lowered.find(f"</{name}", start)
        if end < 0:
            break  # unclosed: the rest is script
        close = lowered.find(">", end)
        position = len(markup) if close < 0 else close + 1
    return " ".join(pieces)


def html_to_text(markup: str) -> str:
    """Crude tag stripping, enough to find phrases and addresses in an HTML bounce notice."""
    markup = markup[: MAX_PART_TEXT_CHARS * 2]
    for name in ("script", "style"):
        markup = _drop_elements(markup, name)
    markup = _BLOCK_TAG.sub("\n", markup)
    markup = _TAG.sub(" ", markup)
    return html.unescape(markup)


def part_text(part: Message) -> str:
    """The readable text of a text/* leaf part (HTML reduced to text), bounded in size."""
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    text = decode_text(part_bytes(part), charset)
    if content_type(part) == "text/html":
        text = html_to_text(text)
    return text.replace("\r\n", "\n").replace("\r", "\n")[:MAX_PART_TEXT_CHARS]


def is_unparsed_multipart(part: Message) -> bool:
    """A multipart whose boundary was lost (a folded header gone wrong): read it as text."""
    if not content_type(part).startswith("multipart/"):
        return False
    try:
        return isinstance(part.get_payload(), str)
    except Exception:
        return False


def notification_text(msg: Message) -> str:
    """The text a human would read as the notice: text parts outside any returned message.

    Plain text is preferred; an HTML part counts only when its multipart/alternative sibling
    has no plain text (or when there is no plain text at all).
    """
    plain: list[str] = []
    html_parts: list[str] = []
    for walked in walk(msg):
        if walked.content_type in RETURNED_MESSAGE_TYPES:
            continue
        if walked.content_type == "text/plain" or is_unparsed_multipart(walked.part):
            plain.append(part_text(walked.part))
        elif walked.content_type == "text/html":
            html_parts.append(part_text(walked.part))
        if sum(map(len, plain)) > MAX_NOTICE_CHARS:
            break
    chosen = plain if any(t.strip() for t in plain) else html_parts
    return "\n".join(chosen)[:MAX_NOTICE_CHARS]


MAX_TOKEN_CHARS = 600


def find_addr_specs(text: str) -> list[str]:
    """Addr-specs in free text, lower-cased, in order of appearance, without duplicates.

    The text is cut into whitespace-separated tokens first, so a hostile run of characters
    costs linear time rather than a regex scan from every position.
    """
    found: list[str] = []
    for token in text[:MAX_NOTICE_CHARS].split():
        if "@" not in token or len(token) > MAX_TOKEN_CHARS:
            continue
        for match in _ADDR_SPEC.finditer(token):
            addr = match.group(0).lower().rstrip(".-")
            if addr not in found:
                found.append(addr)
    return found


ADDR_SPEC = _ADDR_SPEC
