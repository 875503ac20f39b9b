"""RFC 3464 delivery status notifications: read the machine-readable part of a DSN.

Part of screening (`intake.screening` -> `intake.bounces` / `intake.reports`). A DSN is a
multipart/report (RFC 6522) whose message/delivery-status part holds one per-message field
block and one block per recipient (RFC 3464 section 2). This module finds those parts and turns
the blocks into `DsnRecipient` values; deciding what the DSN *means* (bounce, soft bounce or a
success report) is left to the callers.

The stdlib parses message/delivery-status into a list of header blocks, but only when the part
is well formed; encoded or damaged parts arrive as text, so both shapes are read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from intake.bounce_mime import ADDR_SPEC, decode_text, part_bytes, walk

# RFC 3463 enhanced status code; the lookarounds keep IP addresses and version numbers out.
STATUS_RE = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.]|\.\d)")
# An SMTP reply code (RFC 5321 section 4.2) at the start of a reply line or after "smtp;".
SMTP_CODE_RE = re.compile(r"(?<![\d.\-:/])([245][0-5]\d)(?:[ \-]|$)(?!\d)")

_FIELD_LINE = re.compile(r"^([A-Za-z][A-Za-z0-9\-]{0,60})\s*:\s*(.*)$")

# Action values (RFC 3464 section 2.3.3) and the non-standard spellings seen in the wild.
_ACTIONS = {
    "failed": "failed",
    "failure": "failed",
    "fail": "failed",
    "error": "failed",  # OpenSMTPD
    "expired": "failed",  # SendGrid: gave up after retrying
    "bounced": "failed",
    "rejected": "failed",
    "undeliverable": "failed",
    "delayed": "delayed",
    "delay": "delayed",
    "delivered": "delivered",
    "deliverable": "delivered",
    "relayed": "relayed",
    "expanded": "expanded",
}

MAX_BLOCKS = 200


@dataclass(frozen=True)
class DsnRecipient:
    """One per-recipient block of a DSN (RFC 3464 section 2.3)."""

    address: str | None  # the address we sent to: Original-Recipient if usable, else Final
    final_recipient: str | None
    original_recipient: str | None
    action: str  # normalised: failed, delayed, delivered, relayed, expanded, or ""
    status: str | None  # "5.1.1"
    diagnostic: str | None  # Diagnostic-Code without its type ("smtp;")
    remote_mta: str | None


@dataclass(frozen=True)
class DeliveryStatus:
    """The parsed message/delivery-status content of one DSN."""

    reporting_mta: str | None
    recipients: tuple[DsnRecipient, ...]
    original_message_id: str | None  # some MTAs add X-Original-Message-ID to the fields


def _strip_type(value: str) -> str:
    """Drop the address-type or diagnostic-type prefix ("rfc822;", "smtp;")."""
    if ";" in value:
        head, _, rest = value.partition(";")
        if len(head) <= 20 and " " not in head.strip():
            return rest.strip()
    return value.strip()


def _address(value: str | None) -> str | None:
    """The address of a recipient field; None unless the field holds just an address.

    Sendmail writes program deliveries ("|/usr/bin/procmail ... #user@host") into these
    fields; such a value names no mailbox we sent to.
    """
    if not value:
        return None
    text = _strip_type(value).strip().strip("<>").strip()
    if ADDR_SPEC.fullmatch(text):
        return text.lower().rstrip(".")
    match = ADDR_SPEC.match(text)
    if match:
        rest = text[match.end() :].strip("> ")
        if not rest or rest.startswith("("):  # a trailing comment is fine
            return match.group(0).lower().rstrip(".")
    return None


def _usable_original(address: str | None) -> bool:
    # Exchange writes the legacy X.500 DN wrapped as IMCEAEX-...@domain; it is not an address
    # we ever sent to, so the final recipient is the better key then.
    return bool(address) and not (address or "").startswith(("imceaex-", "imceaex_"))


def normalize_action(value: str) -> str:
    word = re.split(r"[\s(;]", value.strip().lower(), maxsplit=1)[0] if value.strip() else ""
    return _ACTIONS.get(word, "")


def normalize_status(value: str | None) -> str | None:
    if not value:
        return None
    match = STATUS_RE.search(value)
    if not match:
        return None
    return ".".join(match.groups())


def _text_blocks(text: str) -> list[list[tuple[str, str]]]:
    """Split delivery-status text into blocks of (field, value), unfolding continuation lines."""
    blocks: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    for line in text.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
                current = []
            continue
        if line[:1] in (" ", "\t") and current:
            name, value = current[-1]
            current[-1] = (name, f"{value} {line.strip()}")
            continue
        match = _FIELD_LINE.match(line)
        if match:
            current.append((match.group(1).lower(), match.group(2).strip()))
        if len(blocks) >= MAX_BLOCKS:
            break
    if current:
        blocks.append(current)
    return blocks


def _part_blocks(part: Message) -> list[list[tuple[str, str]]]:
    try:
        payload = part.get_payload()
    except Exception:
        payload = None
    if isinstance(payload, list) and payload:
        blocks: list[list[tuple[str, str]]] = []
        for block in payload[:MAX_BLOCKS]:
            if not isinstance(block, Message):
                continue
            fields = [(str(k).lower(), " ".join(str(v).split())) for k, v in block.items()]
            # A block whose parsing stopped early keeps the rest as its "body"; read that too.
            try:
                rest = block.get_payload()
            except Exception:
                rest = None
            if fields:
                blocks.append(fields)
            if isinstance(rest, str) and rest.strip():
                blocks.extend(_text_blocks(rest))
        return blocks
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    return _text_blocks(decode_text(part_bytes(part), charset))


def _first(fields: list[tuple[str, str]], *names: str) -> str | None:
    for name in names:
        for key, value in fields:
            if key == name and value:
                return value
    return None


def _recipient(fields: list[tuple[str, str]]) -> DsnRecipient | None:
    final = _address(_first(fields, "final-recipient"))
    # X-Actual-Recipient (Sendmail) names the mailbox after local alias expansion, not the
    # address we sent to, so only Original-Recipient (RFC 3464 section 2.3.1) competes.
    original = _address(_first(fields, "original-recipient"))
    if not final and not original:
        return None
    address = original if _usable_original(original) else final
    action = normalize_action(_first(fields, "action") or "")
    status = normalize_status(_first(fields, "status"))
    diagnostic_raw = _first(fields, "diagnostic-code")
    diagnostic = " ".join(_strip_type(diagnostic_raw).split())[:1000] if diagnostic_raw else None
    if not action:
        # RFC 3464 requires Action; infer it from the status class when an MTA left it out.
        code = status or normalize_status(diagnostic)
        if code:
            action = {"5": "failed", "4": "delayed", "2": "delivered"}[code[0]]
    remote = _first(fields, "remote-mta")
    return DsnRecipient(
        address=address or final,
        final_recipient=final,
        original_recipient=original,
        action=action,
        status=status,
        diagnostic=diagnostic or None,
        remote_mta=_strip_type(remote)[:255] if remote else None,
    )


def delivery_status_parts(msg: Message) -> list[Message]:
    """The message/delivery-status parts of the notification (not of a returned message)."""
    return [w.part for w in walk(msg) if w.content_type == "message/delivery-status"]


def parse_delivery_status(msg: Message) -> DeliveryStatus | None:
    """Parse every message/delivery-status part of `msg`; None if it has none."""
    parts = delivery_status_parts(msg)
    if not parts:
        return None
    reporting: str | None = None
    original_id: str | None = None
    recipients: list[DsnRecipient] = []
    for part in parts:
        for fields in _part_blocks(part):
            recipient = _recipient(fields)
            if recipient is not None:
                recipients.append(recipient)
                continue
            reporting = reporting or _first(fields, "reporting-mta")
            original_id = original_id or _first(fields, "x-original-message-id")
    return DeliveryStatus(
        reporting_mta=_strip_type(reporting)[:255] if reporting else None,
        recipients=tuple(recipients),
        original_message_id=original_id,
    )


def parse_text_delivery_status(text: str) -> DeliveryStatus | None:
    """DSN fields written into the text of a bounce whose MIME structure broke.

    Old Sendmail and broken gateways sometimes flatten a multipart/report, leaving the
    delivery-status blocks as lines of text; a block counts when it names a Final-Recipient
    together with an Action or a Status.
    """
    recipients: list[DsnRecipient] = []
    reporting: str | None = None
    for fields in _text_blocks(text[:200_000]):
        names = {name for name, _ in fields}
        if "final-recipient" in names and names & {"action", "status"}:
            recipient = _recipient(fields)
            if recipient is not None:
                recipients.append(recipient)
        elif "reporting-mta" in names:
            reporting = reporting or _first(fields, "reporting-mta")
    if not recipients:
        return None
    return DeliveryStatus(
        reporting_mta=_strip_type(reporting)[:255] if reporting else None,
        recipients=tuple(recipients),
        original_message_id=None,
    )
