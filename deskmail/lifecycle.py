"""Follow-ups: what a requester's further mail does to their ticket.

Where it sits: a pipeline stage right after `record` and before classify (`deskmail.wiring`),
inside the mail's transaction, for mail that joined a ticket. Only the requester and the
people in copy drive the ticket this way; mail from agents and others is just recorded.
By the ticket's state (docs/decisions/0121):

- new, open or pending: a reply of the requester that says "solved" (`intake.solved`) closes
  the ticket (`closed_by_solved`, the deflection of the reports), records the offered
  articles as having solved it (`Suggestion.outcome`, which the matcher learns from) and
  sends the closure mail. Any other mail answers a pending ticket (back to open, the SLA
  pause ends) and gets a "we added your message" note, unless we mailed that person about
  the ticket within `followup_quiet_hours` (docs/decisions/0120); the caps of automatic mail
  apply on top, so an auto-responder cannot start a loop.
- resolved: "solved" confirms it (closed, closure mail); anything else within
  `reopen_days` of the resolution reopens it (articles that resolved it are recorded as
  reopened) and gets the note; after the window the mail starts a new ticket that follows
  the old one.
- closed: the mail starts a new ticket that follows the old one (the closure mail says so);
  a late "solved, thanks" is only recorded.

A mail that becomes a new ticket leaves this stage as a new ticket (outcome
`ticket_created`), so classify, suggest and acknowledge treat it like any other. Every change
is an event on the timeline.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from deskmail.app import App
from deskmail.knowledge_base import record_outcome
from deskmail.pipeline import MailContext
from deskmail.sla import SlaConfig, settle, sla_config
from deskmail.ticket_actions import Actor, change_status
from deskmail.ticket_mail import TicketMailer, person_info, ticket_info
from intake.recording import create_ticket
from intake.solved import SolvedVerdict, detect_solved
from models import (
    Direction,
    Event,
    Message,
    OutboundMessage,
    OutboundStatus,
    Outcome,
    ParticipantRole,
    Person,
    Suggestion,
    SuggestionOutcome,
    ThreadRef,
    ThreadSignal,
    Ticket,
    TicketParticipant,
    TicketStatus,
    utcnow,
)
from responder.mails import ClosureMail, FollowupReceivedMail, PersonInfo
from responder.outbox import Queued

log = logging.getLogger(__name__)

CLOSED_BY_SOLVED = "You told us the problem is solved, so we have closed the ticket. Thank you!"
RESOLUTION_BY_SOLVED = "The requester replied that the problem is solved."


class FollowupAction(StrEnum):
    """What a follow-up did to its ticket (in the mail's details)."""

    RECORDED = "recorded"  # not from the requester's side: nothing changes
    NOTED = "noted"  # added to an active ticket
    ANSWERED = "answered"  # answered a pending ticket: open again
    REOPENED = "reopened"
    CLOSED = "closed"  # "solved"
    NEW_TICKET = "new_ticket"  # after the reopen window, or on a closed ticket
    LATE_THANKS = "late_thanks"  # "solved" on a closed ticket


class LifecycleStage:
    """The pipeline stage: `LifecycleStage(app)(ctx)` for each mail (follow-ups only)."""

    def __init__(self, app: App, mailer: TicketMailer | None = None) -> None:
        self.app = app
        self.mailer = mailer or TicketMailer.build(app)
        self.sla: SlaConfig = sla_config(app.settings)

    def __call__(self, ctx: MailContext) -> None:
        if ctx.outcome is not Outcome.FOLLOWUP or ctx.ticket is None or ctx.record is None:
            return
        action = self.handle(ctx, now=utcnow())
        ctx.details["followup"] = {"action": str(action), **ctx.details.get("followup", {})}

    def handle(self, ctx: MailContext, *, now: datetime) -> FollowupAction:
        """Apply the follow-up to its ticket (see the module doc); returns what it did."""
        session, ticket, message = ctx.session, ctx.ticket, ctx.record
        assert ticket is not None
        assert message is not None
        sender = message.from_email.strip().lower()
        role = sender_role(session, ticket, sender)
        if role is None:
            return FollowupAction.RECORDED
        verdict = (
            detect_solved(ctx.new_text or message.text)
            if role is ParticipantRole.REQUESTER
            else SolvedVerdict(False, reason="not the requester")
        )
        status = TicketStatus(ticket.status)
        if status is TicketStatus.CLOSED:
            return self._on_closed(ctx, sender, verdict, now)
        if verdict.solved:
            self._close(session, ticket, message, verdict, now)
            return FollowupAction.CLOSED
        if status is TicketStatus.RESOLVED:
            window = timedelta(days=self.app.settings.process.reopen_days)
            if ticket.resolved_at is not None and now - ticket.resolved_at > window:
                self._new_ticket(ctx, f"resolved more than {window.days} days ago", now)
                return FollowupAction.NEW_TICKET
            self._reopen(session, ticket, sender, now)
            self._note(ctx, now)
            return FollowupAction.REOPENED
        action = FollowupAction.NOTED
        if status is TicketStatus.PENDING:
            self._set_status(session, ticket, TicketStatus.OPEN, sender, now)
            action = FollowupAction.ANSWERED
        self._note(ctx, now)
        return action

    def _on_closed(
        self, ctx: MailContext, sender: str, verdict: SolvedVerdict, now: datetime
    ) -> FollowupAction:
        """A closed ticket stays closed: a new problem becomes a new ticket that follows it."""
        assert ctx.ticket is not None
        if verdict.solved:
            _event(ctx.session, ctx.ticket, "late_thanks", sender, now, **_verdict_data(verdict))
            return FollowupAction.LATE_THANKS
        self._new_ticket(ctx, "the ticket was closed", now)
        return FollowupAction.NEW_TICKET

    # Changes ----------------------------------------------------------------------------

    def _set_status(
        self, session: Session, ticket: Ticket, status: TicketStatus, actor: str, now: datetime
    ) -> None:
        change_status(session, ticket.id, status, actor=Actor(actor), now=now)
        # change_status stamps the end of a pause; its business time moves the due times now.
        settle(ticket, self.sla)

    def _close(
        self,
        session: Session,
        ticket: Ticket,
        message: Message,
        verdict: SolvedVerdict,
        now: datetime,
    ) -> None:
        """Close on the requester's "solved" and send the closure mail."""
        sender = message.from_email.strip().lower()
        deflected = solved_is_deflection(ticket)
        offered = session.execute(
            select(Suggestion.id).where(
                Suggestion.ticket_id == ticket.id,
                Suggestion.sent_to_requester.is_(True),
                Suggestion.outcome == SuggestionOutcome.PENDING,
            )
        ).scalars()
        close_as_solved(
            session,
            ticket,
            sender,
            deflected=deflected,
            credit=list(offered) if deflected else [],
            resolution=RESOLUTION_BY_SOLVED,
            now=now,
            sla=self.sla,
            message=message.id,
            **_verdict_data(verdict),
        )
        mail = ClosureMail(
            ticket=ticket_info(session, ticket),
            requester=person_info(ticket.requester),
            status_url=self.mailer.status_url(ticket.id, ticket.requester.email),
            reason=CLOSED_BY_SOLVED,
        )
        self.mailer.send_automatic(
            session,
            ticket,
            mail,
            person_info(ticket.requester),
            in_reply_to=message.message_id,
            now=now,
        )

    def _reopen(self, session: Session, ticket: Ticket, sender: str, now: datetime) -> None:
        resolved_at = ticket.resolved_at
        self._set_status(session, ticket, TicketStatus.OPEN, sender, now)
        days = round((now - resolved_at).total_seconds() / 86400, 2) if resolved_at else None
        _event(session, ticket, "reopened", sender, now, days_after_resolution=days)
        # The article the ticket was resolved with did not hold: the matcher learns that.
        helped = session.execute(
            select(Suggestion.id).where(
                Suggestion.ticket_id == ticket.id,
                Suggestion.outcome.in_([SuggestionOutcome.ACCEPTED, SuggestionOutcome.SOLVED]),
            )
        ).scalars()
        for suggestion_id in list(helped):
            record_outcome(session, suggestion_id, SuggestionOutcome.REOPENED, Actor(sender))

    def _note(self, ctx: MailContext, now: datetime) -> None:
        """The "we added your message" note to the sender, unless they just heard from us."""
        session, ticket, message = ctx.session, ctx.ticket, ctx.record
        assert ticket is not None
        assert message is not None
        sender = PersonInfo(message.from_email.strip().lower(), message.from_name or "")
        quiet = timedelta(hours=self.app.settings.process.followup_quiet_hours)
        if quiet and _mailed_since(session, ticket.id, sender.email, now - quiet):
            ctx.details["followup"] = {"note": "quiet: we mailed this person recently"}
            return
        assignee = session.get(Person, ticket.assignee_id) if ticket.assignee_id else None
        mail = FollowupReceivedMail(
            ticket=ticket_info(session, ticket),
            requester=sender,
            status_url=self.mailer.status_url(ticket.id, sender.email),
            assignee_name=(assignee.name or "") if assignee is not None else "",
        )
        result = self.mailer.send_automatic(
            session, ticket, mail, sender, in_reply_to=message.message_id, now=now
        )
        ctx.details["followup"] = (
            {"note": "queued", "outbound": result.outbound.id}
            if isinstance(result, Queued)
            else {"note": "suppressed", "reason": result.decision.reason}
        )

    def _new_ticket(self, ctx: MailContext, reason: str, now: datetime) -> None:
        """Move the mail to a new ticket that follows the old one; it continues as new."""
        session, old, message, parsed = ctx.session, ctx.ticket, ctx.record, ctx.parsed
        assert old is not None
        assert message is not None
        assert parsed is not None
        new = create_ticket(session, parsed, self.app.settings.address_set)
        new.follows_id = old.id
        message.ticket_id = new.id
        message.thread_signal = ThreadSignal.NEW_TICKET
        if message.message_id:
            session.execute(
                update(ThreadRef)
                .where(
                    ThreadRef.ticket_id == old.id,
                    ThreadRef.message_id == message.message_id,
                    ThreadRef.direction == Direction.INBOUND,
                )
                .values(ticket_id=new.id)
            )
        arrival = session.execute(
            select(Event)
            .where(Event.ticket_id == old.id, Event.kind == "mail_in")
            .order_by(Event.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        if arrival is not None and arrival.data.get("message") == message.id:
            arrival.ticket_id = new.id
        sender = message.from_email.strip().lower()
        _event(session, old, "followed_by", sender, now, ticket=new.id, reason=reason)
        _event(session, new, "follows", sender, now, ticket=old.id, reason=reason)
        ctx.ticket = new
        ctx.outcome = Outcome.TICKET_CREATED
        ctx.reason = f"new ticket following #{old.id}: {reason}"
        log.info("mail on #%s became ticket #%s (%s)", old.id, new.id, reason)


# Helpers ------------------------------------------------------------------------------------


def solved_is_deflection(ticket: Ticket) -> bool:
    """Whether the requester's "solved" counts as deflection: solved before anyone of the help
    desk resolved it. A "solved" after an agent's resolution only confirms the agent's work."""
    return TicketStatus(ticket.status) is not TicketStatus.RESOLVED


def close_as_solved(
    session: Session,
    ticket: Ticket,
    requester: str,
    *,
    deflected: bool,
    credit: Sequence[int],
    resolution: str,
    now: datetime | None = None,
    sla: SlaConfig | None = None,
    **event_data: object,
) -> None:
    """Close `ticket` because its requester says the problem is solved (a "solved" reply, or
    the status page's button, `deskmail.requester_solved`): the suggestions in `credit` are
    recorded as `solved` (the matcher learns from them), the ticket is closed with
    `closed_by_solved` set when it is deflection, and a `closed_by_requester` event with
    `event_data` ends the story on the timeline."""
    actor = Actor(requester)
    for suggestion_id in credit:
        record_outcome(session, suggestion_id, SuggestionOutcome.SOLVED, actor)
    change_status(session, ticket.id, TicketStatus.CLOSED, actor=actor, now=now)
    if sla is not None:
        # change_status stamps the end of a pause; its business time moves the due times now.
        settle(ticket, sla)
    ticket.closed_by_solved = deflected
    if deflected and not ticket.resolution:
        ticket.resolution = resolution
    event = Event(
        ticket_id=ticket.id,
        kind="closed_by_requester",
        actor=requester,
        data={"deflected": deflected, **event_data},
    )
    if now is not None:  # else the column's default: stamped when written, after the others
        event.created_at = now
    session.add(event)


def sender_role(session: Session, ticket: Ticket, sender: str) -> ParticipantRole | None:
    """REQUESTER or CC when the sender may drive the ticket; None for agents and others."""
    if sender and sender == ticket.requester.email.lower():
        return ParticipantRole.REQUESTER
    role = session.execute(
        select(TicketParticipant.role)
        .join(Person, Person.id == TicketParticipant.person_id)
        .where(TicketParticipant.ticket_id == ticket.id, Person.email == sender)
    ).scalar_one_or_none()
    return ParticipantRole.CC if role == ParticipantRole.CC else None


def _mailed_since(session: Session, ticket_id: int, email: str, since: datetime) -> bool:
    found = session.execute(
        select(OutboundMessage.id)
        .where(
            OutboundMessage.ticket_id == ticket_id,
            OutboundMessage.recipient == email,
            OutboundMessage.status != OutboundStatus.SUPPRESSED,
            OutboundMessage.created_at >= since,
        )
        .limit(1)
    ).first()
    return found is not None


def _verdict_data(verdict: SolvedVerdict) -> dict[str, object]:
    return {
        "phrase": verdict.phrase[:200],
        "language": verdict.language,
        "phrase_kind": str(verdict.kind) if verdict.kind else "",
    }


def _event(
    session: Session, on: Ticket, kind: str, actor: str, now: datetime, **data: object
) -> None:
    session.add(Event(ticket_id=on.id, kind=kind, actor=actor, data=data, created_at=now))
