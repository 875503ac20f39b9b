"""Agents' use cases that join tickets: merging a duplicate into another ticket, and linking a
ticket to its parent incident (ITIL: the many reports of one outage under one major incident).

Merging closes the duplicate with a link (`merged_into_id`) instead of moving its messages
(docs/decisions/0145): the duplicate's conversation and timeline stay as they happened, its
people (requester and CC'd) become participants of the target so their mail there is accepted,
and threading follows the link, so a reply to any mail of the duplicate lands on the target
(`intake.threading`). Both tickets get an event. The caller commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from deskmail.ticket_actions import Actor, TicketActionError, get_ticket
from intake.recording import add_participant
from models import (
    Event,
    ParticipantRole,
    Ticket,
    TicketParticipant,
    TicketStatus,
    utcnow,
)

# A chain of parents is short in practice; the limit keeps a broken one from looping.
MAX_PARENT_DEPTH = 20


@dataclass(frozen=True)
class Merged:
    """The duplicate (now closed) and the ticket it was merged into."""

    duplicate: Ticket
    target: Ticket
    participants_added: int


def _final(session: Session, ticket: Ticket) -> Ticket:
    seen = {ticket.id}
    while ticket.merged_into_id is not None:
        ticket = get_ticket(session, ticket.merged_into_id)
        if ticket.id in seen or len(seen) > MAX_PARENT_DEPTH:
            raise TicketActionError("the tickets' merge links form a loop")
        seen.add(ticket.id)
    return ticket


def merge_tickets(
    session: Session, duplicate_number: int, target_number: int, *, actor: Actor
) -> Merged:
    """Close ticket `duplicate_number` as a duplicate of `target_number` (see module doc)."""
    duplicate = get_ticket(session, duplicate_number)
    if duplicate.merged_into_id is not None:
        raise TicketActionError(
            f"#{duplicate.id} is merged into #{duplicate.merged_into_id} already"
        )
    target = _final(session, get_ticket(session, target_number))
    if target.id == duplicate.id:
        raise TicketActionError("a ticket cannot be merged into itself")
    if target.status == TicketStatus.CLOSED:
        raise TicketActionError(f"#{target.id} is closed: merge into an active ticket")
    now = utcnow()
    added = 0
    present = set(
        session.execute(
            select(TicketParticipant.person_id).where(TicketParticipant.ticket_id == target.id)
        ).scalars()
    )
    for participant in duplicate.participants:
        if participant.person_id in present:
            continue
        role = (
            ParticipantRole.AGENT
            if participant.role == ParticipantRole.AGENT
            else ParticipantRole.CC
        )
        add_participant(session, target, participant.person, role)
        present.add(participant.person_id)
        added += 1
    previous = str(duplicate.status)
    duplicate.merged_into_id = target.id
    duplicate.status = TicketStatus.CLOSED
    duplicate.closed_at = now
    duplicate.resolved_at = duplicate.resolved_at or now
    duplicate.resolution = f"Duplicate of #{target.id}."
    duplicate.updated_at = now
    target.updated_at = now
    session.add(
        Event(
            ticket_id=duplicate.id,
            kind="merged_into",
            actor=actor.email,
            data={"target": target.id, "from": previous},
            created_at=now,
        )
    )
    session.add(
        Event(
            ticket_id=target.id,
            kind="merged_from",
            actor=actor.email,
            data={"duplicate": duplicate.id, "participants_added": added},
            created_at=now,
        )
    )
    return Merged(duplicate, target, added)


def merged_tickets(session: Session, number: int) -> list[Ticket]:
    """The tickets merged into ticket `number`, oldest first."""
    return list(
        session.execute(
            select(Ticket).where(Ticket.merged_into_id == number).order_by(Ticket.id)
        ).scalars()
    )


def link_parent(
    session: Session, number: int, parent_number: int | None, *, actor: Actor
) -> Ticket:
    """Make `parent_number` the ticket's parent incident (None: remove the link)."""
    ticket = get_ticket(session, number)
    previous = ticket.parent_id
    if parent_number is None:
        if previous is None:
            return ticket
        ticket.parent_id = None
    else:
        parent = get_ticket(session, parent_number)
        if parent.id == ticket.id:
            raise TicketActionError("a ticket cannot be its own parent")
        if parent.merged_into_id is not None:
            raise TicketActionError(f"#{parent.id} was merged into #{parent.merged_into_id}")
        ancestor: Ticket | None = parent
        for _ in range(MAX_PARENT_DEPTH):
            if ancestor is None or ancestor.parent_id is None:
                break
            if ancestor.parent_id == ticket.id:
                raise TicketActionError(f"#{parent.id} is below #{ticket.id} already")
            ancestor = session.get(Ticket, ancestor.parent_id)
        if previous == parent.id:
            return ticket
        ticket.parent_id = parent.id
    now = utcnow()
    ticket.updated_at = now
    session.add(
        Event(
            ticket_id=ticket.id,
            kind="parent_linked",
            actor=actor.email,
            data={"from": previous, "to": ticket.parent_id},
            created_at=now,
        )
    )
    for other, kind in ((previous, "child_unlinked"), (ticket.parent_id, "child_linked")):
        if other is not None:
            session.add(
                Event(
                    ticket_id=other,
                    kind=kind,
                    actor=actor.email,
                    data={"child": ticket.id},
                    created_at=now,
                )
            )
    return ticket


def child_tickets(session: Session, number: int) -> Sequence[Ticket]:
    """The tickets linked to ticket `number` as their parent incident."""
    return list(
        session.execute(
            select(Ticket).where(Ticket.parent_id == number).order_by(Ticket.id)
        ).scalars()
    )
