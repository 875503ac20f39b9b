"""The JSON API of the agents' ticket work (`/api/v1/...`): reply, resolve, accept or reject a
suggested article, merge, link a parent incident, and the dashboard's figures.

The same use cases as the ticket page (`deskmail.agent_mail`, `deskmail.ticket_merge`,
`deskmail.dashboard`), each in one transaction; authentication, CSRF and errors as in
`deskmail.web.routes_api`. An unknown ticket or suggestion is a 404; a change the ticket's
state does not allow (resolving a resolved ticket, merging into itself, a parent loop) a 409,
with `{"detail": ...}`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import HTTPException, Path, Query
from pydantic import BaseModel, Field
from starlette.requests import Request

from deskmail.agent_mail import (
    MAX_RESOLUTION_CHARS,
    Resolved,
    SuggestionNotFoundError,
    accept_suggestion,
    reject_suggestion,
    reply_to_requester,
    resolve,
)
from deskmail.dashboard import build_dashboard
from deskmail.db import transaction
from deskmail.knowledge_base import KnowledgeBaseError
from deskmail.ticket_actions import TicketActionError, TicketNotFoundError, get_ticket
from deskmail.ticket_merge import link_parent, merge_tickets
from deskmail.web.api_models import NOT_BLANK, ErrorOut
from deskmail.web.auth import Access, CurrentUser
from deskmail.web.context import Ctx
from deskmail.web.mail_wiring import ticket_mailer
from deskmail.web.routes_dashboard import period
from deskmail.web.routes_tickets import actor_of
from deskmail.web.routing import Area, WebExtension
from models import Ticket, utcnow

area = Area(name="ticket-work", prefix="/api/v1", api=True)

Id = Annotated[int, Path(ge=1, le=2_147_483_647)]
_ERRORS: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "Conflicts with the ticket's current state"},
    401: {"model": ErrorOut, "description": "No valid credentials"},
    403: {"model": ErrorOut, "description": "The role does not allow this, or CSRF failed"},
    404: {"model": ErrorOut, "description": "Not found"},
}


class TextIn(BaseModel):
    """A reply to the requester."""

    model_config = {"extra": "forbid"}
    text: str = Field(min_length=1, max_length=100_000, pattern=NOT_BLANK)


class ResolutionIn(BaseModel):
    """What was done, for the resolution mail."""

    model_config = {"extra": "forbid"}
    text: str = Field(min_length=1, max_length=MAX_RESOLUTION_CHARS, pattern=NOT_BLANK)


class MergeIn(BaseModel):
    """The ticket to merge into."""

    model_config = {"extra": "forbid"}
    ticket: int = Field(ge=1, le=2_147_483_647)


class ParentIn(BaseModel):
    """The parent incident (null: no parent)."""

    model_config = {"extra": "forbid"}
    ticket: int | None = Field(default=None, ge=1, le=2_147_483_647)


class MailQueuedOut(BaseModel):
    """A mail queued in the outbox with the change."""

    ticket: int
    status: str
    outbound: int
    subject: str


class SuggestionOut(BaseModel):
    """A suggestion after an agent's verdict."""

    id: int
    ticket: int
    outcome: str


class LinkOut(BaseModel):
    """A ticket after merging or linking."""

    ticket: int
    status: str
    merged_into: int | None
    parent: int | None


def _queued(resolved: Resolved) -> MailQueuedOut:
    return MailQueuedOut(
        ticket=resolved.ticket.id,
        status=str(resolved.ticket.status),
        outbound=resolved.queued.outbound.id,
        subject=resolved.queued.rendered.subject,
    )


@contextmanager
def _refusals() -> Iterator[None]:
    """Unknown things as 404, refusals by the ticket's state as 409."""
    try:
        yield
    except (TicketNotFoundError, SuggestionNotFoundError) as exc:
        raise HTTPException(404, str(exc)) from exc
    except (TicketActionError, KnowledgeBaseError) as exc:
        raise HTTPException(409, str(exc)) from exc


