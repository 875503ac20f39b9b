"""Agents' use cases that mail the requester: a reply, resolving a ticket, and resolving it
with a suggested knowledge-base article (accept), or saying an article does not fit (reject).

Called by the web UI and the JSON API (DESIGN.md, One mail, step 5: "People"). Each function
takes the caller's `Session` (the caller commits) and queues its mail through the transactional
outbox (`responder.outbox.enqueue`) in that same session, so the mail exists exactly when the
change that caused it commits. Each change writes its `Event` naming the agent.

Mail goes to the requester, with the ticket's CC participants in copy; it carries the
requester's reply-token address (an answer finds the ticket, DESIGN.md Threading) and status
link (`deskmail.ticket_mail.TicketMailer`). These mails are sent because a person acted
(`Auto-Submitted: no`), so the caps on automatic mail do not apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from deskmail.knowledge_base import record_outcome
from deskmail.ticket_actions import (
    ACTIVE_STATUSES,
    Actor,
    TicketActionError,
    change_status,
    get_ticket,
)
from deskmail.ticket_mail import TicketMailer, person_info, ticket_info
from models import (
    Article,
    ArticleVersion,
    Event,
    ParticipantRole,
    Person,
    Suggestion,
    SuggestionOutcome,
    Ticket,
    TicketParticipant,
    TicketStatus,
    utcnow,
)
from responder.compose import Recipient
from responder.conversation import conversation_for
from responder.mails import AgentReplyMail, ArticleRef, PersonInfo, ResolutionMail
from responder.outbox import Queued, enqueue

MAX_REPLY_CHARS = 100_000
MAX_RESOLUTION_CHARS = 20_000


class SuggestionNotFoundError(TicketActionError):
    """The ticket has no suggestion of this id."""


def clean_text(text: str, *, what: str, max_chars: int) -> str:
    """Text an agent typed, as it is mailed: line ends normalised, NULs removed, not empty."""
    cleaned = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").strip()
    if not cleaned:
        raise TicketActionError(f"the {what} is empty")
    if len(cleaned) > max_chars:
        raise TicketActionError(f"the {what} may have at most {max_chars} characters")
    return cleaned


def _copies(session: Session, ticket: Ticket, own: frozenset[str]) -> list[Recipient]:
    people = session.execute(
        select(Person)
        .join(TicketParticipant, TicketParticipant.person_id == Person.id)
        .where(
            TicketParticipant.ticket_id == ticket.id,
            TicketParticipant.role == ParticipantRole.CC,
            Person.id != ticket.requester_id,
        )
        .order_by(Person.id)
    ).scalars()
    return [Recipient(p.email, p.name or "") for p in people if p.email.lower() not in own]


def _send(
    session: Session,
    mailer: TicketMailer,
    ticket: Ticket,
    mail: AgentReplyMail | ResolutionMail,
    *,
    actor: Actor,
    now: datetime,
) -> Queued:
    requester = ticket.requester
    token, reply_to = mailer.reply_for(ticket.id, requester.email)
    return enqueue(
        session,
        mailer.outbox,
        mail,
        to=Recipient(requester.email, requester.name or ""),
        cc=_copies(session, ticket, mailer.outbox.own_addresses),
        reply_token=token,
        reply_to=reply_to,
        conversation=conversation_for(session, ticket),
        author_id=actor.person_id,
        actor=actor.email,
        now=now,
    )


def _responded(ticket: Ticket, now: datetime) -> None:
    # A person's first mail to the requester meets the first-response promise (deskmail.sla).
    if ticket.first_responded_at is None:
        ticket.first_responded_at = now
    ticket.updated_at = now


def reply_to_requester(
    session: Session, mailer: TicketMailer, number: int, text: str, *, actor: Actor
) -> Queued:
    """Mail the agent's answer to the requester (`agent_reply`); a new ticket becomes open."""
    ticket = get_ticket(session, number)
    body = clean_text(text, what="reply", max_chars=MAX_REPLY_CHARS)
    if ticket.status == TicketStatus.CLOSED:
        raise TicketActionError("the ticket is closed: a reply would start a new ticket")
    now = utcnow()
    if ticket.status == TicketStatus.NEW:
        change_status(session, number, TicketStatus.OPEN, actor=actor, now=now)
    mail = AgentReplyMail(
        ticket=ticket_info(session, ticket),
        requester=person_info(ticket.requester),
        agent=PersonInfo(actor.email, actor.name),
        reply_text=body,
        status_url=mailer.status_url(ticket.id, ticket.requester.email),
    )
    queued = _send(session, mailer, ticket, mail, actor=actor, now=now)
    _responded(ticket, now)
    session.add(
        Event(
            ticket_id=ticket.id,
            kind="agent_replied",
            actor=actor.email,
            data={"outbound": queued.outbound.id},
            created_at=now,
        )
    )
    return queued


