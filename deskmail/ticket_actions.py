"""Agents' use cases on a ticket: internal notes, status changes and assignment.

The web UI, the JSON API and the CLI call these same functions (DESIGN.md, One mail, step 5:
"People"). Each takes the caller's `Session` (the caller commits), changes the ticket and
writes the `Event` that puts the change on the ticket's timeline, with who made it. A note is a
`Message` with direction `note`: it is shown to agents only and never mailed.

Resolving with a mail to the requester, replying and reclassifying are separate use cases of
the responder and classifier work; `change_status` changes the state only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.recording import add_participant
from models import (
    Direction,
    Event,
    Message,
    ParticipantRole,
    Person,
    ThreadSignal,
    Ticket,
    TicketStatus,
    UserAccount,
    utcnow,
)
from models.errors import DeskmailError

MAX_NOTE_CHARS = 100_000
MAX_GROUP_CHARS = 100
# The states an agent may set; `new` belongs to intake (a ticket nobody has looked at yet).
AGENT_STATUSES: tuple[TicketStatus, ...] = (
    TicketStatus.OPEN,
    TicketStatus.PENDING,
    TicketStatus.RESOLVED,
    TicketStatus.CLOSED,
)
ACTIVE_STATUSES: tuple[TicketStatus, ...] = (
    TicketStatus.NEW,
    TicketStatus.OPEN,
    TicketStatus.PENDING,
)

# Waiting for the requester, or resolved: the SLA clocks stand still (deskmail.sla).
SLA_PAUSED_STATUSES: tuple[TicketStatus, ...] = (TicketStatus.PENDING, TicketStatus.RESOLVED)


class TicketActionError(DeskmailError):
    """A ticket use case was refused; the message says why (safe to show)."""


class TicketNotFoundError(TicketActionError):
    """No ticket has this number."""


class AssigneeNotFoundError(TicketActionError):
    """No active account has the address a ticket was to be assigned to."""


@dataclass(frozen=True)
class Actor:
    """Who makes a change: recorded on events and notes."""

    email: str
    name: str = ""
    person_id: int | None = None


def get_ticket(session: Session, number: int) -> Ticket:
    """The ticket with this number."""
    ticket = session.get(Ticket, number)
    if ticket is None:
        raise TicketNotFoundError(f"no ticket #{number}")
    return ticket


def _event(session: Session, ticket: Ticket, kind: str, actor: Actor, **data: Any) -> None:
    session.add(Event(ticket_id=ticket.id, kind=kind, actor=actor.email, data=data))


def clean_note(text: str) -> str:
    """A note's text as stored: line ends normalised, NULs removed, not empty, not huge."""
    cleaned = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").strip()
    if not cleaned:
        raise TicketActionError("the note is empty")
    if len(cleaned) > MAX_NOTE_CHARS:
        raise TicketActionError(f"a note may have at most {MAX_NOTE_CHARS} characters")
    return cleaned


def add_note(session: Session, number: int, text: str, *, actor: Actor) -> Message:
    """An internal note on the ticket's conversation (agents only, never mailed)."""
    ticket = get_ticket(session, number)
    body = clean_note(text)
    now = utcnow()
    note = Message(
        ticket_id=ticket.id,
        direction=Direction.NOTE,
        author_id=actor.person_id,
        from_email=actor.email,
        from_name=actor.name[:200],
        subject="",
        date=now,
        text=body,
        new_text=body,
        thread_signal=ThreadSignal.AGENT,
    )
    session.add(note)
    ticket.updated_at = now
    session.flush()
    _event(session, ticket, "note_added", actor, message=note.id)
    return note


def change_status(
    session: Session,
    number: int,
    status: TicketStatus | str,
    *,
    actor: Actor,
    now: datetime | None = None,
) -> Ticket:
    """Move the ticket to another state; resolving and closing stamp their times.

    Reopening (back to open or pending) clears the resolution and closing times, so service
    level clocks and reports see the ticket as active again. Entering pending or resolved
    pauses the SLA clock and leaving them ends the pause (stamped here; `deskmail.lifecycle`
    and the scheduler add the pause's business time to the due times, `deskmail.sla`).
    """
    try:
        target = TicketStatus(status)
    except ValueError as exc:
        raise TicketActionError(f"not a ticket status: {str(status)[:40]!r}") from exc
    if target not in AGENT_STATUSES:
        raise TicketActionError(f"a ticket cannot be set to {target}")
    ticket = get_ticket(session, number)
    previous = TicketStatus(ticket.status)
    if previous == target:
        return ticket
    now = now or utcnow()
    ticket.status = target
    _stamp_sla_pause(ticket, previous, target, now)
    if target == TicketStatus.RESOLVED:
        ticket.resolved_at = now
    elif target == TicketStatus.CLOSED:
        ticket.closed_at = now
        ticket.resolved_at = ticket.resolved_at or now
    else:
        ticket.resolved_at = None
        ticket.closed_at = None
    ticket.updated_at = now
    _event(session, ticket, "status_changed", actor, **{"from": str(previous), "to": str(target)})
    return ticket


def _stamp_sla_pause(
    ticket: Ticket, previous: TicketStatus, target: TicketStatus, now: datetime
) -> None:
    if target in SLA_PAUSED_STATUSES and previous not in SLA_PAUSED_STATUSES:
        if ticket.sla_paused_at is None:
            ticket.sla_paused_at = now
            ticket.sla_resumed_at = None
    elif (
        target in ACTIVE_STATUSES
        and previous in SLA_PAUSED_STATUSES
        and ticket.sla_paused_at is not None
        and ticket.sla_resumed_at is None
    ):
        ticket.sla_resumed_at = now


def assignable_account(session: Session, email: str) -> UserAccount:
    """The active account tickets can be assigned to, by e-mail address."""
    address = email.strip().lower()
    user = session.execute(
        select(UserAccount)
        .join(Person, UserAccount.person_id == Person.id)
        .where(Person.email == address)
    ).scalar_one_or_none()
    if user is None or not user.active:
        raise AssigneeNotFoundError(f"no active account for {address[:100]!r}")
    return user


def assign(
    session: Session,
    number: int,
    *,
    assignee: str | None,
    actor: Actor,
    group: str | None = None,
) -> Ticket:
    """Give the ticket to an agent (or nobody) and optionally to an assignment group.

    The assignee becomes a participant, so their mail on the ticket is accepted (DESIGN.md,
    Threading: only participants may add to a ticket).
    """
    ticket = get_ticket(session, number)
    cleaned_group = None
    if group is not None:
        cleaned_group = group.strip()
        if len(cleaned_group) > MAX_GROUP_CHARS or any(ord(c) < 32 for c in cleaned_group):
            raise TicketActionError("the group must be one line of at most 100 characters")
    user = assignable_account(session, assignee) if assignee else None
    changes: dict[str, Any] = {}
    previous = session.get(Person, ticket.assignee_id) if ticket.assignee_id else None
    if user is not None and ticket.assignee_id != user.person_id:
        changes["assignee"] = [previous.email if previous else None, user.person.email]
        ticket.assignee_id = user.person_id
        add_participant(session, ticket, user.person, ParticipantRole.AGENT)
    elif user is None and previous is not None:
        changes["assignee"] = [previous.email, None]
        ticket.assignee_id = None
    if cleaned_group is not None and cleaned_group != ticket.group:
        changes["group"] = [ticket.group, cleaned_group]
        ticket.group = cleaned_group
    if changes:
        ticket.updated_at = utcnow()
        _event(session, ticket, "assigned", actor, **changes)
    return ticket
