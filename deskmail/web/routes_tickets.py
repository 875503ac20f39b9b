"""The agents' pages: the queue, a ticket with its conversation and timeline, and the actions
on it (internal note, reply, resolve, status, assignment, the suggested articles: accept,
reject, insert into the reply; merge into another ticket, link to a parent incident, correct
the classification), the mail-body frame and attachment downloads.

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

from classifier.labels import Impact, Urgency
from deskmail.accounts import list_users
from deskmail.admin_actions import list_categories
from deskmail.agent_mail import (
    accept_suggestion,
    reject_suggestion,
    reply_to_requester,
    resolve,
    suggestion_text,
)
from deskmail.classification import ClassificationError, correct_classification
from deskmail.db import transaction
from deskmail.knowledge_base import KnowledgeBaseError
from deskmail.ticket_actions import (
    ACTIVE_STATUSES,
    AGENT_STATUSES,
    Actor,
    TicketActionError,
    add_note,
    assign,
    change_status,
)
from deskmail.ticket_merge import child_tickets, link_parent, merge_tickets, merged_tickets
from deskmail.web.auth import Access, CurrentUser, Principal
from deskmail.web.context import Ctx
from deskmail.web.downloads import download_response
from deskmail.web.mail_html import frame_document
from deskmail.web.mail_wiring import ticket_mailer
from deskmail.web.queue import ASSIGNEE_NONE, QueueFilter, QueueSort, SlaFilter, query_queue
from deskmail.web.rendering import redirect, render
from deskmail.web.routing import Area, NavEntry, WebExtension
from deskmail.web.security import MAIL_FRAME_CSP
from deskmail.web.ticket_pages import (
    CLASSIFICATION_PANEL,
    SUGGESTIONS_PANEL,
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


def _load_ticket(
    request: Request, ctx: Ctx, number: int, user: Principal, insert: int | None = None
) -> Response:
    with ctx.app.read_sessions() as db:
        ticket = db.get(Ticket, number)
        if ticket is None:
            raise HTTPException(404, f"No ticket #{number}.")
        reply_text = ""
        if insert is not None:
            try:
                reply_text = suggestion_text(db, number, insert)
            except TicketActionError:
                reply_text = ""
        merged = [(t.id, t.subject) for t in merged_tickets(db, ticket.id)]
        children = [(t.id, t.subject, str(t.status)) for t in child_tickets(db, ticket.id)]
        parent = db.get(Ticket, ticket.parent_id) if ticket.parent_id else None
        categories = [(c.key, c.name, c.parent_id is not None) for c in list_categories(db)]
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
            "reply_text": reply_text,
            "merged": merged,
            "children": children,
            "parent": (parent.id, parent.subject) if parent else None,
            "categories": categories,
            "impacts": [i.value for i in Impact],
            "urgencies": [u.value for u in Urgency],
            "priorities": PRIORITIES,
        },
    )


@area.get("/tickets/{number}", access=Access.AGENT, name="ticket")
def ticket_page(
    request: Request,
    ctx: Ctx,
    user: CurrentUser,
    number: int,
    insert: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """One ticket: conversation, properties, classification, suggestions, timeline, actions.

    `?insert=<suggestion>` fills the reply box with that article's text (what the
    "insert into reply" link does without JavaScript; with it, ticket.js does it in place).
    """
    return _load_ticket(request, ctx, number, user, insert)


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


@area.post("/tickets/{number}/reply", access=Access.AGENT, name="ticket_reply")
def ticket_reply(
    request: Request,
    ctx: Ctx,
    user: CurrentUser,
    number: int,
    text: Annotated[str, Form(max_length=200_000)] = "",
) -> Response:
    """Mail an answer to the requester (queued with the change, sent by the outbox)."""
    try:
        with transaction(ctx.app.sessions) as db:
            reply_to_requester(db, ticket_mailer(request), number, text, actor=actor_of(user))
    except TicketActionError as exc:
        return _back(request, number, f"Reply not sent: {exc}.", "error")
    return _back(request, number, "Reply queued for sending.")


@area.post("/tickets/{number}/resolve", access=Access.AGENT, name="ticket_resolve")
def ticket_resolve(
    request: Request,
    ctx: Ctx,
    user: CurrentUser,
    number: int,
    text: Annotated[str, Form(max_length=200_000)] = "",
) -> Response:
    """Resolve the ticket with a text of what was done; the resolution mail is queued."""
    try:
        with transaction(ctx.app.sessions) as db:
            resolve(db, ticket_mailer(request), number, text, actor=actor_of(user))
    except TicketActionError as exc:
        return _back(request, number, f"Not resolved: {exc}.", "error")
    return _back(request, number, "Resolved; the resolution mail is queued.")


@area.post(
    "/tickets/{number}/suggestions/{suggestion_id}/accept",
    access=Access.AGENT,
    name="suggestion_accept",
)
def suggestion_accept(
    request: Request, ctx: Ctx, user: CurrentUser, number: int, suggestion_id: int
) -> Response:
    """Resolve the ticket with the suggested article (see `deskmail.ticket_mail`)."""
    try:
        with transaction(ctx.app.sessions) as db:
            done = accept_suggestion(
                db, ticket_mailer(request), number, suggestion_id, actor=actor_of(user)
            )
            title = done.queued.rendered.subject
    except (TicketActionError, KnowledgeBaseError) as exc:
        return _back(request, number, f"Not resolved: {exc}.", "error")
    return _back(request, number, f"Resolved with the article; mail queued: {title}")


@area.post(
    "/tickets/{number}/suggestions/{suggestion_id}/reject",
    access=Access.AGENT,
    name="suggestion_reject",
)
def suggestion_reject(
    request: Request, ctx: Ctx, user: CurrentUser, number: int, suggestion_id: int
) -> Response:
    """Mark a suggested article as not fitting (the matcher learns from it)."""
    try:
        with transaction(ctx.app.sessions) as db:
            reject_suggestion(db, number, suggestion_id, actor=actor_of(user))
    except (TicketActionError, KnowledgeBaseError) as exc:
        return _back(request, number, f"Not changed: {exc}.", "error")
    return _back(request, number, "Suggestion marked as not fitting.")


def _number(value: str) -> int | None:
    cleaned = value.strip().lstrip("#")
    return int(cleaned) if cleaned.isdigit() and len(cleaned) <= 12 else None


@area.post("/tickets/{number}/merge", access=Access.AGENT, name="ticket_merge")
def ticket_merge(
    request: Request,
    ctx: Ctx,
    user: CurrentUser,
    number: int,
    target: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Close this ticket as a duplicate of another (docs/decisions/0145)."""
    into = _number(target)
    if into is None:
        return _back(request, number, "Not merged: give the number of the other ticket.", "error")
    try:
        with transaction(ctx.app.sessions) as db:
            merged = merge_tickets(db, number, into, actor=actor_of(user))
            final = merged.target.id
    except TicketActionError as exc:
        return _back(request, number, f"Not merged: {exc}.", "error")
    return redirect(request, f"/tickets/{final}", flash=f"Ticket #{number} merged into #{final}.")


