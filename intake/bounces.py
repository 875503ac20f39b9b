"""Bounces: turn a delivery failure notice into a `BounceInfo`.

Part of screening (`intake.screening`): once a mail is known to be a bounce, this module says
which recipients failed, whether hard (5.x.x) or soft (4.x.x, delayed, expired), with which
status and diagnostic, and which of our mails it returns (the original Message-ID, so the
pipeline can record the bounce against the outbound message and its ticket).

Two readers feed it:
- RFC 3464 DSNs (`intake.bounce_dsn`): per-recipient Action/Status/Diagnostic-Code fields;
- plain-text bounces (`intake.bounce_text`), with `flufl.bounce`'s detectors for recipient
  extraction where our own line-shape rules find nothing (docs/decisions/0021).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from email.message import Message

from flufl.bounce import all_failures

from intake.bounce_dsn import STATUS_RE, DeliveryStatus, DsnRecipient
from intake.bounce_mime import (
    addresses,
    find_addr_specs,
    header,
    raw_header,
    returned_messages,
)
from intake.bounce_original import original_message_id
from intake.bounce_ses import SesNotification
from intake.bounce_text import (
    acceptable_recipient,
    clean_address,
    find_recipients,
    is_permanent,
    is_warning,
    notice_diagnostic,
    quoted_message_ids,
    recipient_details,
    split_notice,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BouncedRecipient:
    """One recipient a bounce reports on."""

    address: str
    action: str  # "failed" or "delayed" (RFC 3464 section 2.3.3)
    permanent: bool
    status: str | None
    diagnostic: str | None


@dataclass(frozen=True)
class BounceInfo:
    """What a bounce says about the mail it returns.

    `recipients` are the addresses that failed (lower-case); when none failed outright but
    delivery is delayed, the delayed ones. `permanent` is True when at least one of them failed
    permanently (5.x.x); `details` holds the per-recipient view, including delayed recipients
    of a DSN that also reports failures.
    """

    recipients: tuple[str, ...]
    permanent: bool
    original_message_id: str | None
    status: str | None
    diagnostic: str | None
    details: tuple[BouncedRecipient, ...] = ()


def _refine_status(status: str | None, diagnostic: str | None) -> str | None:
    """Prefer the diagnostic's specific code over a generic x.0.0 of the same class."""
    if not diagnostic:
        return status
    match = STATUS_RE.search(diagnostic)
    if not match:
        return status
    specific = ".".join(match.groups())
    if status is None:
        return specific if specific[0] in "45" else None
    if status.endswith(".0.0") and specific[0] == status[0]:
        return specific
    return status


def _smtp_class(diagnostic: str | None) -> str | None:
    if not diagnostic:
        return None
    text = diagnostic.strip()
    if len(text) >= 3 and text[:3].isdigit() and text[0] in "245":
        return text[0]
    return None


def _dsn_recipient(recipient: DsnRecipient) -> BouncedRecipient | None:
    if recipient.action not in ("failed", "delayed") or not recipient.address:
        return None
    status = _refine_status(recipient.status, recipient.diagnostic)
    if recipient.action == "delayed":
        permanent = False
    elif status:
        permanent = status.startswith("5")
    else:
        permanent = _smtp_class(recipient.diagnostic) != "4"
    return BouncedRecipient(
        address=recipient.address,
        action=recipient.action,
        permanent=permanent,
        status=status,
        diagnostic=recipient.diagnostic,
    )


def _assemble(
    details: list[BouncedRecipient], original_id: str | None, fallback_diagnostic: str | None
) -> BounceInfo:
    failed = [d for d in details if d.action == "failed"]
    chosen = failed or details
    recipients: list[str] = []
    for detail in chosen:
        if detail.address not in recipients:
            recipients.append(detail.address)
    lead = next((d for d in chosen if d.status), chosen[0] if chosen else None)
    status = lead.status if lead else None
    diagnostic = next((d.diagnostic for d in chosen if d.diagnostic), fallback_diagnostic)
    return BounceInfo(
        recipients=tuple(recipients),
        permanent=any(d.permanent for d in chosen) if chosen else True,
        original_message_id=original_id,
        status=status,
        diagnostic=diagnostic,
        details=tuple(details),
    )


def bounce_from_dsn(msg: Message, delivery_status: DeliveryStatus) -> BounceInfo | None:
    """A BounceInfo for a DSN reporting failed or delayed recipients; None if it reports none."""
    details = [d for d in map(_dsn_recipient, delivery_status.recipients) if d is not None]
    if not details:
        return None
    original_id = original_message_id(msg, dsn_original_id=delivery_status.original_message_id)
    return _assemble(details, original_id, None)


def bounce_from_ses(notification: SesNotification) -> BounceInfo:
    """A BounceInfo for an Amazon SES bounce event (see `intake.bounce_ses`)."""
    details = []
    for recipient in notification.recipients:
        if notification.permanent is not None:
            permanent = notification.permanent
        else:
            permanent = (recipient.status or "5").startswith("5")
        details.append(
            BouncedRecipient(
                address=recipient.address,
                action="failed",
                permanent=permanent,
                status=recipient.status,
                diagnostic=recipient.diagnostic,
            )
        )
    info = _assemble(details, notification.original_message_id, notification.detail)
    if not details and notification.permanent is not None:
        return BounceInfo(
            (), notification.permanent, info.original_message_id, None, info.diagnostic
        )
    return info


