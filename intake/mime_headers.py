"""Header decoding of the MIME parsing stage: raw header values to clean, single-line text.

A header value arrives folded (RFC 5322 section 2.2.3), maybe with raw 8-bit bytes (UTF-8 per
RFC 6532, or a legacy charset), maybe with RFC 2047 encoded words in any charset, correct or
not. The result is one line without control characters: an encoded word that decodes to
CR/LF and "Bcc:" yields spaces and text, never a new header.
"""

import binascii
import re
from collections.abc import Iterable
from email.message import Message

from intake.charsets import codec_for, decode_bytes, detect_codec, is_single_byte
from intake.mime_text import payload_of, strip_controls

# RFC 2047 section 2: =?charset?encoding?encoded-text?=. Leniencies every mail reader has:
# encoded text may hold spaces (some mailers do not encode them) and the word may touch
# surrounding text ("Re:=?utf-8?...?="). A charset may carry an RFC 2231 language ("*de").
ENCODED_WORD = re.compile(r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([bBqQ])\?([^?]*?)\?=")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_QP_ESCAPE = re.compile(rb"=([0-9A-Fa-f]{2})")
_MSG_ID = re.compile(r"<([^<>\s]+)>")
_BARE_ID = re.compile(r"[^\s<>@,;]+@[^\s<>@,;]+")

_ENCODED_WORD_CHARSET = re.compile(r"=\?([^?*\s]+)[^?]*\?[bBqQ]\?")
# Parts looked at for declared charsets; the first few say all there is to say.
_HINT_PARTS = 64

# Longest message identifier we keep: RFC 5322 lines are at most 998 characters.
MAX_MESSAGE_ID_CHARS = 998


def unfold(value: str) -> str:
    """Remove folding line breaks (a CRLF followed by white space), RFC 5322 section 2.2.3."""
    return _FOLD.sub("", value)


def raw_text(value: object, hint: str | None = None) -> str:
    """A raw header value as text: 8-bit bytes (kept as surrogates by the parser) decoded.

    Raw 8-bit header text is UTF-8 when it is valid UTF-8 (RFC 6532), otherwise most likely
    in the charset the body declares (`hint`), otherwise whatever detection finds.
    """
    text = str(value)
    if text.isascii():
        return text
    data = text.encode("utf-8", "surrogateescape")
    return decode_bytes(data, None, hint=hint).text


def _decode_b(text: str) -> bytes | None:
    cleaned = re.sub(r"[^A-Za-z0-9+/]", "", text)
    if len(cleaned) % 4 == 1:
        cleaned = cleaned[:-1]  # one stray character cannot encode anything
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        return binascii.a2b_base64(cleaned)
    except (binascii.Error, ValueError):
        return None


def _decode_q(text: str) -> bytes:
    # RFC 2047 section 4.2: "_" is a space, "=XX" a byte; a stray "=" stays as it is.
    data = text.replace("_", " ").encode("ascii", "replace")
    return _QP_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), data)


def decode_encoded_words(value: str) -> str:
    """Decode RFC 2047 encoded words; white space between adjacent words is dropped (6.2).

    Adjacent words in the same charset are joined as bytes before decoding, because mailers
    split multi-byte characters across words. A word that does not decode stays as written.
    """
    pieces: list[str] = []
    pending: list[tuple[str, bytes]] = []  # (charset, bytes) of adjacent encoded words
    position = 0

    def flush() -> None:
        charset = ""
        chunk = b""
        for word_charset, data in pending:
            if word_charset != charset and chunk:
                pieces.append(decode_bytes(chunk, charset).text)
                chunk = b""
            charset = word_charset
            chunk += data
        if chunk:
            pieces.append(decode_bytes(chunk, charset).text)
        pending.clear()

    for match in ENCODED_WORD.finditer(value):
        between = value[position : match.start()]
        charset, encoding, encoded = match.group(1), match.group(2).upper(), match.group(3)
        data = _decode_b(encoded) if encoding == "B" else _decode_q(encoded)
        if data is None:
            continue
        if between and not (pending and between.isspace()):
            flush()
            pieces.append(between)
        pending.append((charset.lower(), data))
        position = match.end()
    flush()
    pieces.append(value[position:])
    return "".join(pieces)


