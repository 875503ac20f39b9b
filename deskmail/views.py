"""Read models: tickets and stored mail as plain dicts for the CLI's JSON and the API.

These shapes are part of the public surface (`deskmail tickets show N --json`, README.md):
keep their keys stable.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from models import Article, InboundMessage, InboundStatus, Message, Person, Suggestion, Ticket


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def ticket_summary(ticket: Ticket) -> dict[str, Any]:
    """One line of `deskmail tickets list --json`."""
    return {
        "number": ticket.number,
        "subject": ticket.subject,
        "status": str(ticket.status),
        "requester": ticket.requester.email,
        "category": ticket.category,
        "subcategory": ticket.subcategory,
        "priority": ticket.priority,
        "needs_triage": ticket.needs_triage,
        "created": _iso(ticket.created_at),
    }


def message_view(message: Message) -> dict[str, Any]:
    """One message of `deskmail tickets show N --json`."""
    return {
        "id": message.id,
        "direction": str(message.direction),
        "from": {"email": message.from_email, "name": message.from_name},
        "to": list(message.to),
        "cc": list(message.cc),
        "subject": message.subject,
        "date": _iso(message.date),
        "message_id": message.message_id,
        "text": message.text,
        "new_text": message.new_text,
        "html_sanitized": message.html_sanitized,
        "attachments": [
            {
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "sha256": a.blob_sha256,
                "inline": a.inline,
            }
            for a in message.attachments
        ],
        "thread_signal": str(message.thread_signal),
    }


def ticket_detail(session: Session, ticket: Ticket) -> dict[str, Any]:
    """`deskmail tickets show N --json`: the ticket with its whole conversation."""
    messages = session.execute(
        select(Message)
        .where(Message.ticket_id == ticket.id)
        .options(selectinload(Message.attachments))
        .order_by(Message.id)
    ).scalars()
    requester: Person = ticket.requester
    return {
        "number": ticket.number,
        "subject": ticket.subject,
        "status": str(ticket.status),
        "requester": {"email": requester.email, "name": requester.name},
        "category": ticket.category,
        "subcategory": ticket.subcategory,
        "priority": ticket.priority,
        "impact": ticket.impact,
        "urgency": ticket.urgency,
        "needs_triage": ticket.needs_triage,
        "created": _iso(ticket.created_at),
        "updated": _iso(ticket.updated_at),
        "messages": [message_view(m) for m in messages],
        "suggestions": ticket_suggestions(session, ticket.id),
    }


def ticket_suggestions(session: Session, ticket_id: int) -> list[dict[str, Any]]:
    """The knowledge-base articles suggested for a ticket, best first, with the passage that
    matched and whether the requester may be (or was) offered them."""
    rows = session.execute(
        select(Suggestion, Article.slug, Article.title, Article.audience)
        .join(Article, Article.id == Suggestion.article_id)
        .where(Suggestion.ticket_id == ticket_id)
        .order_by(Suggestion.rank, Suggestion.id)
    ).all()
    # Only the latest search's suggestions (rows made outside a search are always shown).
    latest = max((row[0].run_id for row in rows if row[0].run_id is not None), default=None)
    return [
        {
            "id": suggestion.id,
            "rank": suggestion.rank,
            "article": {"slug": slug, "title": title, "audience": str(audience)},
            "score": suggestion.score,
            "confidence": suggestion.confidence,
            "passage": suggestion.passage,
            "eligible_for_requester": suggestion.eligible_for_requester,
            "sent_to_requester": suggestion.sent_to_requester,
            "outcome": str(suggestion.outcome),
        }
        for suggestion, slug, title, audience in rows
        if suggestion.run_id in (None, latest)
    ]


def list_tickets(session: Session, *, limit: int = 100, status: str | None = None) -> list[Ticket]:
    """The newest tickets first."""
    query = select(Ticket).order_by(Ticket.id.desc()).limit(limit)
    if status:
        query = query.where(Ticket.status == status)
    return list(session.execute(query).scalars())


def inbound_summary(row: InboundMessage) -> dict[str, Any]:
    """One stored mail, without its bytes."""
    return {
        "id": row.id,
        "source": row.source,
        "mail_from": row.mail_from,
        "rcpt_to": list(row.rcpt_to),
        "size": row.size,
        "received_at": _iso(row.received_at),
        "status": str(row.status),
        "attempts": row.attempts,
        "next_attempt_at": _iso(row.next_attempt_at),
        "outcome": str(row.outcome) if row.outcome else None,
        "reason": row.outcome_reason,
        "ticket": row.ticket_id,
        "message_id": row.message_id_header,
        "last_error": row.last_error,
        "details": row.details,
    }


def list_inbound(
    session: Session, *, statuses: list[InboundStatus] | None = None, limit: int = 100
) -> list[InboundMessage]:
    """Stored mail, newest first, optionally only in some states."""
    query = select(InboundMessage).order_by(InboundMessage.id.desc()).limit(limit)
    if statuses:
        query = query.where(InboundMessage.status.in_(statuses))
    return list(session.execute(query).scalars())


def list_retrying(session: Session, *, limit: int = 100) -> list[InboundMessage]:
    """Mail that failed at least once and waits for its next try."""
    query = (
        select(InboundMessage)
        .where(InboundMessage.status == InboundStatus.RECEIVED, InboundMessage.last_error != "")
        .order_by(InboundMessage.id.desc())
        .limit(limit)
    )
    return list(session.execute(query).scalars())


def inbound_counts(session: Session) -> dict[str, int]:
    """How many stored mails are in each state."""
    rows = session.execute(
        select(InboundMessage.status, func.count()).group_by(InboundMessage.status)
    )
    return {str(status): int(count) for status, count in rows}
