"""Shared pieces of the responder tests: tickets, mails, a frozen clock, the outbox wiring."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from models import ParticipantRole, Person, Ticket, TicketParticipant
from responder.compose import Identity, Recipient
from responder.mails import AcknowledgementMail, PersonInfo, SuggestedSolution, TicketInfo
from responder.outbox import Outbox
from responder.rendering import RenderConfig, Renderer
from responder.suppression import AutoReplyLimits
from tests.conftest import HELPDESK

REQUESTER = "carol@example.com"
TOKEN = "t12-abcdefghijklmnopqrstuvwxyz"
REPLY_TO = f"help+{TOKEN}@example.org"
START = datetime(2024, 5, 14, 9, 30, tzinfo=UTC)


@dataclass
class FrozenClock:
    """A clock that only moves when told to."""

    now: datetime = field(default_factory=lambda: START)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def make_outbox(override_dir: Path | None = None, limits: AutoReplyLimits | None = None) -> Outbox:
    return Outbox(
        renderer=Renderer(RenderConfig(override_dir=override_dir)),
        identity=Identity("IT Help Desk", HELPDESK, "example.org"),
        limits=limits or AutoReplyLimits(),
        helpdesk_addresses=frozenset({HELPDESK}),
    )


def make_ticket(
    session: Session,
    subject: str = "VPN does not connect from home",
    requester: str = REQUESTER,
    *,
    created_at: datetime = START,
) -> Ticket:
    person = session.query(Person).filter_by(email=requester).one_or_none()
    if person is None:
        person = Person(email=requester, name="Carol Jones")
        session.add(person)
        session.flush()
    ticket = Ticket(
        subject=subject,
        requester_id=person.id,
        category="network/vpn",
        priority="P3",
        created_at=created_at,
    )
    session.add(ticket)
    session.flush()
    session.add(
        TicketParticipant(ticket_id=ticket.id, person_id=person.id, role=ParticipantRole.REQUESTER)
    )
    session.flush()
    return ticket


def acknowledgement(
    ticket: Ticket, *, subject: str | None = None, suggestions: tuple[SuggestedSolution, ...] = ()
) -> AcknowledgementMail:
    info = TicketInfo.of(ticket, category_label="Network › VPN")
    if subject is not None:
        info = TicketInfo(info.number, subject, info.category, info.priority, info.status)
    return AcknowledgementMail(
        ticket=info,
        requester=PersonInfo(REQUESTER, "Carol Jones"),
        response_time="4 business hours",
        response_due=START + timedelta(hours=4),
        suggestions=suggestions
        or (
            SuggestedSolution(
                "VPN does not connect",
                "Restart the VPN client and sign in again.",
                0.81,
                "https://help.example.org/kb/vpn",
            ),
        ),
        suggestion_threshold=0.5,
        status_url=f"https://help.example.org/status/{TOKEN}",
    )


def requester() -> Recipient:
    return Recipient(REQUESTER, "Carol Jones")
