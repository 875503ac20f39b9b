"""Helpers of the acknowledgement and follow-up tests: an application without the classifier
(so no model is loaded), mail that answers a stored outbound mail, and timeline readers."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

from sqlalchemy import select

from deskmail.app import App
from deskmail.settings import Settings
from models import Event, OutboundMessage, OutboundStatus, Ticket
from tests.conftest import HELPDESK, make_settings

REQUESTER = "kim.lee@example.com"


def desk_settings(data_dir: Path, url: str, **overrides: Any) -> Settings:
    """Settings of these tests: no classifier, a default group, quiet hours off unless given."""
    process: dict[str, Any] = {"default_group": "service-desk", "followup_quiet_hours": 0}
    process.update(overrides.pop("process", {}))
    values: dict[str, Any] = {"classifier": {"enabled": False}, "process": process}
    values.update(overrides)
    return make_settings(data_dir, url, **values)


@contextmanager
def opened(settings: Settings) -> Iterator[App]:
    app = App.open(settings)
    try:
        yield app
    finally:
        app.close()


def requester_mail(
    subject: str,
    body: str,
    *,
    sender: str = REQUESTER,
    name: str = "Kim Lee",
    answers: bytes | None = None,
    cc: str | None = None,
    extra: dict[str, str] | None = None,
) -> bytes:
    """A plain mail to the help desk; with `answers`, a reply to that raw mail (threaded)."""
    message = EmailMessage()
    message["From"] = f"{name} <{sender}>"
    message["To"] = HELPDESK
    if cc:
        message["Cc"] = cc
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="example.com")
    message["Date"] = "Fri, 27 Nov 2026 09:00:00 +0000"
    if answers is not None:
        parent = email.message_from_bytes(answers, policy=email.policy.default)
        parent_id = str(parent["Message-ID"])
        references = str(parent.get("References", ""))
        message["In-Reply-To"] = parent_id
        message["References"] = f"{references} {parent_id}".strip()
    for key, value in (extra or {}).items():
        message[key] = value
    message.set_content(body)
    return message.as_bytes(policy=email.policy.SMTP)


def outbound(app: App, ticket: int | None = None) -> list[OutboundMessage]:
    with app.read_sessions() as session:
        query = select(OutboundMessage).order_by(OutboundMessage.id)
        if ticket is not None:
            query = query.where(OutboundMessage.ticket_id == ticket)
        return list(session.scalars(query))


def queued(app: App, ticket: int | None = None, kind: str | None = None) -> list[OutboundMessage]:
    return [
        row
        for row in outbound(app, ticket)
        if row.status != OutboundStatus.SUPPRESSED and (kind is None or row.kind == kind)
    ]


def events(app: App, ticket: int) -> list[Event]:
    with app.read_sessions() as session:
        return list(
            session.scalars(select(Event).where(Event.ticket_id == ticket).order_by(Event.id))
        )


def kinds(app: App, ticket: int) -> list[str]:
    return [event.kind for event in events(app, ticket)]


def ticket(app: App, number: int) -> Ticket:
    with app.read_sessions() as session:
        found = session.get(Ticket, number)
        assert found is not None
        session.expunge(found)
        return found