def decode_header(value: object, hint: str | None = None) -> str:
    """A raw header value as one clean line: unfolded, 8-bit and RFC 2047 text decoded."""
    return strip_controls(decode_encoded_words(raw_text(unfold(str(value)), hint)))


def _clean_id(value: str) -> str | None:
    cleaned = strip_controls(value).strip().strip("<>").strip()
    if not cleaned or len(cleaned) > MAX_MESSAGE_ID_CHARS or " " in cleaned:
        return None
    return cleaned


def message_ids(values: Iterable[object]) -> list[str]:
    """The msg-ids (RFC 5322 section 3.6.4) in header values, without angle brackets, in order.

    Values without any angle brackets fall back to bare "left@right" tokens, which some
    mailers write; anything else (comments, dates that clients add) is ignored.
    """
    found: list[str] = []
    for value in values:
        text = raw_text(unfold(str(value)))
        # Bare ids only where no angle brackets are used at all: "<a b@c>" is no id.
        candidates = _MSG_ID.findall(text) if "<" in text else _BARE_ID.findall(text)
        for candidate in candidates:
            cleaned = _clean_id(candidate)
            if cleaned is not None and cleaned not in found:
                found.append(cleaned)
    return found


def trim_references(ids: list[str], limit: int) -> tuple[str, ...]:
    """At most `limit` references: the first (thread root) and the most recent ones.

    RFC 5322 section 3.6.4 lets a long References field drop entries from the middle; the
    root and the latest parents are what threading uses.
    """
    if len(ids) <= limit:
        return tuple(ids)
    if limit == 1:
        return (ids[-1],)
    return (ids[0], *ids[len(ids) - (limit - 1) :])


def raw_values(message: Message, name: str) -> list[str]:
    """The raw values (8-bit bytes as surrogates) of all fields called `name`, in order."""
    wanted = name.lower()
    return [str(value) for key, value in message.raw_items() if key.lower() == wanted]


def _declared_charsets(message: Message) -> list[str]:
    """Charsets the mail names: of its parts, then of encoded words in its top header."""
    found: list[str] = []
    for part in iter_parts(message, _HINT_PARTS):
        charset = part.get_content_charset()
        if charset:
            found.append(charset)
    for _, value in message.raw_items():
        found += [m.lower() for m in _ENCODED_WORD_CHARSET.findall(str(value))]
    # "us-ascii" says nothing about 8-bit text; unknown labels cannot decode anything.
    return [c for c in dict.fromkeys(found) if c not in ("us-ascii", "ascii") and codec_for(c)]


def charset_hint(message: Message) -> str | None:
    """The likeliest charset of undeclared 8-bit text in this mail (headers, bodies).

    Raw 8-bit header text (RFC 6532 allows only UTF-8, older mailers send their local
    charset) is most often in a charset the mail declares elsewhere; multi-byte charsets
    that decode it exactly are the strongest evidence, then single-byte ones, then detection
    over all of the mail's raw header text at once (short strings detect poorly alone).
    """
    declared = _declared_charsets(message)
    raw = b" ".join(
        str(value).encode("utf-8", "surrogateescape")
        for _, value in message.raw_items()
        if not str(value).isascii()
    )
    if not raw or raw.isascii():
        return declared[0] if declared else None
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    single_byte: str | None = None
    for charset in declared:
        codec = codec_for(charset)
        if codec is None:
            continue
        try:
            raw.decode(codec)
        except UnicodeDecodeError:
            continue
        if not is_single_byte(codec):
            return charset
        single_byte = single_byte or charset
    return single_byte or detect_codec(raw)


def iter_parts(message: Message, limit: int) -> list[Message]:
    """The first `limit` entities of a message in document order, without recursion."""
    found: list[Message] = []
    stack = [message]
    while stack and len(found) < limit:
        part = stack.pop()
        found.append(part)
        payload = payload_of(part)
        if isinstance(payload, list):
            stack.extend(reversed([p for p in payload if isinstance(p, Message)]))
    return found
