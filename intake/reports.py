"""Reports: machine notices about a mail that are not failures and need no ticket.

Part of screening (`intake.screening`). Three kinds reach a help desk:
- feedback reports (ARF, RFC 5965: multipart/report; report-type=feedback-report), the spam
  complaints of mailbox providers' feedback loops, and Microsoft's older JMRP complaints
  (a returned message carrying X-HmXmrOriginalRecipient);
- message disposition notifications (MDN, RFC 8098: report-type=disposition-notification), the
  read receipts mail clients send;
- successful delivery notifications: DSNs whose recipients were all delivered, relayed or
  expanded (RFC 3464 section 2.3.3), which `intake.screening` recognises with `bounce_dsn`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from enum import StrEnum

from intake.bounce_mime import (
    decode_text,
    header,
    normalize_message_id,
    part_bytes,
    walk,
)
from intake.bounce_original import original_message_id


class ReportKind(StrEnum):
    """What kind of report a mail is."""

    FEEDBACK = "feedback"  # ARF / JMRP abuse complaint
    DISPOSITION = "disposition"  # MDN read receipt
    DELIVERY = "delivery"  # successful DSN


@dataclass(frozen=True)
class ReportInfo:
    """A report's type and the mail it is about."""

    kind: ReportKind
    original_message_id: str | None
    detail: str | None  # Feedback-Type, Disposition, or the DSN actions


_FIELD = re.compile(r"^([A-Za-z][A-Za-z0-9\-]{0,60})\s*:\s*(.*)$")


def _fields(part: Message) -> dict[str, str]:
    """Header-style fields of a report part (feedback-report, disposition-notification)."""
    try:
        payload = part.get_payload()
    except Exception:
        payload = None
    fields: dict[str, str] = {}
    if isinstance(payload, list):
        for block in payload[:20]:
            if isinstance(block, Message):
                for key, value in block.items():
                    fields.setdefault(str(key).lower(), " ".join(str(value).split()))
        if fields:
            return fields
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    text = decode_text(part_bytes(part), charset)
    last: str | None = None
    for line in text.splitlines()[:500]:
        if line[:1] in (" ", "\t") and last:
            fields[last] = f"{fields[last]} {line.strip()}"
            continue
        match = _FIELD.match(line)
        if match:
            last = match.group(1).lower()
            fields.setdefault(last, match.group(2).strip())
    return fields


def _report_type(msg: Message) -> str:
    try:
        value = msg.get_param("report-type", header="content-type")
    except Exception:
        return ""
    if isinstance(value, tuple):  # RFC 2231 encoded parameter
        value = value[2]
    return str(value or "").strip().lower()


def detect_report(msg: Message) -> ReportInfo | None:
    """A ReportInfo when `msg` is a feedback report or a read receipt; None otherwise."""
    report_type = _report_type(msg)
    feedback = disposition = None
    jmrp = False
    for walked in walk(msg):
        if walked.content_type == "message/feedback-report" and feedback is None:
            feedback = walked.part
        elif (
            walked.content_type
            in (
                "message/disposition-notification",
                "message/global-disposition-notification",
            )
            and disposition is None
        ):
            disposition = walked.part
        elif walked.content_type == "message/rfc822" and walked.depth == 1:
            try:
                payload = walked.part.get_payload()
            except Exception:
                payload = None
            if (
                isinstance(payload, list)
                and payload
                and isinstance(payload[0], Message)
                and header(payload[0], "X-HmXmrOriginalRecipient")
            ):
                jmrp = True
    if feedback is not None or report_type == "feedback-report":
        fields = _fields(feedback) if feedback is not None else {}
        return ReportInfo(
            kind=ReportKind.FEEDBACK,
            original_message_id=original_message_id(msg),
            detail=fields.get("feedback-type"),
        )
    if disposition is not None or report_type in (
        "disposition-notification",
        "global-disposition-notification",
    ):
        fields = _fields(disposition) if disposition is not None else {}
        original = normalize_message_id(fields.get("original-message-id", ""))
        return ReportInfo(
            kind=ReportKind.DISPOSITION,
            original_message_id=original or original_message_id(msg),
            detail=fields.get("disposition"),
        )
    if jmrp:
        return ReportInfo(
            kind=ReportKind.FEEDBACK,
            original_message_id=original_message_id(msg),
            detail="abuse (JMRP)",
        )
    return None
