"""Routing: which assignment group a ticket goes to, and mail to the help desk's own staff.

Where it sits: the acknowledge stage routes every new ticket by its category (a mapping in
the settings, `process.category_groups`: the subcategory is looked up first, then its
category, then `default_group`) and announces new urgent tickets (P1/P2 by default) to the
active accounts of that group (`UserAccount.group`). The scheduler sends SLA warnings and
escalations through `mail_staff` too (docs/decisions/0124).

A group an agent already chose is kept: routing only fills an empty group.

Staff mail is automatic (`Auto-Submitted: auto-generated`, no `Precedence: bulk`) but is not
put through the requester caps of `enqueue_automatic`: its recipients are the help desk's
own configured people, not addresses taken from mail, and each kind goes out once per
ticket (markers on the ticket). Muted staff addresses (after hard bounces) are skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from deskmail.process_settings import ProcessSettings
from models import Event, Person, Ticket, UserAccount
from responder.compose import Conversation, Recipient
from responder.mails import EscalationMail, NewTicketNotificationMail, SlaWarningMail
from responder.outbox import Outbox, Queued, enqueue

StaffMail = EscalationMail | SlaWarningMail | NewTicketNotificationMail


def group_for(process: ProcessSettings, category: str | None, subcategory: str | None) -> str:
    """The group of a category: subcategory first ("network/vpn"), then its category."""
    groups = {key.strip().lower(): group for key, group in process.category_groups.items()}
    for key in (subcategory, category):
        if key and key.strip().lower() in groups:
            return groups[key.strip().lower()]
    if subcategory and "/" in subcategory:
        parent = subcategory.split("/", 1)[0].strip().lower()
        if parent in groups:
            return groups[parent]
    return process.default_group


def route(session: Session, ticket: Ticket, process: ProcessSettings, *, now: datetime) -> str:
    """Put a ticket without a group into its category's group; returns the group."""
    if ticket.group:
        return ticket.group
    group = group_for(process, ticket.category, ticket.subcategory)
    if group:
        ticket.group = group[:100]
        session.add(
            Event(
                ticket_id=ticket.id,
                kind="routed",
                actor="system",
                data={"group": ticket.group, "category": ticket.subcategory or ticket.category},
                created_at=now,
            )
        )
    return ticket.group


@dataclass(frozen=True)
class StaffMember:
    """Someone of the help desk a notification goes to."""

    email: str
    name: str = ""


def group_members(session: Session, group: str) -> list[StaffMember]:
    """The active accounts of an assignment group, by address."""
    if not group:
        return []
    rows = session.execute(
        select(Person.email, Person.name)
        .join(UserAccount, UserAccount.person_id == Person.id)
        .where(UserAccount.group == group, UserAccount.active.is_(True))
        .order_by(Person.email)
    ).all()
    return [StaffMember(email, name) for email, name in rows]


def assignee_of(session: Session, ticket: Ticket) -> StaffMember | None:
    """The ticket's assignee as a recipient, if it has one."""
    if ticket.assignee_id is None:
        return None
    person = session.get(Person, ticket.assignee_id)
    return StaffMember(person.email, person.name) if person is not None else None


def _muted(session: Session, emails: Iterable[str]) -> set[str]:
    keys = [e.lower() for e in emails]
    if not keys:
        return set()
    rows = session.execute(
        select(Person.email).where(Person.email.in_(keys), Person.auto_mail_muted.is_(True))
    ).scalars()
    return set(rows)


def mail_staff(
    session: Session,
    outbox: Outbox,
    mail: StaffMail,
    recipients: Sequence[StaffMember],
    *,
    now: datetime,
    conversation: Conversation | None = None,
    reply_for: Callable[[str], tuple[str, str]] | None = None,
) -> list[Queued]:
    """Queue one automatic mail per staff recipient (deduplicated, muted ones skipped).

    `reply_for(email)` gives the reply token and reply-token address for a recipient, so a
    staff member's answer lands on the ticket even though they are not a participant.
    """
    seen: dict[str, StaffMember] = {}
    for member in recipients:
        seen.setdefault(member.email.strip().lower(), member)
    muted = _muted(session, seen)
    queued: list[Queued] = []
    for key, member in seen.items():
        if key in muted or key in outbox.own_addresses:
            continue
        token, reply_to = reply_for(member.email) if reply_for else (None, None)
        queued.append(
            enqueue(
                session,
                outbox,
                mail,
                to=Recipient(member.email, member.name),
                reply_token=token,
                reply_to=reply_to,
                conversation=conversation,
                automatic=True,
                now=now,
            )
        )
    return queued