@area.post("/tickets/{number}/parent", access=Access.AGENT, name="ticket_parent")
def ticket_parent(
    request: Request,
    ctx: Ctx,
    user: CurrentUser,
    number: int,
    parent: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Link the ticket to its parent incident (empty: remove the link)."""
    wanted = _number(parent) if parent.strip() else None
    if parent.strip() and wanted is None:
        return _back(request, number, "Not linked: give a ticket number.", "error")
    try:
        with transaction(ctx.app.sessions) as db:
            link_parent(db, number, wanted, actor=actor_of(user))
    except TicketActionError as exc:
        return _back(request, number, f"Not linked: {exc}.", "error")
    return _back(request, number, f"Linked to #{wanted}." if wanted else "Parent link removed.")


@area.post("/tickets/{number}/classification", access=Access.AGENT, name="ticket_classify")
def ticket_classify(
    *,
    request: Request,
    ctx: Ctx,
    user: CurrentUser,
    number: int,
    category: Annotated[str, Form(max_length=100)] = "",
    impact: Annotated[str, Form(max_length=20)] = "",
    urgency: Annotated[str, Form(max_length=20)] = "",
    priority: Annotated[str, Form(max_length=4)] = "",
) -> Response:
    """Correct the classification; the change becomes a training example."""
    with ctx.app.read_sessions() as db:
        parents = {c.key: c.parent_id for c in list_categories(db)}
    is_sub = bool(category) and parents.get(category) is not None
    try:
        with transaction(ctx.app.sessions) as db:
            correct_classification(
                db,
                number,
                actor=actor_of(user),
                settings=ctx.app.settings.classifier,
                category=None if is_sub else (category or None),
                subcategory=category if is_sub else None,
                impact=impact or None,
                urgency=urgency or None,
                priority=priority or None,
            )
    except (TicketActionError, ClassificationError) as exc:
        return _back(request, number, f"Classification not changed: {exc}.", "error")
    return _back(request, number, "Classification corrected.")


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
    ticket_panels=(CLASSIFICATION_PANEL, SUGGESTIONS_PANEL),
)
