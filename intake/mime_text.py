"""Small text helpers of the MIME parsing stage: making decoded mail text safe to keep.

Header values end up in our own headers (replies), in the database and in the UI, so they
must never carry a line break (header injection) or another control character; body text
keeps its line breaks but loses NULs and other controls that break storage and display.
"""

import re
from email.message import Message

# Characters that end a line somewhere: CR, LF, VT, FF, the ASCII separators, NEL and the
# Unicode line and paragraph separators (all treated as line breaks by some consumer).
_LINE_BREAKS = "\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029"

# Bidirectional embeddings, overrides and isolates (Unicode UAX #9): they can make
# "invoice_gpj.exe" look like "invoice_exe.jpg" and have no place in a name or file name.
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def _control_code_points() -> list[int]:
    return [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]


_HEADER_TABLE: dict[int, str | None] = dict.fromkeys(_control_code_points())
_HEADER_TABLE.update({ord(ch): " " for ch in _LINE_BREAKS + "\t"})

_NAME_TABLE = dict(_HEADER_TABLE)
_NAME_TABLE.update({ord(ch): None for ch in BIDI_CONTROLS})

_BODY_TABLE: dict[int, str | None] = dict.fromkeys(_control_code_points())
_BODY_TABLE.update({ord("\n"): "\n", ord("\t"): "\t", 0x0C: "\n", 0x0B: "\n"})
_BODY_TABLE.update({0x2028: "\n", 0x2029: "\n\n", 0x85: "\n"})

_SURROGATES = re.compile("[\ud800-\udfff]")
_BODY_CHANGES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_WHITESPACE_RUN = re.compile(r"\s+")
_NEWLINES = re.compile(r"\r\n?")


def _no_surrogates(value: str) -> str:
    # Lone surrogates (from surrogateescape) cannot be encoded as UTF-8 for storage; a CRLF
    # pair is one line break.
    return _SURROGATES.sub("\ufffd", value).replace("\r\n", "\n")


def strip_controls(value: str) -> str:
    """A header-safe single line: line breaks and tabs become spaces, other controls go."""
    return _no_surrogates(value).translate(_HEADER_TABLE)


def clean_name(value: str) -> str:
    """A display or file name: single line, no controls, no bidi overrides, spaces collapsed."""
    return collapse_whitespace(_no_surrogates(value).translate(_NAME_TABLE))


def clean_filename_text(value: str) -> str:
    """Like `clean_name` but keeps the sender's spacing ("Invoice  2024.pdf" stays)."""
    return _no_surrogates(value).translate(_NAME_TABLE).strip()


def collapse_whitespace(value: str) -> str:
    """Runs of whitespace (folding, tabs, ideographic spaces) become one space; ends trimmed."""
    return _WHITESPACE_RUN.sub(" ", value).strip()


def clean_body(value: str) -> str:
    """Body text with `\\n` line ends and without NULs or other control characters."""
    text = _no_surrogates(_NEWLINES.sub("\n", value))
    # translate() walks every character; most bodies have nothing to translate.
    return text.translate(_BODY_TABLE) if _BODY_CHANGES.search(text) else text


def payload_of(part: Message) -> list[Message] | str:
    """A part's payload as `get_payload()` gives it, but never raising.

    For a non-multipart part holding 8-bit bytes, the stdlib decodes with the declared charset
    and can raise (`ValueError` for a charset name with a NUL, for instance); such a payload is
    then read as ASCII with replacement characters, which is what the stdlib does for charsets
    it does not know.
    """
    if part.is_multipart():
        payload = part.get_payload()
        return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []
    try:
        payload = part.get_payload()
    except (ValueError, LookupError, UnicodeError):
        # The stored payload itself; compat32 keeps 8-bit bytes as surrogate escapes.
        stored = getattr(part, "_payload", "")
        if not isinstance(stored, str):
            return ""
        return stored.encode("ascii", "surrogateescape").decode("ascii", "replace")
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, Message)]
    return payload if isinstance(payload, str) else ""
