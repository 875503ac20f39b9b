"""The agents' pages: the queue, a ticket with its conversation and timeline, and the actions
on it (internal note, status, assignment), the mail-body frame and attachment downloads.

Actions post a form (with the CSRF token), call the use case of `deskmail.ticket_actions` in
one transaction and redirect back with a one-time message (post/redirect/get).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, TypeVar

from fastapi import Form, HTTPException, Query
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from deskmail.accounts import list_users
from deskmail.admin_actions import list_categories
from deskmail.db import transaction
from deskmail.ticket_actions import (
    ACTIVE_STATUSES,
    AGENT_STATUSES,
    Actor,
    TicketActionError,
    add_note,
    assign,
    change_status,
)
from deskmail.web.auth import Access, CurrentUser, Principal
from deskmail.web.context import Ctx
from deskmail.web.downloads import download_response
from deskmail.web.mail_html import frame_document
from deskmail.web.queue import ASSIGNEE_NONE, QueueFilter, QueueSort, SlaFilter, query_queue
from deskmail.web.rendering import redirect, render
from deskmail.web.routing import Area, NavEntry, WebExtension
from deskmail.web.security import MAIL_FRAME_CSP
from deskmail.web.ticket_pages import (
    CLASSIFICATION_PANEL,
    attachment_with_data,
    conversation,
    inline_images,
    panels,
    timeline,
)
from models import Message, Person, Ticket, TicketStatus, utcnow

area = Area(name="tickets")
E = TypeVar("E", bound=StrEnum)

STATUS_CHOICES = ("active", *(s.value for s in TicketStatus), "all")
PRIORITIES = ("P1", "P2", "P3", "P4")


def actor_of(user: Principal) -> Actor:
    """The use cases' view of the signed-in person."""
    return Actor(email=user.email, name=user.name, person_id=user.person_id)


def _statuses(value: str) -> tuple[TicketStatus, ...]:
    if value == "all":
        return ()
    if value in {s.value for s in TicketStatus}:
        return (TicketStatus(value),)
    return ACTIVE_STATUSES


def _choice(kind: type[E], value: str) -> E | None:
    try:
        return kind(value)
    except ValueError:
        return None


