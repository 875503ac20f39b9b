"""The top header block of a raw mail, before the MIME parser sees it: measured and mended.

Two jobs of the MIME parsing stage that need the raw lines: enforcing the header limits
(bytes and fields of the top header section, RFC 5322 section 2.2) and mending header blocks
whose folded lines lost their leading white space or that start with a stray line (some
gateways and forwarding scripts produce them). Python's parser would end the header at the
first such line and read every later header as body text; mending keeps From, Subject and
the MIME structure readable. A stray line only counts as part of the header when a blank
line follows and well-known fields come after it; otherwise it is where the body starts.
"""

import re

from intake.errors import MailQuarantined, QuarantineReason
from intake.limits import MailLimits

_FIELD = re.compile(rb"^([\x21-\x39\x3b-\x7e]+)[ \t]*:")
# Fields nearly every mail has: seeing one after a stray line proves the header goes on.
_COMMON_FIELDS = frozenset(
    {
        b"from",
        b"to",
        b"cc",
        b"subject",
        b"date",
        b"message-id",
        b"mime-version",
        b"content-type",
        b"content-transfer-encoding",
        b"received",
        b"return-path",
        b"reply-to",
        b"sender",
        b"in-reply-to",
        b"references",
    }
)


def _lines(raw: bytes, limit: int) -> list[bytes]:
    """The lines (with their endings) up to the first blank line, reading at most `limit`."""
    lines: list[bytes] = []
    position = 0
    while position < len(raw) and position <= limit:
        end = raw.find(b"\n", position)
        end = len(raw) if end < 0 else end + 1
        line = raw[position:end]
        lines.append(line)
        if line.strip(b"\r\n") == b"":
            break
        position = end
    return lines


def _kind(line: bytes, index: int) -> str:
    if line.strip(b"\r\n") == b"":
        return "blank"
    if line[:1] in (b" ", b"\t"):
        return "continuation"
    if index == 0 and line.startswith(b"From "):
        return "envelope"
    return "field" if _FIELD.match(line) else "stray"


def check_header_block(raw: bytes, limits: MailLimits) -> None:
    """Raise `MailQuarantined(header_too_large)` when the top header is over the limits."""
    size = 0
    fields = 0
    for index, line in enumerate(_lines(raw, limits.max_header_bytes)):
        kind = _kind(line, index)
        if kind in ("blank", "stray"):
            return
        size += len(line)
        fields += kind == "field"
        if fields > limits.max_header_fields:
            raise MailQuarantined(
                QuarantineReason.HEADER_TOO_LARGE,
                f"more than {limits.max_header_fields} header fields",
            )
        if size > limits.max_header_bytes:
            raise MailQuarantined(
                QuarantineReason.HEADER_TOO_LARGE,
                f"header section larger than {limits.max_header_bytes} bytes",
            )


def mend_header_block(raw: bytes, limits: MailLimits) -> bytes | None:
    """The raw mail with stray header lines mended, or None when nothing needed mending.

    Stray lines before the first field are dropped; stray lines between fields become
    continuation lines of the field before them (their leading white space was lost).
    """
    lines = _lines(raw, limits.max_header_bytes)
    kinds = [_kind(line, index) for index, line in enumerate(lines)]
    if "stray" not in kinds or kinds[-1] != "blank":
        return None
    first_stray = kinds.index("stray")
    later = [
        match.group(1).lower()
        for line, kind in zip(lines[first_stray:], kinds[first_stray:], strict=True)
        if kind == "field" and (match := _FIELD.match(line))
    ]
    if not _COMMON_FIELDS.intersection(later):
        return None
    mended: list[bytes] = []
    seen_field = False
    for line, kind in zip(lines, kinds, strict=True):
        seen_field = seen_field or kind == "field"
        if kind == "stray":
            if seen_field:
                mended.append(b" " + line)
            continue
        mended.append(line)
    consumed = sum(len(line) for line in lines)
    return b"".join(mended) + raw[consumed:]