@area.post(
    "/tickets/{number}/reply",
    access=Access.AGENT,
    name="api_ticket_reply",
    status_code=201,
    response_model=MailQueuedOut,
    responses=_ERRORS,
)
def reply(request: Request, ctx: Ctx, user: CurrentUser, number: Id, body: TextIn) -> MailQueuedOut:
    """Mail an answer to the requester (an `agent_reply`, queued with the change)."""
    with _refusals(), transaction(ctx.app.sessions) as db:
        queued = reply_to_requester(
            db, ticket_mailer(request), number, body.text, actor=actor_of(user)
        )
        return MailQueuedOut(
            ticket=number,
            status=str(get_ticket(db, number).status),
            outbound=queued.outbound.id,
            subject=queued.rendered.subject,
        )


@area.post(
    "/tickets/{number}/resolve",
    access=Access.AGENT,
    name="api_ticket_resolve",
    status_code=201,
    response_model=MailQueuedOut,
    responses=_ERRORS,
)
def resolve_ticket(
    request: Request, ctx: Ctx, user: CurrentUser, number: Id, body: ResolutionIn
) -> MailQueuedOut:
    """Resolve the ticket with a text of what was done; the resolution mail is queued."""
    with _refusals(), transaction(ctx.app.sessions) as db:
        return _queued(resolve(db, ticket_mailer(request), number, body.text, actor=actor_of(user)))


@area.post(
    "/tickets/{number}/suggestions/{suggestion_id}/accept",
    access=Access.AGENT,
    name="api_suggestion_accept",
    status_code=201,
    response_model=MailQueuedOut,
    responses=_ERRORS,
)
def accept(
    request: Request, ctx: Ctx, user: CurrentUser, number: Id, suggestion_id: Id
) -> MailQueuedOut:
    """Resolve the ticket with the suggested article and queue the resolution mail."""
    with _refusals(), transaction(ctx.app.sessions) as db:
        return _queued(
            accept_suggestion(
                db, ticket_mailer(request), number, suggestion_id, actor=actor_of(user)
            )
        )


@area.post(
    "/tickets/{number}/suggestions/{suggestion_id}/reject",
    access=Access.AGENT,
    name="api_suggestion_reject",
    response_model=SuggestionOut,
    responses=_ERRORS,
)
def reject(ctx: Ctx, user: CurrentUser, number: Id, suggestion_id: Id) -> SuggestionOut:
    """Say the suggested article does not fit (the matcher learns from it)."""
    with _refusals(), transaction(ctx.app.sessions) as db:
        done = reject_suggestion(db, number, suggestion_id, actor=actor_of(user))
        return SuggestionOut(id=done.id, ticket=number, outcome=str(done.outcome))


def _link(ticket: Ticket) -> LinkOut:
    return LinkOut(
        ticket=ticket.id,
        status=str(ticket.status),
        merged_into=ticket.merged_into_id,
        parent=ticket.parent_id,
    )


@area.post(
    "/tickets/{number}/merge",
    access=Access.AGENT,
    name="api_ticket_merge",
    response_model=LinkOut,
    responses=_ERRORS,
)
def merge(ctx: Ctx, user: CurrentUser, number: Id, body: MergeIn) -> LinkOut:
    """Close this ticket as a duplicate of `ticket` (its people join that ticket)."""
    with _refusals(), transaction(ctx.app.sessions) as db:
        return _link(merge_tickets(db, number, body.ticket, actor=actor_of(user)).duplicate)


@area.post(
    "/tickets/{number}/parent",
    access=Access.AGENT,
    name="api_ticket_parent",
    response_model=LinkOut,
    responses=_ERRORS,
)
def parent(ctx: Ctx, user: CurrentUser, number: Id, body: ParentIn) -> LinkOut:
    """Link the ticket to its parent incident (null: remove the link)."""
    with _refusals(), transaction(ctx.app.sessions) as db:
        return _link(link_parent(db, number, body.ticket, actor=actor_of(user)))


@area.get("/dashboard", access=Access.AGENT, name="api_dashboard", responses=_ERRORS)
def dashboard(
    ctx: Ctx, user: CurrentUser, days: Annotated[int, Query(ge=1, le=366)] = 30
) -> dict[str, Any]:
    """The dashboard's figures for the tickets opened in the last `days` UTC days."""
    now = utcnow()
    since, until = period(days, now)
    with ctx.app.read_sessions() as db:
        return build_dashboard(db, since=since, until=until, now=now).as_json()


EXTENSION = WebExtension(areas=(area,))
