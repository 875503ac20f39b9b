"""Screening: decide whether an incoming mail is for a human, or automatic mail of some kind.

Stage two of the pipeline (`parse -> screen -> correlate -> ...`, DESIGN.md): it receives the
`email.message.Message` produced by `intake.mime` (compat32) and returns a `ScreeningVerdict`.
The pipeline ends a mail early on anything but `normal` (an auto-reply is dropped, a bounce is
recorded against the outbound mail it returns, a loop is stopped). Pure functions: no database,
no I/O; screening never raises, an unreadable mail is `normal` with a reason that says so.

The order of the checks matters:
1. loop - our own mail coming back (our Message-ID domain, our X-Loop, our From);
2. reports - ARF feedback and MDN read receipts (`intake.reports`);
3. DSNs (RFC 3464) - failed or delayed recipients make a bounce, only delivered/relayed/
   expanded ones a report; a DSN also carries Auto-Submitted, hence before auto-replies;
4. plain-text bounces (`intake.bounce_signals`, `intake.bounce_text`);
5. strong auto-reply signals (`intake.autoreply`);
6. mailing lists (RFC 2369/2919 headers) - before the weak signals they share with bulk mail;
7. weak auto-reply signals; otherwise `normal`.
Challenge-response notices look like bounces (some are even DSNs) but ask a person to confirm
the sender; they are auto-replies, not failed deliveries.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from enum import StrEnum

from intake.autoreply import (
    AutoReplyKind,
    AutoReplyMatch,
    challenge_response,
    strong_signal,
    weak_signal,
)
from intake.bounce_dsn import DeliveryStatus, parse_delivery_status, parse_text_delivery_status
from intake.bounce_mime import (
    addresses,
    header,
    headers,
    normalize_message_id,
    notification_text,
    raw_header,
)
from intake.bounce_original import original_message_id
from intake.bounce_ses import parse_ses_notification
from intake.bounce_signals import bounce_signals
from intake.bounce_text import split_notice
from intake.bounces import (
    BouncedRecipient,
    BounceInfo,
    bounce_from_dsn,
    bounce_from_ses,
    bounce_from_text,
)
from intake.reports import ReportInfo, ReportKind, detect_report

log = logging.getLogger(__name__)

__all__ = [
    "AutoReplyKind",
    "BounceInfo",
    "BouncedRecipient",
    "ReportInfo",
    "ReportKind",
    "ScreenKind",
    "ScreeningConfig",
    "ScreeningVerdict",
    "screen",
]


class ScreenKind(StrEnum):
    """What a mail is, as far as the help desk is concerned."""

    NORMAL = "normal"  # written by a person for the help desk
    AUTO_REPLY = "auto_reply"  # vacation notice, autoresponder, challenge, notification
    BOUNCE = "bounce"  # delivery failure (or delay) of a mail we sent
    REPORT = "report"  # feedback report, read receipt, successful delivery notice
    LOOP = "loop"  # our own mail come back to us
    LIST_MAIL = "list_mail"  # distributed by a mailing list


@dataclass(frozen=True)
class ScreeningConfig:
    """What screening needs to know about this help desk."""

    own_addresses: frozenset[str]  # the help desk's addresses, lower-case
    message_id_domain: str  # the right-hand side of the Message-IDs we generate

    def __post_init__(self) -> None:
        # Normalise here so callers cannot get the case wrong and miss a loop.
        object.__setattr__(
            self, "own_addresses", frozenset(a.strip().lower() for a in self.own_addresses)
        )
        object.__setattr__(self, "message_id_domain", self.message_id_domain.strip().lower())


@dataclass(frozen=True)
class ScreeningVerdict:
    """The screening decision for one mail."""

    kind: ScreenKind
    reason: str  # the signal that decided, short and human-readable
    bounce: BounceInfo | None = None  # for kind == bounce
    report: ReportInfo | None = None  # for kind == report
    auto_reply: AutoReplyKind | None = None  # for kind == auto_reply
    signals: tuple[str, ...] = field(default=())  # further signals seen, for the audit trail


_LIST_HEADERS = ("List-Post", "List-Help", "List-Subscribe", "List-Archive", "List-Owner")


def _own_domain_id(value: str, domain: str) -> bool:
    message_id = normalize_message_id(value)
    if not message_id or "@" not in message_id or not domain:
        return False
    return message_id.rsplit("@", 1)[1].lower().rstrip(".") == domain


def loop_reason(msg: Message, config: ScreeningConfig) -> str | None:
    """Why `msg` is our own mail come back, or None.

    A requester's reply carries our Message-IDs in In-Reply-To/References; that is threading,
    not a loop, so only the mail's *own* identity counts.
    """
    if _own_domain_id(raw_header(msg, "Message-ID"), config.message_id_domain):
        return "Message-ID in our domain"
    for value in headers(msg, "X-Loop"):
        named = set(addresses(value)) | {value.strip().lower()}
        if named & config.own_addresses:
            return "X-Loop matches our address"
        if config.message_id_domain and value.strip().lower() == config.message_id_domain:
            return "X-Loop matches our domain"
    for addr in addresses(header(msg, "From")):
        if addr in config.own_addresses:
            return "From is one of our addresses"
    return None


def list_reason(msg: Message) -> str | None:
    """Why `msg` came through a mailing list (RFC 2919 List-Id, RFC 2369 List-*), or None."""
    if raw_header(msg, "List-Id"):
        return "List-Id header"
    if raw_header(msg, "Mailing-List") or raw_header(msg, "X-Mailing-List"):
        return "Mailing-List header"
    if header(msg, "Precedence").strip().lower() == "list":
        return "Precedence: list"
    if raw_header(msg, "List-Unsubscribe") and any(raw_header(msg, h) for h in _LIST_HEADERS):
        return "List-Unsubscribe with list headers"
    return None


@dataclass(frozen=True)
class _Mail:
    """One mail with what several detectors need, computed once."""

    msg: Message
    config: ScreeningConfig
    envelope_sender: str | None
    text: str  # notification text, including an original quoted in it
    notice: str  # the notice proper: `text` without the quoted original
    delivery_status: DeliveryStatus | None

    @classmethod
    def read(cls, msg: Message, config: ScreeningConfig, envelope_sender: str | None) -> _Mail:
        text = notification_text(msg)
        # An original's words ("pre-approved", "out of office") must not decide what the
        # notice that returns it is, so most rules read the notice without the quote.
        notice = split_notice(text)[0]
        return cls(msg, config, envelope_sender, text, notice, parse_delivery_status(msg))


def _bounce_verdict(
    bounce: BounceInfo, reason: str, notice: str, signals: tuple[str, ...] = ()
) -> ScreeningVerdict:
    # Challenge-response systems answer with a DSN or a bounce-like notice that asks the sender
    # to confirm; the recipient exists and the mail is held, so it is not a failed delivery.
    diagnostics = " ".join(d.diagnostic or "" for d in bounce.details)
    if challenge_response(diagnostics) or challenge_response(notice):
        return ScreeningVerdict(
            kind=ScreenKind.AUTO_REPLY,
            reason="challenge-response request",
            auto_reply=AutoReplyKind.CHALLENGE,
            signals=(reason, *signals),
        )
    if bounce.details and all(d.action == "delayed" for d in bounce.details):
        reason = f"{reason} (delayed)"
    return ScreeningVerdict(kind=ScreenKind.BOUNCE, reason=reason, bounce=bounce, signals=signals)


def _auto_verdict(match: AutoReplyMatch | None) -> ScreeningVerdict | None:
    if match is None:
        return None
    return ScreeningVerdict(kind=ScreenKind.AUTO_REPLY, reason=match.reason, auto_reply=match.kind)


_REPORT_LABELS = {
    ReportKind.FEEDBACK: "feedback report (ARF)",
    ReportKind.DISPOSITION: "read receipt (MDN)",
    ReportKind.DELIVERY: "delivery notification",
}


def _loop(mail: _Mail) -> ScreeningVerdict | None:
    reason = loop_reason(mail.msg, mail.config)
    return ScreeningVerdict(kind=ScreenKind.LOOP, reason=reason) if reason else None


def _report(mail: _Mail) -> ScreeningVerdict | None:
    report = detect_report(mail.msg)
    if report is None:
        return None
    return ScreeningVerdict(
        kind=ScreenKind.REPORT, reason=_REPORT_LABELS[report.kind], report=report
    )


def _ses(mail: _Mail) -> ScreeningVerdict | None:
    ses = parse_ses_notification(mail.text)
    if ses is None:
        return None
    if ses.kind == "bounce":
        return _bounce_verdict(bounce_from_ses(ses), "Amazon SES bounce notification", "")
    kind = ReportKind.FEEDBACK if ses.kind == "complaint" else ReportKind.DELIVERY
    return ScreeningVerdict(
        kind=ScreenKind.REPORT,
        reason=f"Amazon SES {ses.kind} notification",
        report=ReportInfo(kind, ses.original_message_id, ses.detail),
    )


def _dsn(mail: _Mail) -> ScreeningVerdict | None:
    status = mail.delivery_status
    if status is None or not status.recipients:
        return None
    bounce = bounce_from_dsn(mail.msg, status)
    if bounce is not None:
        return _bounce_verdict(bounce, "RFC 3464 DSN", mail.notice)
    if not all(r.action in ("delivered", "relayed", "expanded") for r in status.recipients):
        return None  # actions we cannot read: let the notice text decide
    # Only delivered, relayed or expanded recipients (RFC 3464 section 2.3.3): a success.
    actions = ", ".join(sorted({r.action or "unknown" for r in status.recipients}))
    original = original_message_id(mail.msg, dsn_original_id=status.original_message_id)
    return ScreeningVerdict(
        kind=ScreenKind.REPORT,
        reason=f"RFC 3464 DSN: {actions}",
        report=ReportInfo(ReportKind.DELIVERY, original, actions),
    )


def _text_bounce(mail: _Mail) -> ScreeningVerdict | None:
    signals = bounce_signals(mail.msg, mail.notice, mail.envelope_sender)
    if not signals.decisive and mail.delivery_status is None:
        return None
    seen = signals.present()
    embedded = parse_text_delivery_status(mail.text)
    bounce = bounce_from_dsn(mail.msg, embedded) if embedded is not None else None
    if bounce is not None:
        return _bounce_verdict(bounce, "RFC 3464 fields in a flattened DSN", mail.notice, seen)
    bounce = bounce_from_text(mail.msg, mail.text, mail.config.own_addresses, mail.delivery_status)
    reason = signals.decisive or "delivery-status report without readable recipient fields"
    return _bounce_verdict(bounce, f"non-standard bounce: {reason}", mail.notice, seen)


def _strong_auto(mail: _Mail) -> ScreeningVerdict | None:
    return _auto_verdict(strong_signal(mail.msg, mail.notice))


def _list(mail: _Mail) -> ScreeningVerdict | None:
    reason = list_reason(mail.msg)
    return ScreeningVerdict(kind=ScreenKind.LIST_MAIL, reason=reason) if reason else None


def _weak_auto(mail: _Mail) -> ScreeningVerdict | None:
    return _auto_verdict(weak_signal(mail.msg, mail.notice, mail.envelope_sender))


# The order is the module docstring's: each detector sees only what the earlier ones let pass.
_DETECTORS: tuple[Callable[[_Mail], ScreeningVerdict | None], ...] = (
    _loop,
    _report,
    _ses,
    _dsn,
    _text_bounce,
    _strong_auto,
    _list,
    _weak_auto,
)


def _screen(msg: Message, config: ScreeningConfig, envelope_sender: str | None) -> ScreeningVerdict:
    loop = _loop(_Mail(msg, config, envelope_sender, "", "", None))
    if loop is not None:  # cheap header checks first: our own mail needs no body reading
        return loop
    mail = _Mail.read(msg, config, envelope_sender)
    for detector in _DETECTORS[1:]:
        verdict = detector(mail)
        if verdict is not None:
            return verdict
    return ScreeningVerdict(kind=ScreenKind.NORMAL, reason="no automatic-mail signal")


def screen(
    msg: Message, config: ScreeningConfig, *, envelope_sender: str | None = None
) -> ScreeningVerdict:
    """Screen one parsed mail. Never raises.

    `envelope_sender` is the SMTP reverse-path when known ("" for the null path `<>`): mail
    received by our SMTP server has no Return-Path header yet.
    """
    try:
        return _screen(msg, config, envelope_sender)
    except RecursionError:
        reason = "screening gave up: message nested too deeply"
    except Exception as exc:  # hostile input must not stop the pipeline; say what happened
        reason = f"screening failed on malformed input ({type(exc).__name__})"
    message_id = re.sub(r"[\r\n]", "", raw_header(msg, "Message-ID") if msg else "")[:200]
    log.warning("%s; treating %s as normal mail", reason, message_id or "a message without id")
    return ScreeningVerdict(kind=ScreenKind.NORMAL, reason=reason)
