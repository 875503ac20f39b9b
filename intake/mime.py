"""MIME parsing, the first stage of the worker's flow: raw bytes to a `ParsedMail`.

`load_message` parses raw bytes with the standard library's `email` package (policy
compat32: header access never raises, the result is a plain `email.message.Message` that the
screening and threading stages read as well) and enforces `MailLimits`: size, header size,
MIME depth, part count, address count and the time budget. `extract` turns that message into
a `ParsedMail`; `parse_mail` does both. A mail over a limit raises `MailQuarantined`; any
other input, however broken, parses (docs/decisions/0010, 0011).
"""

import itertools
from datetime import UTC, datetime
from email.errors import MessageDefect
from email.feedparser import BytesFeedParser
from email.message import Message
from email.policy import Policy, compat32

from intake.errors import MailQuarantined, QuarantineReason
from intake.limits import MailLimits
from intake.mime_addresses import count_addresses, first_mailbox, parse_addresses
from intake.mime_body import extract_body
from intake.mime_dates import parse_date
from intake.mime_deadline import Deadline
from intake.mime_header_block import check_header_block, mend_header_block
from intake.mime_headers import (
    charset_hint,
    decode_header,
    message_ids,
    raw_values,
    trim_references,
)
from intake.mime_text import collapse_whitespace, payload_of, strip_controls
from intake.parsed import MailAddress, ParsedMail

_FEED_CHUNK = 64 * 1024
_DEADLINE_EVERY_PARTS = 64
_ADDRESS_HEADERS = frozenset(
    {"from", "sender", "reply-to", "to", "cc", "bcc", "resent-from", "resent-to", "resent-cc"}
    | {"resent-bcc", "resent-sender"}
)
_MAX_HEADER_NAME_CHARS = 200
_MAX_DEFECTS = 100


class StrayHeaderLinesDefect(MessageDefect):
    """The top header had lines without a field name; they were mended before parsing."""


def _depth(message: Message) -> int:
    """Deepest nesting of multipart and message/* containers, found without recursion."""
    deepest = 0
    stack: list[tuple[Message, int]] = [(message, 0)]
    while stack:
        part, depth = stack.pop()
        deepest = max(deepest, depth)
        payload = payload_of(part)
        if isinstance(payload, list):
            stack.extend((child, depth + 1) for child in payload if isinstance(child, Message))
    return deepest


def _check_addresses(message: Message, limits: MailLimits) -> None:
    total = 0
    for name, value in message.raw_items():
        if name.lower() not in _ADDRESS_HEADERS:
            continue
        count = count_addresses(value)
        if count > limits.max_addresses_per_header:
            raise MailQuarantined(
                QuarantineReason.TOO_MANY_ADDRESSES,
                f"{count} addresses in one {name} field (limit {limits.max_addresses_per_header})",
            )
        total += count
        if total > limits.max_addresses_total:
            raise MailQuarantined(
                QuarantineReason.TOO_MANY_ADDRESSES,
                f"more than {limits.max_addresses_total} addresses in the address fields",
            )