def _returned_senders(msg: Message, returned_text: str) -> set[str]:
    """Addresses of the returned original's sender: they are us, never a failed recipient."""
    found: set[str] = set()
    for original in returned_messages(msg):
        for name in ("From", "Sender", "Return-Path", "Reply-To"):
            found.update(addresses(header(original, name)))
    for line in returned_text.split("\n")[:300]:
        lowered = line.lower().lstrip()
        if lowered.startswith(("from:", "sender:", "return-path:", "reply-to:", "errors-to:")):
            found.update(find_addr_specs(line))
    return found


def _returned_to(msg: Message, returned_text: str) -> list[str]:
    """The To addresses of the returned original (message/rfc822 part or quoted headers)."""
    for original in returned_messages(msg):
        found = addresses(header(original, "To")) + addresses(header(original, "Cc"))
        if found:
            return found
    quoted: list[str] = []
    for line in returned_text.split("\n")[:300]:
        lowered = line.lower().lstrip(" >\t")
        if lowered.startswith(("to:", "cc:")):
            quoted.extend(a for a in find_addr_specs(line) if a not in quoted)
    return quoted


def _exclusions(msg: Message, own: frozenset[str], returned_text: str) -> frozenset[str]:
    """Addresses unlikely to be a failed recipient: the bounce's own parties, the sender."""
    excluded = set(own)
    for name in ("To", "Cc", "From", "Sender", "Reply-To", "Return-Path", "Delivered-To"):
        excluded.update(addresses(header(msg, name)))
    excluded.update(_returned_senders(msg, returned_text))
    return frozenset(excluded)


def _flufl_recipients(msg: Message) -> tuple[list[str], list[str]]:
    """(temporary, permanent) failures per flufl.bounce's detectors; empty on any error."""
    if not header(msg, "From").strip():
        return [], []  # some of its detectors index the parsed From unguarded and log a crash
    try:
        temporary, permanent = all_failures(msg)
    except Exception:  # its heuristics index into arbitrary text; a crash means "no opinion"
        log.debug("flufl.bounce failed on a bounce", exc_info=True)
        return [], []

    def decode(values: frozenset[bytes]) -> list[str]:
        result = []
        for value in sorted(values):
            text = value.decode("ascii", "replace").strip().strip("<>").lower()
            if "@" in text and " " not in text:
                result.append(text)
        return result

    return decode(temporary), decode(permanent)


def _text_recipients(
    msg: Message, text: str, notice: str, returned: str, own: frozenset[str]
) -> tuple[list[str], bool]:
    """The failed recipients of a plain-text bounce, and whether flufl.bounce calls it a delay.

    In order: Exim's X-Failed-Recipients header; our line-shape and phrase rules on the notice;
    flufl.bounce's detectors; the returned original's single To address.
    """
    found = [a for a in addresses(raw_header(msg, "X-Failed-Recipients")) if a not in own]
    if found:
        return found, False
    exclude = _exclusions(msg, own, returned)
    found = find_recipients(notice, own, exclude)
    if found:
        return found, False
    temporary, permanent = _flufl_recipients(msg)
    # flufl's patterns sometimes catch a Message-ID or the original's sender.
    not_recipients = exclude | quoted_message_ids(text)
    for candidate in permanent + temporary:
        address = clean_address(candidate)
        if address and acceptable_recipient(address, not_recipients) and address not in found:
            found.append(address)
    if found:
        return found, bool(temporary) and not permanent
    # Some notices name nobody ("Delivery report unavailable", "could not be delivered to
    # mobile"); a returned original addressed to exactly one recipient names them.
    returned_to = [a for a in _returned_to(msg, returned) if a not in own]
    return (returned_to if len(returned_to) == 1 else []), False


def bounce_from_text(
    msg: Message, text: str, own_addresses: frozenset[str], delivery_status: DeliveryStatus | None
) -> BounceInfo:
    """A BounceInfo for a bounce without a usable DSN part, read from its notice text."""
    notice, returned = split_notice(text)
    found, flufl_delay = _text_recipients(msg, text, notice, returned, own_addresses)
    warning = is_warning(notice) or flufl_delay
    details: list[BouncedRecipient] = []
    for item in recipient_details(notice, found):
        if warning and not (item.status or item.smtp_code or "").startswith("5"):
            # A delay warning: the MTA keeps trying, so the failure is soft whatever it quotes.
            details.append(
                BouncedRecipient(item.address, "delayed", False, item.status, item.diagnostic)
            )
            continue
        permanent = is_permanent(item.status, item.smtp_code, notice)
        details.append(
            BouncedRecipient(item.address, "failed", permanent, item.status, item.diagnostic)
        )
    status, code, diagnostic = notice_diagnostic(notice)
    dsn_original = delivery_status.original_message_id if delivery_status else None
    original_id = original_message_id(msg, dsn_original_id=dsn_original)
    if details:
        return _assemble(details, original_id, diagnostic)
    # A bounce whose recipients we cannot name still says hard or soft and why.
    return BounceInfo(
        recipients=(),
        permanent=not warning and is_permanent(status, code, notice),
        original_message_id=original_id,
        status=status,
        diagnostic=diagnostic,
    )
