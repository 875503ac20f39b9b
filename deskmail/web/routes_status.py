"""The requesters' status page, reached by the signed link in their mail (no account).

It shows the ticket's state and its conversation as the requester knows it - their mail and
the help desk's answers, never internal notes - with their attachments and the mails' HTML in
the same sandboxed frame agents get. Every URL below `/status/<token>/` checks the token again
and only serves parts of that one ticket. The token is a credential: pages under it send no
referrer and ask not to be indexed. Panels registered as `StatusPanel` (suggested articles,
"this solved it") render below the conversation.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from deskmail.web.auth import Access, CurrentRequester, RequesterView
from deskmail.web.context import Ctx, WebContext
from deskmail.web.downloads import download_response
from deskmail.web.mail_html import frame_document
from deskmail.web.rendering import render
from deskmail.web.routes_tickets import frame_response
from deskmail.web.routing import Area, WebExtension
from deskmail.web.ticket_pages import (
    PUBLIC_DIRECTIONS,
    attachment_with_data,
    conversation,
    inline_images,
)
from models import Message, Ticket, TicketStatus

area = Area(name="status", prefix="/status")

PRIVATE_HEADERS = {"Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex, nofollow"}
REQUESTER_STATUS = {
    TicketStatus.NEW: "Received",
    TicketStatus.OPEN: "In progress",
    TicketStatus.PENDING: "On hold",
    TicketStatus.RESOLVED: "Resolved",
    TicketStatus.CLOSED: "Closed",
}


def _public_message(db: Session, requester: RequesterView, message_id: int) -> Message:
    message = db.execute(
        select(Message).where(
            Message.id == message_id,
            Message.ticket_id == requester.ticket_id,
            Message.direction.in_([str(d) for d in PUBLIC_DIRECTIONS]),
        )
    ).scalar_one_or_none()
    if message is None:
        raise HTTPException(404, "Not found.")
    return message


def _status_values(ctx: WebContext, requester: RequesterView) -> dict[str, Any]:
    with ctx.app.read_sessions() as db:
        ticket = db.get(Ticket, requester.ticket_id)
        if ticket is None:
            raise HTTPException(404, "Not found.")
        messages = conversation(db, ticket.id, directions=PUBLIC_DIRECTIONS)
        panels = []
        for panel in sorted(ctx.status_panels, key=lambda p: (p.order, p.name)):
            values = panel.load(db, ticket, requester)
            if values is not None:
                panels.append({"template": panel.template, "values": values})
    return {
        "title": f"Request #{ticket.id}",
        "ticket": ticket,
        "status_label": REQUESTER_STATUS.get(TicketStatus(ticket.status), str(ticket.status)),
        "messages": messages,
        "requester": requester,
        "base": f"/status/{requester.token}",
        "panels": panels,
    }


@area.get("/{token}", access=Access.REQUESTER, name="status_page")
def status_page(request: Request, ctx: Ctx, requester: CurrentRequester) -> Response:
    """The requester's view of their ticket."""
    return render(request, "status.html", _status_values(ctx, requester), headers=PRIVATE_HEADERS)


@area.get(
    "/{token}/messages/{message_id}/body", access=Access.REQUESTER, name="status_message_body"
)
def status_message_body(ctx: Ctx, requester: CurrentRequester, message_id: int) -> Response:
    """The sanitised HTML of one of the ticket's mails, for the sandboxed frame."""
    with ctx.app.read_sessions() as db:
        message = _public_message(db, requester, message_id)
        if message.html_sanitized is None:
            raise HTTPException(404, "Not found.")
        document = frame_document(message.html_sanitized, inline_images(db, message))
    return frame_response(document)


@area.get("/{token}/attachments/{attachment_id}", access=Access.REQUESTER, name="status_attachment")
def status_attachment(ctx: Ctx, requester: CurrentRequester, attachment_id: int) -> Response:
    """Download an attachment of one of the ticket's mails."""
    with ctx.app.read_sessions() as db:
        found = attachment_with_data(db, attachment_id)
        if found is None:
            raise HTTPException(404, "Not found.")
        item, data = found
        _public_message(db, requester, item.message_id)
    response = download_response(data, filename=item.filename, content_type=item.content_type)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


EXTENSION = WebExtension(areas=(area,))
