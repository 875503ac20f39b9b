"""Amazon SES notifications delivered by mail: bounces, complaints and deliveries as JSON.

Part of screening (`intake.screening`). A help desk that relays its outgoing mail through
Amazon SES can have SES publish bounce, complaint and delivery events to an SNS topic with an
e-mail subscription; each event then arrives as a plain-text mail whose body is the JSON event
(documented by AWS as the "Amazon SES notification contents"). It is a bounce or a report in
every sense but its format, so it is read here rather than left to the text heuristics.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from intake.bounce_dsn import normalize_status
from intake.bounce_mime import normalize_message_id

MAX_JSON_CHARS = 500_000
# Sendmail breaks lines longer than its limit with "!" + newline + space; SNS mails hit it.
_LINE_BREAK = re.compile(r"!\r?\n ")


@dataclass(frozen=True)
class SesRecipient:
    address: str
    status: str | None
    diagnostic: str | None


@dataclass(frozen=True)
class SesNotification:
    """One SES event: `kind` is "bounce", "complaint" or "delivery"."""

    kind: str
    recipients: tuple[SesRecipient, ...]
    permanent: bool | None  # bounceType Permanent / Transient; None when undetermined
    original_message_id: str | None
    detail: str | None  # bounce sub-type or complaint feedback type


def _event(text: str) -> dict[str, Any] | None:
    start = text.find("{")
    if start < 0 or start > 200 or "notificationType" not in text[:MAX_JSON_CHARS]:
        return None
    candidate = _LINE_BREAK.sub("", text[start:MAX_JSON_CHARS])
    try:
        value, _ = json.JSONDecoder().raw_decode(candidate)
    except (ValueError, RecursionError):  # not JSON, or nested to exhaust the stack
        return None
    if not isinstance(value, dict):
        return None
    # An SNS envelope carries the SES event as a JSON string in "Message".
    inner = value.get("Message")
    if "notificationType" not in value and isinstance(inner, str):
        try:
            value = json.loads(inner[:MAX_JSON_CHARS])
        except (ValueError, RecursionError):
            return None
    return value if isinstance(value, dict) and "notificationType" in value else None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _message_id(mail: dict[str, Any]) -> str | None:
    for raw in _list(mail.get("headers")):
        item = _dict(raw)
        if str(item.get("name", "")).lower() == "message-id":
            return normalize_message_id(str(item.get("value", "")))
    common = _dict(mail.get("commonHeaders"))
    if common.get("messageId"):
        return normalize_message_id(str(common["messageId"]))
    return None


def parse_ses_notification(text: str) -> SesNotification | None:
    """The SES event in a notification mail's text, or None if the text is not one."""
    event = _event(text)
    if event is None:
        return None
    kind = str(event.get("notificationType", "")).lower()
    mail = _dict(event.get("mail"))
    original = _message_id(mail)
    if kind == "bounce":
        bounce = _dict(event.get("bounce"))
        recipients = []
        for raw in _list(bounce.get("bouncedRecipients"))[:500]:
            item = _dict(raw)
            address = str(item.get("emailAddress", "")).strip().lower()
            if "@" not in address:
                continue
            diagnostic = str(item.get("diagnosticCode") or "").strip()
            if diagnostic.lower().startswith("smtp;"):
                diagnostic = diagnostic[5:].strip()
            recipients.append(
                SesRecipient(
                    address=address[:320],
                    status=normalize_status(str(item.get("status") or ""))
                    or normalize_status(diagnostic),
                    diagnostic=" ".join(diagnostic.split())[:1000] or None,
                )
            )
        bounce_type = str(bounce.get("bounceType", "")).lower()
        return SesNotification(
            kind="bounce",
            recipients=tuple(recipients),
            permanent={"permanent": True, "transient": False}.get(bounce_type),
            original_message_id=original,
            detail=str(bounce.get("bounceSubType") or "") or None,
        )
    if kind == "complaint":
        complaint = _dict(event.get("complaint"))
        return SesNotification(
            kind="complaint",
            recipients=(),
            permanent=None,
            original_message_id=original,
            detail=str(complaint.get("complaintFeedbackType") or "") or None,
        )
    if kind == "delivery":
        return SesNotification(
            kind="delivery",
            recipients=(),
            permanent=None,
            original_message_id=original,
            detail=None,
        )
    return None
