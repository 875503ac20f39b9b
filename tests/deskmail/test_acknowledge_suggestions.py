"""Through real SMTP on both ends, with the starter knowledge base and the classifier: the
acknowledgement names what we understood (category, priority, the SLA's promise) and offers
the suggested articles with an excerpt; an urgent ticket is announced to its group's agents
once, a normal one is not; SOLVED records that the offered article solved it."""

from __future__ import annotations

import email.policy
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from deskmail.accounts import create_user
from deskmail.app import App
from deskmail.classification import ClassificationService
from deskmail.knowledge_transfer import import_documents
from deskmail.sender_service import SenderService
from deskmail.serve import WorkerService
from deskmail.smtp_service import SmtpService
from deskmail.ticket_actions import Actor
from deskmail.wiring import ProcessServices, build_worker
from models import (
    InboundMessage,
    OutboundMessage,
    Role,
    Suggestion,
    SuggestionOutcome,
    TicketStatus,
)
from tests.conftest import make_settings
from tests.deskmail.classifier_support import classifier_settings
from tests.deskmail.kb_support import knowledge, small_kb
from tests.deskmail.lifecycle_support import REQUESTER, kinds, opened, requester_mail, ticket
from tests.deskmail.test_acknowledge_e2e import FAST, send
from tests.servers.smtp import ReceivedMail, SmtpSink
from tests.web.helpers import FAST_PASSWORDS

pytestmark = pytest.mark.model

AGENT = "alice@example.org"


@pytest.fixture
def desk(sqlite_url: str, tmp_path: Path, smtp_sink: SmtpSink) -> Iterator[tuple[App, int]]:
    settings = make_settings(
        tmp_path / "data",
        sqlite_url,
        relay_url=smtp_sink.url,
        knowledge={"acknowledgement_threshold": 0.5},
        process={"default_group": "service-desk"},
        classifier=classifier_settings(),
        **FAST,
    )
    with opened(settings) as app:
        kb = knowledge(app)
        with app.sessions() as session, session.begin():
            import_documents(session, kb.store, small_kb(), actor=Actor("editor@example.org"))
            create_user(
                session,
                AGENT,
                role=Role.AGENT,
                password="a long test password",
                name="Alice",
                group="service-desk",
                params=FAST_PASSWORDS,
            )
        # The classifier over the session's model: category and priority in the mail.
        services = ProcessServices(kb.store.encoder, kb, ClassificationService(app, kb.store))
        running: list[Any] = [
            WorkerService(app, 1, build=lambda a, name: build_worker(a, name, services)),
            SmtpService(app),
            SenderService(app),
        ]
        for service in running:
            service.start()
        try:
            yield app, running[1].port
        finally:
            for service in reversed(running):
                service.stop(10)


def _by_recipient(mails: list[ReceivedMail]) -> dict[str, ReceivedMail]:
    return {mail.rcpt_to[0]: mail for mail in mails}


def test_the_acknowledgement_offers_the_articles_and_solved_credits_them(
    desk: tuple[App, int], smtp_sink: SmtpSink
) -> None:
    app, port = desk
    send(
        port,
        requester_mail(
            "printer stuck",
            "The printer next to the kitchen on the 2nd floor shows 'Paper jam in tray 2' "
            "and won't print anything. I opened the front door but can't see any paper.",
        ),
    )
    (ack,) = smtp_sink.wait_for(1, timeout=60)
    number = int(re.findall(r"\[#(\d+)\]", str(ack.message()["Subject"]))[0])
    found = ticket(app, number)
    body = ack.message().get_body(("plain",))
    assert body is not None
    text = str(body.get_content())
    # What we understood: the category by its display name, the priority and the promise.
    assert found.category
    assert found.priority
    assert f"Priority: {found.priority}" in text
    assert "Topic: " in text
    assert "We aim to answer within" in text
    # The offered articles, with a short excerpt each, and how to close it ourselves.
    with app.read_sessions() as session:
        sent = session.scalars(
            select(Suggestion).where(Suggestion.sent_to_requester.is_(True))
        ).all()
    assert sent
    assert "These articles may solve it right away" in text
    assert "reply to this mail with the word SOLVED" in text
    assert "jam" in text.lower()
    # A paper jam is no urgent ticket: routed, but the group's agents are not mailed.
    assert found.priority not in ("P1", "P2")
    assert found.group == "service-desk"
    assert found.group_notified_at is None

    reply = requester_mail("Re: printer stuck", "Solved, thank you!", answers=ack.data)
    send(port, reply, rcpt=str(ack.message()["Reply-To"]))
    closure = smtp_sink.wait_for(2, timeout=30)[1]
    parsed = email.message_from_bytes(closure.data, policy=email.policy.default)
    assert "Closed" in str(parsed["Subject"])
    closed = ticket(app, number)
    assert (closed.status, closed.closed_by_solved) == (TicketStatus.CLOSED, True)
    with app.read_sessions() as session:
        outcomes = {
            s.sent_to_requester: s.outcome for s in session.scalars(select(Suggestion)).all()
        }
    assert outcomes[True] == SuggestionOutcome.SOLVED
    assert outcomes.get(False, SuggestionOutcome.PENDING) == SuggestionOutcome.PENDING


def test_an_urgent_ticket_is_announced_to_its_group_once(
    desk: tuple[App, int], smtp_sink: SmtpSink
) -> None:
    app, port = desk
    first = requester_mail(
        "URGENT: nobody can sign in, the whole office is down",
        "Since 8:00 nobody in the Berlin office can sign in to Windows or email. "
        "All 200 people are blocked, we cannot work and customers are waiting. Please help asap!",
    )
    send(port, first)
    mails = _by_recipient(smtp_sink.wait_for(2, timeout=60))
    ack, notice = mails[REQUESTER], mails[AGENT]
    number = int(re.findall(r"\[#(\d+)\]", str(ack.message()["Subject"]))[0])
    found = ticket(app, number)
    assert found.priority in ("P1", "P2")
    message = notice.message()
    assert str(message["Subject"]).strip().startswith(f"[#{number}] New {found.priority} ticket")
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Precedence"] is None  # urgent notices must not be filed away as bulk
    plain = message.get_body(("plain",))
    assert plain is not None
    assert f"/tickets/{number}" in str(plain.get_content())
    assert found.group_notified_at is not None
    assert "group_notified" in kinds(app, number)
    # A follow-up is no new ticket: the group is not told again.
    send(port, requester_mail("Re: URGENT", "Still down for everyone.", answers=ack.data))
    _wait_processed(app, 2)
    assert [m.rcpt_to[0] for m in smtp_sink.messages].count(AGENT) == 1
    with app.read_sessions() as session:
        staff_rows = session.scalars(
            select(OutboundMessage).where(OutboundMessage.recipient == AGENT)
        ).all()
    assert len(staff_rows) == 1


def _wait_processed(app: App, count: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with app.read_sessions() as session:
            done = session.scalar(
                select(func.count())
                .select_from(InboundMessage)
                .where(InboundMessage.outcome.is_not(None))
            )
        if done == count:
            return
        time.sleep(0.05)
    pytest.fail(f"{count} mails were not processed in time")
