"""One MIME part in the parsing stage: its decoded bytes, name, disposition and Content-ID.

Content-Transfer-Encoding is decoded here rather than by `Message.get_payload(decode=True)`
because real mail writes "Base64 " or "quoted-printable; x", breaks base64 padding and uses
x-uuencode; each of these must still give the part's bytes (RFC 2045 section 6).
"""

import binascii
import io
import re
from email.generator import BytesGenerator
from email.message import Message
from email.policy import compat32

from intake.attachments import decode_uu_payload
from intake.mime_headers import decode_encoded_words, raw_text, unfold
from intake.mime_text import payload_of, strip_controls

_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")
_UUENCODINGS = frozenset({"x-uuencode", "uuencode", "x-uue", "uue"})
MAX_CONTENT_ID_CHARS = 998

# Serialising an attached message: no header refolding, no ">From " mangling, so the .eml
# stays as close to the bytes the sender wrote as the parsed tree allows.
_EML_POLICY = compat32.clone(max_line_length=0)


def _payload_text(part: Message) -> bytes:
    """The payload as ASCII bytes, for encodings whose alphabet is ASCII (base64, uuencode).

    `get_payload()` turns 8-bit bytes into U+FFFD; these are not in either alphabet anyway.
    """
    payload = payload_of(part)
    if not isinstance(payload, str):
        return b""
    return payload.encode("ascii", "replace")


def _payload_bytes(part: Message) -> bytes:
    """The undecoded payload bytes, 8-bit bytes included.

    compat32 hands out the bytes the parser kept for any transfer encoding it does not
    decode itself (7bit, 8bit, binary and misspelt ones); callers decode base64,
    quoted-printable and uuencode from these or from `_payload_text`.
    """
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def transfer_encoding(part: Message) -> str:
    value = str(part.get("Content-Transfer-Encoding", "") or "")
    return raw_text(unfold(value)).strip().split(";")[0].strip().lower()


def decode_base64(data: bytes) -> tuple[bytes, bool]:
    """Lenient base64 (RFC 2045 section 6.8): (bytes, whether anything had to be repaired)."""
    stripped = b"".join(data.split())
    cleaned = _NOT_BASE64.sub(b"", stripped.rstrip(b"="))
    repaired = cleaned != stripped.rstrip(b"=")
    if len(cleaned) % 4 == 1:
        # One stray character cannot encode anything.
        cleaned = cleaned[:-1]
        repaired = True
    cleaned += b"=" * (-len(cleaned) % 4)
    try:
        return binascii.a2b_base64(cleaned), repaired
    except (binascii.Error, ValueError):
        return b"", True


def part_bytes(part: Message) -> tuple[bytes, list[str]]:
    """The decoded content of a leaf part and defects met while decoding it."""
    encoding = transfer_encoding(part)
    as_parsed = str(part.get("Content-Transfer-Encoding", "")).lower()
    if encoding == "base64":
        decoded, repaired = decode_base64(_payload_text(part))
        return decoded, (["invalid_base64"] if repaired else [])
    if encoding == "quoted-printable":
        if as_parsed == encoding:
            # The email package decodes it from the raw bytes, 8-bit bytes kept as they are.
            return _payload_bytes(part), []
        # a2b_qp leaves malformed "=" escapes as they are, as RFC 2045 section 6.7 advises.
        return binascii.a2b_qp(_payload_bytes(part)), []
    if encoding in _UUENCODINGS:
        unpacked = decode_uu_payload(_payload_text(part))
        if unpacked is None:
            return _payload_text(part), ["invalid_uuencode"]
        return unpacked.data, []
    return _payload_bytes(part), []


def uuencoded_name(part: Message) -> str | None:
    """The file name in the "begin" line of an x-uuencode part, if any."""
    if transfer_encoding(part) not in _UUENCODINGS:
        return None
    unpacked = decode_uu_payload(_payload_text(part))
    return unpacked.filename if unpacked and unpacked.filename else None


def part_filename(part: Message, hint: str | None) -> str | None:
    """The decoded file name (Content-Disposition filename, else Content-Type name).

    RFC 2231 parameters (continuations, charsets) are decoded by the email package; RFC 2047
    encoded words inside the quoted value are not standard but common, and decoded here too.
    """
    # Parameters are read from the raw header values decoded to text first: the email package
    # would turn raw 8-bit bytes in a quoted file name into U+FFFD.
    decoded = Message()
    for field in ("Content-Disposition", "Content-Type"):
        for key, value in part.raw_items():
            if key.lower() == field.lower():
                decoded[field] = raw_text(unfold(str(value)), hint)
                break
    try:
        name = decoded.get_filename()
    except (ValueError, LookupError, TypeError, IndexError):
        name = None
    if not name:
        return None
    return decode_encoded_words(raw_text(unfold(str(name)), hint)).strip() or None


def part_disposition(part: Message) -> str:
    value = str(part.get("Content-Disposition", "") or "")
    return raw_text(unfold(value)).split(";")[0].strip().lower()


def part_content_id(part: Message) -> str | None:
    value = part.get("Content-ID")
    if value is None:
        return None
    cleaned = strip_controls(raw_text(unfold(str(value)))).strip().strip("<>").strip()
    return cleaned[:MAX_CONTENT_ID_CHARS] or None


def part_description(part: Message, hint: str | None) -> str | None:
    value = part.get("Content-Description")
    if value is None:
        return None
    return strip_controls(decode_encoded_words(raw_text(unfold(str(value)), hint))).strip() or None


def message_bytes(message: Message) -> bytes:
    """An attached message serialised back to bytes, as the .eml the agent can download."""
    buffer = io.BytesIO()
    generator = BytesGenerator(buffer, mangle_from_=False, policy=_EML_POLICY)
    try:
        generator.flatten(message)
    except (ValueError, TypeError, LookupError, UnicodeError, RecursionError):
        return b""
    return buffer.getvalue()


def body_bytes(part: Message) -> bytes:
    """The body of a container part (message/delivery-status, message/external-body, ...)."""
    whole = message_bytes(part)
    for separator in (b"\r\n\r\n", b"\n\n"):
        index = whole.find(separator)
        if index >= 0:
            return whole[index + len(separator) :]
    return b""