def load_message(raw: bytes, limits: MailLimits, *, deadline: Deadline | None = None) -> Message:
    """Parse raw mail into a plain `email.message.Message` (compat32), within `limits`.

    Raises `MailQuarantined` when the mail is over a limit; never anything else.
    """
    deadline = deadline or Deadline.after(limits.parse_time_budget_seconds)
    if len(raw) > limits.max_total_bytes:
        raise MailQuarantined(
            QuarantineReason.TOO_LARGE,
            f"{len(raw)} bytes, limit {limits.max_total_bytes}",
        )
    mended = mend_header_block(raw, limits)
    raw = mended if mended is not None else raw
    check_header_block(raw, limits)
    created = 0

    def factory(policy: Policy = compat32) -> Message:
        # Called by the parser for every new entity: counts parts and keeps the deadline.
        nonlocal created
        created += 1
        if created > limits.max_parts:
            raise MailQuarantined(
                QuarantineReason.TOO_MANY_PARTS, f"more than {limits.max_parts} MIME parts"
            )
        if created % _DEADLINE_EVERY_PARTS == 0:
            deadline.check("MIME parts")
        return Message(policy=policy)

    parser = BytesFeedParser(_factory=factory, policy=compat32)
    try:
        for start in range(0, len(raw), _FEED_CHUNK):
            parser.feed(raw[start : start + _FEED_CHUNK])
            deadline.check("parsing")
        message = parser.close()
    except MailQuarantined:
        raise
    except RecursionError:
        # The stdlib parser recurses once per nesting level; only absurd depth gets here.
        raise MailQuarantined(
            QuarantineReason.MIME_TOO_DEEP, f"MIME nesting deeper than {limits.max_mime_depth}"
        ) from None
    except Exception as error:  # compat32 is not meant to raise; if it does, it is the mail
        raise MailQuarantined(
            QuarantineReason.UNPARSEABLE, f"parser failed: {type(error).__name__}"
        ) from None
    if mended is not None:
        message.defects.append(StrayHeaderLinesDefect("header lines without a field name"))
    depth = _depth(message)
    if depth > limits.max_mime_depth:
        raise MailQuarantined(
            QuarantineReason.MIME_TOO_DEEP,
            f"MIME nesting {depth} levels deep, limit {limits.max_mime_depth}",
        )
    _check_addresses(message, limits)
    return message


def extract(
    message: Message,
    *,
    received_at: datetime,
    limits: MailLimits,
    deadline: Deadline | None = None,
) -> ParsedMail:
    """Everything later stages need from a loaded message, decoded and sanitised.

    `received_at` is when we received the mail; it stands in for a missing or unusable Date.
    """
    deadline = deadline or Deadline.after(limits.parse_time_budget_seconds)
    received = received_at if received_at.tzinfo else received_at.replace(tzinfo=UTC)
    hint = charset_hint(message)

    def addresses(name: str) -> list[MailAddress]:
        return parse_addresses(raw_values(message, name), hint)[: limits.max_addresses_total]

    headers: list[tuple[str, str]] = []
    for name, value in itertools.islice(message.raw_items(), limits.max_header_fields):
        clean = strip_controls(str(name)).strip()[:_MAX_HEADER_NAME_CHARS]
        headers.append((clean, decode_header(value, hint)[: limits.max_header_value_chars]))

    subjects = raw_values(message, "Subject")
    subject = collapse_whitespace(decode_header(subjects[0], hint)) if subjects else ""
    subject = subject[: limits.max_header_value_chars]
    dates = raw_values(message, "Date")
    date, date_defect = parse_date(decode_header(dates[0]) if dates else None, received)
    message_id = next(iter(message_ids(raw_values(message, "Message-ID"))), None)
    references = trim_references(
        message_ids(raw_values(message, "References")), limits.max_references
    )
    in_reply_to = trim_references(
        message_ids(raw_values(message, "In-Reply-To")), limits.max_references
    )

    body = extract_body(message, limits=limits, deadline=deadline, hint=hint)
    defects = [*body.defects]
    if date_defect:
        defects.append(date_defect)
    return ParsedMail(
        message_id=message_id,
        in_reply_to=in_reply_to,
        references=references,
        from_=first_mailbox(addresses("From")),
        sender=first_mailbox(addresses("Sender")),
        reply_to=tuple(addresses("Reply-To")),
        to=tuple(addresses("To")),
        cc=tuple(addresses("Cc")),
        subject=subject,
        date=date or received.astimezone(UTC),
        date_from_header=date is not None,
        text=body.text,
        html_sanitized=body.html_sanitized,
        attachments=body.attachments,
        headers=tuple(headers),
        defects=tuple(dict.fromkeys(defects))[:_MAX_DEFECTS],
        text_source=body.text_source,
    )


def parse_mail(raw: bytes, *, received_at: datetime, limits: MailLimits) -> ParsedMail:
    """Load and extract in one go, under one time budget."""
    deadline = Deadline.after(limits.parse_time_budget_seconds)
    message = load_message(raw, limits, deadline=deadline)
    return extract(message, received_at=received_at, limits=limits, deadline=deadline)
