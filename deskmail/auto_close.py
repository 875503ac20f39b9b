"""Closing resolved tickets nobody answered: the scheduler's auto-close.

Where it sits: each round of `deskmail.scheduler` calls `close_quiet_tickets`. A resolved
ticket whose requester has not answered for `process.auto_close_days` days is closed: its
status changes (a `status_changed` event naming the reason) and the requester gets the
closure mail, both in one transaction. A reply from the requester would have reopened the
ticket (`deskmail.lifecycle`), so a ticket still resolved after the window had no answer.

The status change is a guarded UPDATE (`status = 'resolved' AND resolved_at <= cutoff`), so
two schedulers never close one ticket twice nor send two closure mails, and a ticket
reopened in the meantime is left alone (docs/decisions/0128). The closure mail is automatic
and goes through the caps of `enqueue_automatic` (a muted or over-mailed requester gets
none; the ticket closes all the same).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from deskmail.scheduler_context import SYSTEM_ACTOR, TimedContext
from models import Event, Ticket, TicketStatus
from responder.compose import Recipient
from responder.conversation import conversation_for
from responder.mails import ClosureMail, PersonInfo, TicketInfo
from responder.outbox import Queued, enqueue_automatic

log = logging.getLogger(__name__)


def closure_reason(days: int) -> str:
    """What the closure mail says about why."""
    unit = "day" if days == 1 else "days"
    return (
        f"We resolved it {days} {unit} ago and have not heard from you since, "
        "so we take it that the problem is solved."
    )


def close_quiet_tickets(context: TimedContext, *, now: datetime, limit: int) -> int:
    """Close resolved tickets that had no answer within the window; returns how many."""
    days = context.process.auto_close_days
    cutoff = now - timedelta(days=days)
    quiet = [
        Ticket.status == str(TicketStatus.RESOLVED),
        Ticket.resolved_at.is_not(None),
        Ticket.resolved_at <= cutoff,
    ]
    with context.app.read_sessions() as reader:
        ids = list(
            reader.execute(
                select(Ticket.id).where(*quiet).order_by(Ticket.resolved_at).limit(limit)
            ).scalars()
        )
    closed = 0
    for ticket_id in ids:
        with context.app.sessions() as session, session.begin():
            claimed = session.execute(
                update(Ticket)
                .where(Ticket.id == ticket_id, *quiet)
                .values(status=str(TicketStatus.CLOSED), closed_at=now, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                continue  # reopened, closed by someone else, or another scheduler's
            ticket = session.execute(
                select(Ticket)
                .where(Ticket.id == ticket_id)
                .execution_options(populate_existing=True)
            ).scalar_one()
            session.add(
                Event(
                    ticket_id=ticket.id,
                    kind="status_changed",
                    actor=SYSTEM_ACTOR,
                    data={
                        "from": str(TicketStatus.RESOLVED),
                        "to": str(TicketStatus.CLOSED),
                        "reason": "auto_close",
                        "days": days,
                    },
                    created_at=now,
                )
            )
            outcome = _mail_closure(context, session, ticket, days, now)
            closed += 1
            log.info("ticket %s closed after %d quiet days (%s)", ticket.id, days, outcome)
    return closed


def _mail_closure(
    context: TimedContext, session: Session, ticket: Ticket, days: int, now: datetime
) -> str:
    requester = ticket.requester
    token, reply_to = context.reply_for(ticket.id)(requester.email)
    mail = ClosureMail(
        ticket=TicketInfo.of(ticket),
        requester=PersonInfo(requester.email, requester.name or ""),
        status_url=context.status_url(ticket.id, requester.email),
        reason=closure_reason(days),
    )
    result = enqueue_automatic(
        session,
        context.outbox,
        mail,
        to=Recipient(requester.email, requester.name or ""),
        reply_token=token,
        reply_to=reply_to,
        conversation=conversation_for(session, ticket),
        now=now,
    )
    return "closure mail queued" if isinstance(result, Queued) else "closure mail suppressed"
