"""Never answer automatically when it would do harm: the check before every automatic mail.

An automatic mail (an acknowledgement, a "we added your message") to the wrong address is how
mail loops and backscatter start (RFC 3834 §2). Before queueing one, the caller asks
`check_auto_reply`; it refuses:

- an empty or null (`<>`) recipient: the subject mail was a bounce or a notification;
- an address we cannot write into a header or an SMTP command;
- our own addresses (and their `+tag` forms): a loop;
- role and robot mailboxes: mailer-daemon, postmaster, noreply and its spellings, bounce
  addresses (RFC 3834 §2: never answer those), list robots;
- a muted person (`Person.auto_mail_muted`, set after hard bounces by `mute_recipient`);
- more than a few automatic mails per recipient or per ticket in a time window, whatever the
  reason (the last line of defence against a loop with a responder we do not recognise).

A refusal is recorded (`responder.outbox.record_suppressed`): an outbound row in state
`suppressed` with the reason, and an event on the ticket, so agents see what was not sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from models import Event, OutboundMessage, OutboundStatus, Person, utcnow
from responder.headers import is_mailbox_address

# Local parts of mailboxes no person reads, or that must never get an automatic answer.
_ROBOT_LOCAL_PARTS = re.compile(
    r"(?:mailer[-_.]?daemon|postmaster|nobody|listserv|majordomo"
    r"|no[-_.]?reply.*|.*[-_.]no[-_.]?reply"
    r"|do[-_.]?not[-_.]?reply.*|don'?t[-_.]?reply.*"
    r"|auto[-_.]?(?:reply|responder).*"
    r"|bounces?|bounces?[-_.=].*|.*[-_.=]bounces?)",
    re.IGNORECASE,
)


class SuppressionCode(StrEnum):
    """Why an automatic mail was not sent."""

    NO_RECIPIENT = "no_recipient"
    INVALID_ADDRESS = "invalid_address"
    OWN_ADDRESS = "own_address"
    ROBOT_ADDRESS = "robot_address"
    MUTED = "muted"
    RECIPIENT_CAP = "recipient_cap"
    TICKET_CAP = "ticket_cap"


@dataclass(frozen=True)
class AutoReplyLimits:
    """Caps on automatic mail; 0 turns a cap off.

    Mature help desks cap automatic answers in the same order of magnitude (OTRS/Znuny's loop
    protection allows 40 mails per address a day by default); a few per ten minutes stops a
    fast loop long before the daily cap would.
    """

    per_recipient_short: int = 5
    per_recipient_day: int = 40
    per_ticket_short: int = 3
    per_ticket_day: int = 20
    short_window: timedelta = timedelta(minutes=10)
    day_window: timedelta = timedelta(days=1)


@dataclass(frozen=True)
class AutoReplyDecision:
    """Whether an automatic mail may go out, and if not, why (in words and as a code)."""

    allowed: bool
    reason: str = ""
    code: SuppressionCode | None = None


ALLOWED = AutoReplyDecision(True)


def _refuse(code: SuppressionCode, reason: str) -> AutoReplyDecision:
    return AutoReplyDecision(False, reason, code)


def is_robot_address(address: str) -> bool:
    """True for mailer-daemon, postmaster, noreply, bounce-style and list-robot addresses."""
    local = address.strip().rpartition("@")[0].lower()
    base = local.partition("+")[0]
    return bool(_ROBOT_LOCAL_PARTS.fullmatch(local) or _ROBOT_LOCAL_PARTS.fullmatch(base))


def is_own_address(address: str, own_addresses: frozenset[str]) -> bool:
    """True for one of our addresses or its `+tag` form (a reply-token address)."""
    local, at, domain = address.strip().lower().rpartition("@")
    if not at:
        return False
    return f"{local.partition('+')[0]}@{domain}" in {a.lower() for a in own_addresses}


def _count(session: Session, condition: ColumnElement[bool], *, since: datetime) -> int:
    query = (
        select(func.count())
        .select_from(OutboundMessage)
        .where(
            OutboundMessage.automatic.is_(True),
            OutboundMessage.status != OutboundStatus.SUPPRESSED,
            OutboundMessage.created_at >= since,
            condition,
        )
    )
    return int(session.execute(query).scalar_one())


def _address_problem(address: str, own_addresses: frozenset[str]) -> AutoReplyDecision | None:
    if not address:
        return _refuse(SuppressionCode.NO_RECIPIENT, "no recipient address (a null sender)")
    if not is_mailbox_address(address):
        return _refuse(SuppressionCode.INVALID_ADDRESS, "the address cannot be mailed")
    if is_own_address(address, own_addresses):
        return _refuse(SuppressionCode.OWN_ADDRESS, "the address is the help desk's own")
    if is_robot_address(address):
        return _refuse(SuppressionCode.ROBOT_ADDRESS, "the address belongs to a mail robot")
    return None


def _cap_problem(
    session: Session,
    key: str,
    ticket_number: int | None,
    limits: AutoReplyLimits,
    now: datetime,
) -> AutoReplyDecision | None:
    checks: list[tuple[int, timedelta, ColumnElement[bool], SuppressionCode, str]] = [
        (
            limits.per_recipient_short,
            limits.short_window,
            OutboundMessage.recipient == key,
            SuppressionCode.RECIPIENT_CAP,
            "to this address",
        ),
        (
            limits.per_recipient_day,
            limits.day_window,
            OutboundMessage.recipient == key,
            SuppressionCode.RECIPIENT_CAP,
            "to this address",
        ),
    ]
    if ticket_number is not None:
        on_ticket = OutboundMessage.ticket_id == ticket_number
        checks += [
            (
                limits.per_ticket_short,
                limits.short_window,
                on_ticket,
                SuppressionCode.TICKET_CAP,
                "on this ticket",
            ),
            (
                limits.per_ticket_day,
                limits.day_window,
                on_ticket,
                SuppressionCode.TICKET_CAP,
                "on this ticket",
            ),
        ]
    for cap, window, condition, code, what in checks:
        if cap and _count(session, condition, since=now - window) >= cap:
            return _refuse(code, f"{cap} automatic mails {what} within {_words(window)} already")
    return None


def check_auto_reply(
    session: Session,
    recipient: str,
    *,
    ticket_number: int | None,
    own_addresses: frozenset[str],
    limits: AutoReplyLimits,
    now: datetime | None = None,
) -> AutoReplyDecision:
    """May an automatic mail go to `recipient` about ticket `ticket_number` now?"""
    address = recipient.strip().strip("<>").strip()
    problem = _address_problem(address, own_addresses)
    if problem is not None:
        return problem
    key = address.lower()
    muted = session.execute(
        select(Person.auto_mail_muted, Person.auto_mail_muted_reason).where(Person.email == key)
    ).first()
    if muted is not None and muted[0]:
        why = f" ({muted[1]})" if muted[1] else ""
        return _refuse(SuppressionCode.MUTED, f"automatic mail to this person is muted{why}")
    return _cap_problem(session, key, ticket_number, limits, now or utcnow()) or ALLOWED


def _words(window: timedelta) -> str:
    seconds = int(window.total_seconds())
    if seconds % 86_400 == 0:
        days = seconds // 86_400
        return "a day" if days == 1 else f"{days} days"
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return "an hour" if hours == 1 else f"{hours} hours"
    if seconds % 60 == 0:
        return f"{seconds // 60} minutes"
    return f"{seconds} seconds"


def mute_recipient(
    session: Session, email: str, reason: str, *, now: datetime | None = None
) -> Person:
    """Stop automatic mail to `email` (after a hard bounce); the person is created if unknown.

    Mail people send on purpose (an agent's reply) still goes out; only automatic mail stops.
    Recorded as an event, so the UI can show who was muted, when and why.
    """
    key = email.strip().lower()
    person = session.execute(select(Person).where(Person.email == key)).scalar_one_or_none()
    if person is None:
        person = Person(email=key)
        session.add(person)
    person.auto_mail_muted = True
    person.auto_mail_muted_reason = reason[:300]
    session.add(
        Event(
            ticket_id=None,
            kind="recipient_muted",
            data={"email": key, "reason": reason[:300]},
            created_at=now or utcnow(),
        )
    )
    session.flush()
    return person


def unmute_recipient(session: Session, email: str, *, now: datetime | None = None) -> bool:
    """Allow automatic mail to `email` again; False when it was not muted."""
    key = email.strip().lower()
    person = session.execute(select(Person).where(Person.email == key)).scalar_one_or_none()
    if person is None or not person.auto_mail_muted:
        return False
    person.auto_mail_muted = False
    person.auto_mail_muted_reason = ""
    session.add(
        Event(
            ticket_id=None,
            kind="recipient_unmuted",
            data={"email": key},
            created_at=now or utcnow(),
        )
    )
    return True
