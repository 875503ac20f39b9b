"""Shared setup of the knowledge-base web tests: accounts, articles made through the use cases,
and tickets with the suggestions the suggest stage would have stored.

`offer(desk, number, slug)` records that the help desk offered an article to the ticket's
requester (a `Suggestion` row marked sent, as the acknowledgement marks it), so requester
pages can be tested without running the model; the browser test runs the real pipeline.
`publish_without_model` sets an article published in the database for the same reason: the
requesters' pages only read that state (the model-backed publish has its own tests).
"""

from __future__ import annotations

from deskmail.db import transaction
from deskmail.knowledge_base import ArticleDraft, create_article, find_article
from deskmail.ticket_actions import Actor
from models import ArticleStatus, Audience, Role, Suggestion, SuggestionOutcome, utcnow
from tests.web.helpers import Desk

EDITOR = "editor@example.org"
AGENT = "agent@example.org"
ADMIN = "admin@example.org"


def accounts(desk: Desk) -> dict[Role, int]:
    """An agent, an editor and an admin (addresses `<role>@example.org`)."""
    return {role: desk.add_user(f"{role.value}@example.org", role) for role in Role}


def article(
    desk: Desk,
    title: str,
    *,
    solution: str = "1. Restart it.\n2. Try again.",
    problem: str = "It does not work.",
    category: str | None = None,
    audience: Audience = Audience.PUBLIC,
) -> str:
    """A draft article made by the editor; returns its slug."""
    with transaction(desk.app.sessions) as db:
        made = create_article(
            db,
            ArticleDraft(title, problem, solution, category, (), audience),
            actor=Actor(EDITOR),
        )
        return made.slug


def publish_without_model(desk: Desk, slug: str) -> None:
    """Mark the article published (see the module's doc)."""
    with transaction(desk.app.sessions) as db:
        found = find_article(db, slug)
        found.status = ArticleStatus.PUBLISHED
        found.published_version = found.current_version
        found.published_at = utcnow()


def offer(
    desk: Desk,
    number: int,
    slug: str,
    *,
    rank: int = 1,
    sent: bool = True,
    outcome: SuggestionOutcome = SuggestionOutcome.PENDING,
) -> int:
    """A suggestion of `slug` on ticket `number`; returns its id."""
    with transaction(desk.app.sessions) as db:
        suggestion = Suggestion(
            ticket_id=number,
            article_id=find_article(db, slug).id,
            rank=rank,
            score=0.9,
            confidence=0.9,
            passage=f"Passage of {slug}",
            eligible_for_requester=sent,
            sent_to_requester=sent,
            outcome=outcome,
        )
        db.add(suggestion)
        db.flush()
        return suggestion.id