@dataclass(frozen=True)
class Resolved:
    """A resolved ticket and its queued resolution mail (and the suggestion accepted)."""

    ticket: Ticket
    queued: Queued
    suggestion: Suggestion | None = None


def article_text(session: Session, article: Article) -> str:
    """The solution of the article's published version (its current one while a draft)."""
    number = article.published_version or article.current_version
    version = session.execute(
        select(ArticleVersion).where(
            ArticleVersion.article_id == article.id, ArticleVersion.number == number
        )
    ).scalar_one()
    return version.solution.strip() or version.problem.strip() or version.title


def resolve(
    session: Session,
    mailer: TicketMailer,
    number: int,
    resolution_text: str,
    *,
    actor: Actor,
    article: Article | None = None,
) -> Resolved:
    """Resolve the ticket with `resolution_text` and queue the resolution mail."""
    ticket = get_ticket(session, number)
    if ticket.status not in ACTIVE_STATUSES:
        raise TicketActionError(f"the ticket is {ticket.status} already")
    text = clean_text(resolution_text, what="resolution", max_chars=MAX_RESOLUTION_CHARS)
    now = utcnow()
    change_status(session, number, TicketStatus.RESOLVED, actor=actor, now=now)
    ticket.resolution = text
    mail = ResolutionMail(
        ticket=ticket_info(session, ticket),
        requester=person_info(ticket.requester),
        resolution_text=text,
        status_url=mailer.status_url(ticket.id, ticket.requester.email),
        reopen_days=mailer.app.settings.process.reopen_days,
        article=ArticleRef(article.title) if article is not None else None,
        resolved_by=actor.name or actor.email,
    )
    queued = _send(session, mailer, ticket, mail, actor=actor, now=now)
    _responded(ticket, now)
    session.add(
        Event(
            ticket_id=ticket.id,
            kind="resolved",
            actor=actor.email,
            data={
                "outbound": queued.outbound.id,
                "article": article.slug if article is not None else None,
            },
            created_at=now,
        )
    )
    return Resolved(ticket, queued)


def suggestion_of(session: Session, number: int, suggestion_id: int) -> Suggestion:
    """A suggestion made for ticket `number` (another ticket's is refused)."""
    suggestion = session.get(Suggestion, suggestion_id)
    if suggestion is None or suggestion.ticket_id != number:
        raise SuggestionNotFoundError(f"ticket #{number} has no suggestion {suggestion_id}")
    return suggestion


def _article(session: Session, suggestion: Suggestion) -> Article:
    article = session.get(Article, suggestion.article_id)
    if article is None:  # pragma: no cover - a foreign key
        raise TicketActionError("the suggested article no longer exists")
    return article


def accept_suggestion(
    session: Session, mailer: TicketMailer, number: int, suggestion_id: int, *, actor: Actor
) -> Resolved:
    """Resolve the ticket with a suggested article: its solution is the resolution text, the
    suggestion's outcome becomes accepted (the matcher learns from it) and the resolution
    mail is queued, all in the caller's transaction."""
    suggestion = suggestion_of(session, number, suggestion_id)
    article = _article(session, suggestion)
    resolved = resolve(
        session, mailer, number, article_text(session, article), actor=actor, article=article
    )
    record_outcome(session, suggestion.id, SuggestionOutcome.ACCEPTED, actor)
    return Resolved(resolved.ticket, resolved.queued, suggestion)


def reject_suggestion(
    session: Session, number: int, suggestion_id: int, *, actor: Actor
) -> Suggestion:
    """The agent says the suggested article does not fit (the matcher learns from it)."""
    suggestion = suggestion_of(session, number, suggestion_id)
    return record_outcome(session, suggestion.id, SuggestionOutcome.REJECTED, actor)


def suggestion_text(session: Session, number: int, suggestion_id: int) -> str:
    """The article text an agent may insert into a reply."""
    return article_text(session, _article(session, suggestion_of(session, number, suggestion_id)))