@area.get("/tickets", access=Access.AGENT, name="queue")
def queue_page(
    *,
    request: Request,
    ctx: Ctx,
    user: CurrentUser,
    status: Annotated[str, Query(max_length=20)] = "active",
    category: Annotated[str, Query(max_length=100)] = "",
    priority: Annotated[str, Query(max_length=4)] = "",
    assignee: Annotated[str, Query(max_length=320)] = "",
    triage: Annotated[str, Query(max_length=3)] = "",
    sla: Annotated[str, Query(max_length=20)] = "",
    q: Annotated[str, Query(max_length=200)] = "",
    sort: Annotated[str, Query(max_length=20)] = "newest",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    """The queue: filters, search, sorting and paging; keyboard-friendly (j/k, Enter, /)."""
    spec = QueueFilter(
        statuses=_statuses(status),
        category=category or None,
        priority=priority or None,
        assignee=user.email if assignee == "me" else (assignee or None),
        needs_triage={"yes": True, "no": False}.get(triage),
        sla=_choice(SlaFilter, sla),
        query=q,
        sort=_choice(QueueSort, sort) or QueueSort.NEWEST,
        page=page,
        per_page=ctx.config.page_size,
    )
    with ctx.app.read_sessions() as db:
        result = query_queue(db, spec, now=utcnow())
        categories = list_categories(db)
        agents = [u for u in list_users(db) if u.active]
        agent_choices = [(u.person.email, u.person.name or u.person.email) for u in agents]
    params = {
        "status": status if status in STATUS_CHOICES else "active",
        "category": category,
        "priority": priority,
        "assignee": assignee,
        "triage": triage,
        "sla": sla,
        "q": q,
        "sort": spec.sort.value,
    }
    return render(
        request,
        "queue.html",
        {
            "title": "Queue",
            "result": result,
            "params": params,
            "status_choices": STATUS_CHOICES,
            "priorities": PRIORITIES,
            "categories": categories,
            "agents": agent_choices,
            "sorts": [s.value for s in QueueSort],
            "now": utcnow(),
            "assignee_none": ASSIGNEE_NONE,
        },
    )


def _load_ticket(request: Request, ctx: Ctx, number: int, user: Principal) -> Response:
    with ctx.app.read_sessions() as db:
        ticket = db.get(Ticket, number)
        if ticket is None:
            raise HTTPException(404, f"No ticket #{number}.")
        assignee = db.get(Person, ticket.assignee_id) if ticket.assignee_id else None
        messages = conversation(db, ticket.id)
        events = timeline(db, ticket.id)
        participants = [(p.person.email, p.person.name, str(p.role)) for p in ticket.participants]
        agents = [
            (u.person.email, u.person.name or u.person.email) for u in list_users(db) if u.active
        ]
        shown = panels(db, ticket, user, ctx.ticket_panels)
    return render(
        request,
        "ticket.html",
        {
            "title": f"#{ticket.id} {ticket.subject}",
            "ticket": ticket,
            "assignee": assignee,
            "messages": messages,
            "events": events,
            "participants": participants,
            "agents": agents,
            "statuses": [s.value for s in AGENT_STATUSES],
            "panels": shown,
            "now": utcnow(),
            "link_base": "",
        },
    )


@area.get("/tickets/{number}", access=Access.AGENT, name="ticket")
def ticket_page(request: Request, ctx: Ctx, user: CurrentUser, number: int) -> Response:
    """One ticket: conversation, properties, classification, timeline and actions."""
    return _load_ticket(request, ctx, number, user)


def _back(request: Request, number: int, flash: str, level: str = "info") -> Response:
    return redirect(request, f"/tickets/{number}", flash=flash, level=level)


@area.post("/tickets/{number}/notes", access=Access.AGENT, name="ticket_note")
def ticket_note(
    request: Request,
    ctx: Ctx,
    user: CurrentUser,
    number: int,
    text: Annotated[str, Form(max_length=200_000)] = "",
) -> Response:
    """Add an internal note."""
    try:
        with transaction(ctx.app.sessions) as db:
            add_note(db, number, text, actor=actor_of(user))
    except TicketActionError as exc:
        return _back(request, number, f"Note not added: {exc}.", "error")
    return _back(request, number, "Note added.")


@area.post("/tickets/{number}/status", access=Access.AGENT, name="ticket_status")
def ticket_status(
    request: Request,
    ctx: Ctx,
    user: CurrentUser,
    number: int,
    status: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Change the ticket's status."""
    try:
        with transaction(ctx.app.sessions) as db:
            ticket = change_status(db, number, status, actor=actor_of(user))
            now = ticket.status
    except TicketActionError as exc:
        return _back(request, number, f"Status not changed: {exc}.", "error")
    return _back(request, number, f"Status is now {now}.")


@area.post("/tickets/{number}/assign", access=Access.AGENT, name="ticket_assign")
def ticket_assign(
    *,
    request: Request,
    ctx: Ctx,
    user: CurrentUser,
    number: int,
    assignee: Annotated[str, Form(max_length=320)] = "",
    group: Annotated[str | None, Form(max_length=100)] = None,
) -> Response:
    """Assign the ticket to an agent (empty: unassign) and optionally a group."""
    target = user.email if assignee == "me" else assignee
    try:
        with transaction(ctx.app.sessions) as db:
            assign(db, number, assignee=target or None, group=group, actor=actor_of(user))
    except TicketActionError as exc:
        return _back(request, number, f"Not assigned: {exc}.", "error")
    return _back(request, number, f"Assigned to {target}." if target else "Unassigned.")


def frame_response(document: str) -> Response:
    """The mail-body frame: HTML with its own strict policy (docs/decisions/0107)."""
    return Response(
        document,
        media_type="text/html",
        headers={"Content-Security-Policy": MAIL_FRAME_CSP, "Referrer-Policy": "no-referrer"},
    )


@area.get("/tickets/{number}/messages/{message_id}/body", access=Access.AGENT, name="message_body")
def message_body(ctx: Ctx, user: CurrentUser, number: int, message_id: int) -> Response:
    """The sanitised HTML of one message, for the sandboxed frame of the ticket page."""
    with ctx.app.read_sessions() as db:
        message = db.execute(
            select(Message).where(Message.id == message_id, Message.ticket_id == number)
        ).scalar_one_or_none()
        if message is None or message.html_sanitized is None:
            raise HTTPException(404, "No such message body.")
        document = frame_document(message.html_sanitized, inline_images(db, message))
    return frame_response(document)


@area.get("/attachments/{attachment_id}", access=Access.AGENT, name="attachment")
def attachment(ctx: Ctx, user: CurrentUser, attachment_id: int) -> Response:
    """Download an attachment (never shown inline, see `downloads`)."""
    with ctx.app.read_sessions() as db:
        found = attachment_with_data(db, attachment_id)
    if found is None:
        raise HTTPException(404, "No such attachment.")
    item, data = found
    return download_response(data, filename=item.filename, content_type=item.content_type)


EXTENSION = WebExtension(
    areas=(area,),
    nav=(NavEntry("Queue", "queue", Access.AGENT, order=10, active_prefix="/tickets"),),
    ticket_panels=(CLASSIFICATION_PANEL,),
)
