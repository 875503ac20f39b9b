"""The thread a new outgoing mail joins: built from the Message-IDs stored on its ticket.

Callers may build a `Conversation` themselves (they know which mail they answer); this reads
it from the ticket's conversation as a default: References are the conversation's Message-IDs
oldest first, ending with the mail answered (RFC 5322 §3.6.4), and In-Reply-To is that mail
(by default the latest incoming one).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Direction, Message, Ticket
from responder.compose import Conversation
from responder.headers import clean_message_id
from responder.mails import TicketInfo

MAX_MESSAGES_READ = 200  # a ticket with thousands of mails still only needs its latest ids


def conversation_for(
    session: Session, ticket: Ticket, *, in_reply_to: str | None = None
) -> Conversation:
    """The thread of `ticket` for a mail answering `in_reply_to` (default: the latest mail in)."""
    rows = list(
        session.execute(
            select(Message.message_id, Message.direction, Message.created_at)
            .where(Message.ticket_id == ticket.id, Message.direction != Direction.NOTE)
            .order_by(Message.id.desc())
            .limit(MAX_MESSAGES_READ)
        ).all()
    )
    rows.reverse()
    root = session.execute(
        select(Message.message_id)
        .where(Message.ticket_id == ticket.id, Message.message_id.is_not(None))
        .order_by(Message.id)
        .limit(1)
    ).scalar_one_or_none()
    ids = [m for m in (clean_message_id(r.message_id or "") for r in rows) if m]
    if root is not None and (cleaned_root := clean_message_id(root)) and cleaned_root not in ids:
        ids.insert(0, cleaned_root)
    parent: str | None = None
    if in_reply_to is not None:
        parent = clean_message_id(in_reply_to)
    else:
        inbound = [r.message_id for r in rows if r.direction == Direction.INBOUND and r.message_id]
        parent = clean_message_id(inbound[-1]) if inbound else None
    if parent is not None and parent in ids:
        ids = ids[: ids.index(parent) + 1]
    elif parent is not None:
        ids.append(parent)
    return Conversation(
        ticket_number=ticket.number,
        topic=TicketInfo(ticket.number, ticket.subject).topic,
        started_at=ticket.created_at,
        in_reply_to=parent,
        references=tuple(ids),  # compose() keeps the root and the newest MAX_REFERENCES
        earlier_replies=tuple(r.created_at for r in rows if r.direction == Direction.OUTBOUND),
    )
