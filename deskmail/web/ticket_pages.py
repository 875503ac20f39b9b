"""Loading what the ticket pages show: the conversation, timeline, classification and panels.

Shared by the agents' ticket page, the requesters' status page and the JSON API, each in one
read transaction with a fixed number of queries (messages with their attachments in two,
events in one, the latest classification in one), whatever the ticket's size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from deskmail.web.auth import Principal
from deskmail.web.downloads import SAFE_IMAGE_TYPES
from deskmail.web.routing import TicketPanel
from models import (
    Article,
    ArticleVersion,
    Attachment,
    Blob,
    Classification,
    Direction,
    Event,
    Message,
    Suggestion,
    Ticket,
)
from models.suggestion import SuggestionRun

# Conversation entries a requester may see: never internal notes.
PUBLIC_DIRECTIONS = (Direction.INBOUND, Direction.OUTBOUND)


@dataclass(frozen=True)
class PanelView:
    """A ticket panel ready to render."""

    name: str
    template: str
    column: str
    values: Mapping[str, Any]


def conversation(
    session: Session, ticket_id: int, *, directions: Sequence[Direction] | None = None
) -> list[Message]:
    """The ticket's messages, oldest first, with their attachments loaded."""
    query = (
        select(Message)
        .where(Message.ticket_id == ticket_id)
        .options(selectinload(Message.attachments))
        .order_by(Message.date, Message.id)
    )
    if directions is not None:
        query = query.where(Message.direction.in_([str(d) for d in directions]))
    return list(session.execute(query).scalars())


def timeline(session: Session, ticket_id: int) -> list[Event]:
    """The ticket's events, oldest first."""
    return list(
        session.execute(
            select(Event).where(Event.ticket_id == ticket_id).order_by(Event.created_at, Event.id)
        ).scalars()
    )


def latest_classification(session: Session, ticket_id: int) -> Classification | None:
    """The most recent classification of the ticket (an agent's correction included)."""
    return session.execute(
        select(Classification)
        .where(Classification.ticket_id == ticket_id)
        .order_by(Classification.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def inline_images(session: Session, message: Message) -> dict[str, tuple[str, bytes]]:
    """The safe raster images a message's HTML refers to by Content-ID."""
    wanted = {
        a.content_id.lower(): a
        for a in message.attachments
        if a.content_id and a.content_type.split(";")[0].strip().lower() in SAFE_IMAGE_TYPES
    }
    if not wanted:
        return {}
    blobs = {
        blob.sha256: blob.data
        for blob in session.execute(
            select(Blob).where(Blob.sha256.in_({a.blob_sha256 for a in wanted.values()}))
        ).scalars()
    }
    return {
        cid: (a.content_type.split(";")[0].strip().lower(), blobs[a.blob_sha256])
        for cid, a in wanted.items()
        if a.blob_sha256 in blobs
    }


def attachment_with_data(session: Session, attachment_id: int) -> tuple[Attachment, bytes] | None:
    """An attachment and its bytes."""
    attachment = session.get(Attachment, attachment_id)
    if attachment is None:
        return None
    blob = session.get(Blob, attachment.blob_sha256)
    if blob is None:
        return None
    return attachment, blob.data


def panels(
    session: Session, ticket: Ticket, user: Principal, registered: Sequence[TicketPanel]
) -> list[PanelView]:
    """The registered panels this user may see that have something to show for the ticket."""
    shown: list[PanelView] = []
    for panel in sorted(registered, key=lambda p: (p.order, p.name)):
        if not user.can(panel.access):
            continue
        values = panel.load(session, ticket, user)
        if values is not None:
            shown.append(PanelView(panel.name, panel.template, panel.column, values))
    return shown


def classification_panel(
    session: Session, ticket: Ticket, user: Principal
) -> Mapping[str, Any] | None:
    """The classifier's latest labels with their confidences (a built-in ticket panel)."""
    found = latest_classification(session, ticket.id)
    if found is None:
        return None
    confidences = [
        (str(label), value)
        for label, value in sorted(found.confidences.items())
        if isinstance(value, int | float) and not isinstance(value, bool)
    ]
    return {"classification": found, "confidences": confidences}


CLASSIFICATION_PANEL = TicketPanel(
    name="classification",
    template="panel_classification.html",
    load=classification_panel,
    column="side",
    order=10,
)


@dataclass(frozen=True)
class SuggestionView:
    """One suggested article as the agents' panel shows it."""

    id: int
    rank: int
    slug: str
    title: str
    audience: str
    passage: str
    score: float
    confidence: float
    outcome: str
    text: str  # the article's solution, for "insert into reply"


def suggestions_panel(
    session: Session, ticket: Ticket, user: Principal
) -> Mapping[str, Any] | None:
    """The articles of the ticket's latest suggestion run, best first, with what matched."""
    run = session.execute(
        select(SuggestionRun)
        .where(SuggestionRun.ticket_id == ticket.id)
        .order_by(SuggestionRun.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if run is None:
        return None
    rows = session.execute(
        select(Suggestion, Article, ArticleVersion.solution)
        .join(Article, Article.id == Suggestion.article_id)
        .join(
            ArticleVersion,
            (ArticleVersion.article_id == Article.id)
            & (
                ArticleVersion.number
                == func.coalesce(Article.published_version, Article.current_version)
            ),
        )
        .where(Suggestion.run_id == run.id)
        .order_by(Suggestion.rank, Suggestion.id)
    ).all()
    views = [
        SuggestionView(
            id=suggestion.id,
            rank=suggestion.rank,
            slug=article.slug,
            title=article.title,
            audience=str(article.audience),
            passage=suggestion.passage,
            score=suggestion.score,
            confidence=suggestion.confidence,
            outcome=str(suggestion.outcome),
            text=solution.strip(),
        )
        for suggestion, article, solution in rows
    ]
    if not views:
        return None
    return {"run": run, "suggestions": views, "active": ticket.status in ("new", "open", "pending")}


SUGGESTIONS_PANEL = TicketPanel(
    name="suggestions",
    template="panel_suggestions.html",
    load=suggestions_panel,
    column="main",
    order=10,
)
