"""Never answer automatically where it harms: robots, ourselves, muted people, and floods."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from deskmail.app import App
from models import Event, OutboundMessage, OutboundStatus, Person, Ticket
from responder.compose import Recipient
from responder.outbox import Queued, Suppressed, enqueue_automatic
from responder.suppression import (
    AutoReplyLimits,
    SuppressionCode,
    check_auto_reply,
    is_robot_address,
    mute_recipient,
    unmute_recipient,
)
from tests.conftest import HELPDESK
from tests.responder.helpers import (
    REQUESTER,
    FrozenClock,
    acknowledgement,
    make_outbox,
    make_ticket,
)

OWN = frozenset({HELPDESK})


@pytest.mark.parametrize(
    "address",
    [
        "MAILER-DAEMON@example.com",
        "mailer_daemon@example.com",
        "postmaster@example.com",
        "noreply@example.com",
        "no-reply@example.com",
        "no_reply+abc@example.com",
        "noreply-billing@example.com",
        "billing-noreply@example.com",
        "do-not-reply@example.com",
        "donotreply@example.com",
        "dont-reply@example.com",
        "bounce@example.com",
        "bounces+1234-carol=example.com@lists.example.com",
        "bounce-7f3a@mail.example.com",
        "list-bounces@lists.example.com",
        "auto-reply@example.com",
        "nobody@example.com",
        "listserv@example.com",
    ],
)
def test_robot_addresses(address: str) -> None:
    assert is_robot_address(address)


@pytest.mark.parametrize(
    "address",
    ["carol@example.com", "noreen@example.com", "bouncer.jones@example.com", "replyguy@x.org"],
)
def test_people_are_not_robots(address: str) -> None:
    assert not is_robot_address(address)


def test_address_rules(sqlite_app: App) -> None:
    limits = AutoReplyLimits()
    with sqlite_app.sessions() as session:

        def code(address: str) -> SuppressionCode | None:
            decision = check_auto_reply(
                session, address, ticket_number=None, own_addresses=OWN, limits=limits
            )
            assert decision.allowed == (decision.code is None)
            return decision.code

        assert code("carol@example.com") is None
        assert code("") is SuppressionCode.NO_RECIPIENT
        assert code("<>") is SuppressionCode.NO_RECIPIENT
        assert code("not an address") is SuppressionCode.INVALID_ADDRESS
        assert code("carol@example.com\r\nBcc: x@y") is SuppressionCode.INVALID_ADDRESS
        assert code("HELP@example.org") is SuppressionCode.OWN_ADDRESS
        assert code("help+t1-abc@example.org") is SuppressionCode.OWN_ADDRESS
        assert code("postmaster@example.com") is SuppressionCode.ROBOT_ADDRESS


def test_muted_person_gets_no_automatic_mail(db_url: str, app: App) -> None:
    limits = AutoReplyLimits()
    with app.sessions() as session, session.begin():
        person = mute_recipient(session, "Carol@Example.com", "550 5.1.1 user unknown")
        assert person.email == "carol@example.com"
        assert person.auto_mail_muted
    with app.sessions() as session, session.begin():
        decision = check_auto_reply(
            session, REQUESTER, ticket_number=None, own_addresses=OWN, limits=limits
        )
        assert decision.code is SuppressionCode.MUTED
        assert "5.1.1" in decision.reason
        events = session.execute(select(Event).where(Event.kind == "recipient_muted")).scalars()
        assert [e.data["email"] for e in events] == ["carol@example.com"]
        assert unmute_recipient(session, REQUESTER)
        assert not unmute_recipient(session, REQUESTER)
    with app.sessions() as session:
        person = session.execute(select(Person).where(Person.email == REQUESTER)).scalar_one()
        assert not person.auto_mail_muted
        assert check_auto_reply(
            session, REQUESTER, ticket_number=None, own_addresses=OWN, limits=limits
        ).allowed


def test_caps_per_recipient_and_per_ticket_with_a_frozen_clock(db_url: str, app: App) -> None:
    clock = FrozenClock()
    limits = AutoReplyLimits(
        per_recipient_short=3,
        per_recipient_day=5,
        per_ticket_short=2,
        per_ticket_day=4,
        short_window=timedelta(minutes=10),
        day_window=timedelta(days=1),
    )
    outbox = make_outbox(limits=limits)
    results: list[Queued | Suppressed] = []

    def send(ticket_id: int) -> Queued | Suppressed:
        with app.sessions() as session, session.begin():
            ticket = session.get(Ticket, ticket_id)
            assert ticket is not None
            result = enqueue_automatic(
                session,
                outbox,
                acknowledgement(ticket),
                to=Recipient(REQUESTER),
                now=clock.now,
            )
        results.append(result)
        return result

    with app.sessions() as session, session.begin():
        tickets = [make_ticket(session).id for _ in range(6)]

    # Per ticket: 2 within ten minutes.
    assert isinstance(send(tickets[0]), Queued)
    assert isinstance(send(tickets[0]), Queued)
    third = send(tickets[0])
    assert isinstance(third, Suppressed)
    assert third.decision.code is SuppressionCode.TICKET_CAP
    assert "on this ticket within 10 minutes" in third.decision.reason
    # Per recipient: 3 within ten minutes, whatever the ticket.
    assert isinstance(send(tickets[1]), Queued)
    capped = send(tickets[2])
    assert isinstance(capped, Suppressed)
    assert capped.decision.code is SuppressionCode.RECIPIENT_CAP
    # Suppressed rows do not count: after the window, sending resumes.
    clock.advance(minutes=11)
    assert isinstance(send(tickets[2]), Queued)
    assert isinstance(send(tickets[3]), Queued)
    # ...until the daily cap (5 per recipient a day).
    clock.advance(minutes=11)
    daily = send(tickets[4])
    assert isinstance(daily, Suppressed)
    assert daily.decision.code is SuppressionCode.RECIPIENT_CAP
    assert "within a day" in daily.decision.reason
    clock.advance(hours=24)
    assert isinstance(send(tickets[5]), Queued)

    with app.sessions() as session:
        rows = list(session.execute(select(OutboundMessage).order_by(OutboundMessage.id)).scalars())
        suppressed = [r for r in rows if r.status == OutboundStatus.SUPPRESSED]
        assert len(suppressed) == 3
        assert all(r.status_reason for r in suppressed)
        assert all(r.raw == b"" for r in suppressed)
        events = list(
            session.execute(select(Event).where(Event.kind == "mail_suppressed")).scalars()
        )
        assert len(events) == 3
        assert {e.data["code"] for e in events} == {"ticket_cap", "recipient_cap"}
        assert events[0].ticket_id == tickets[0]


def test_robot_requester_is_recorded_not_mailed(sqlite_app: App) -> None:
    outbox = make_outbox()
    with sqlite_app.sessions() as session, session.begin():
        ticket = make_ticket(session, requester="mailer-daemon@example.com")
        result = enqueue_automatic(
            session, outbox, acknowledgement(ticket), to=Recipient("mailer-daemon@example.com")
        )
    assert isinstance(result, Suppressed)
    assert result.decision.code is SuppressionCode.ROBOT_ADDRESS
    assert result.outbound.status == OutboundStatus.SUPPRESSED
