"""A requester's "this solved it": the ticket closes as solved by the requester.

Called from the requesters' status page (`deskmail.web.routes_kb`), where the person behind a
valid status link clicks "this solved it" under an article the help desk offered them, or
"my problem is solved" for the ticket as a whole. Like a reply of "solved" to the
acknowledgement (DESIGN.md, Threading), it closes the ticket with `closed_by_solved` set (it
counts as deflection in the reports) and records the suggestion's outcome as `solved`, which
the matcher learns from (`deskmail.knowledge_base.record_outcome`). The event is the same
`closed_by_requester` the mail path writes, marked `via: status_page`.

Which suggestions helped: the article the requester named - only one the help desk offered
them (public, published, sent or eligible for them) - or, for the whole ticket, every offered
article still pending, as for a "solved" reply (decision 0144). After an agent had resolved
the ticket, a plain "solved" confirms the agent's work: no deflection, no article credited.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from deskmail.lifecycle import close_as_solved, solved_is_deflection
from deskmail.ticket_actions import TicketActionError, get_ticket
from models import (
    Article,
    ArticleStatus,
    Audience,
    Suggestion,
    SuggestionOutcome,
    Ticket,
    TicketStatus,
)

RESOLUTION = "The requester said on the status page that the problem is solved."


class AlreadyClosedError(TicketActionError):
    """The ticket was closed before the requester said it was solved."""


@dataclass(frozen=True)
class OfferedArticle:
    """An article the help desk offered the requester on this ticket."""

    suggestion_id: int
    article_id: int
    slug: str
    title: str
    passage: str
    outcome: SuggestionOutcome


def offered_articles(session: Session, ticket_id: int) -> list[OfferedArticle]:
    """The public, published articles offered to the ticket's requester, best first.

    Offered: sent in the acknowledgement, or confident enough to be (eligible). Internal,
    draft and archived articles never appear, whatever was stored when the mail came in.
    """
    rows = session.execute(
        select(Suggestion, Article)
        .join(Article, Article.id == Suggestion.article_id)
        .where(
            Suggestion.ticket_id == ticket_id,
            Suggestion.eligible_for_requester.is_(True) | Suggestion.sent_to_requester.is_(True),
            Article.audience == Audience.PUBLIC,
            Article.status == ArticleStatus.PUBLISHED,
        )
        .order_by(Suggestion.rank, Suggestion.id)
    ).all()
    seen: set[int] = set()
    offered: list[OfferedArticle] = []
    for suggestion, article in rows:
        if article.id in seen:
            continue
        seen.add(article.id)
        offered.append(
            OfferedArticle(
                suggestion.id,
                article.id,
                article.slug,
                article.title,
                suggestion.passage,
                SuggestionOutcome(suggestion.outcome),
            )
        )
    return offered


def offered_article(session: Session, ticket_id: int, slug: str) -> OfferedArticle | None:
    """The offered article with this slug, or None (not offered on this ticket)."""
    return next((a for a in offered_articles(session, ticket_id) if a.slug == slug), None)


def solved_by_requester(
    session: Session, ticket_id: int, *, email: str, slug: str | None = None
) -> Ticket:
    """Close the ticket as solved by its requester `email` (see the module's doc).

    `slug` names the article that solved it; it must be one offered on this ticket.
    """
    ticket = get_ticket(session, ticket_id)
    if ticket.status == TicketStatus.CLOSED:
        raise AlreadyClosedError(f"ticket #{ticket_id} is closed already")
    offered = offered_articles(session, ticket_id)
    if slug is not None:
        named = [a for a in offered if a.slug == slug]
        if not named:
            raise TicketActionError("this article was not offered on this request")
        credited = named
    else:
        credited = [a for a in offered if a.outcome is SuggestionOutcome.PENDING]
    # As for a "solved" reply (deskmail.lifecycle): deflection only when nobody of the help
    # desk had resolved it; a "solved" after an agent's resolution confirms the agent's work.
    deflected = solved_is_deflection(ticket)
    close_as_solved(
        session,
        ticket,
        email,
        deflected=deflected,
        credit=[item.suggestion_id for item in credited] if deflected or slug is not None else [],
        resolution=RESOLUTION,
        via="status_page",
        articles=[item.slug for item in credited],
    )
    return ticket
