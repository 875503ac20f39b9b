"""The transactional outbox: a queued mail exists exactly when the caller's transaction commits,
and a reply to it finds its ticket again."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import func, select

from deskmail.app import App
from intake.reply_tokens import make_token, reply_address
from intake.threading import MailKeys, correlate
from models import (
    Direction,
    Event,
    Message,
    OutboundMessage,
    OutboundStatus,
    ThreadRef,
    ThreadSignal,
    Ticket,
)
from responder.compose import Recipient
from responder.conversation import conversation_for
from responder.mails import AgentReplyMail, PersonInfo, ResolutionMail, TicketInfo
from responder.outbox import enqueue, list_outbound, retry_failed
from tests.conftest import HELPDESK
from tests.responder.helpers import (
    REQUESTER,
    acknowledgement,
    make_outbox,
    make_ticket,
    requester,
)


def count(app: App, model: type) -> int:
    with app.sessions() as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def add_inbound(app: App, ticket_id: int, message_id: str) -> None:
    with app.sessions() as session, session.begin():
        session.add(
            Message(
                ticket_id=ticket_id,
                direction=Direction.INBOUND,
                message_id=message_id,
                from_email=REQUESTER,
                subject="VPN does not connect from home",
                thread_signal=ThreadSignal.NEW_TICKET,
            )
        )


def test_enqueue_writes_row_message_threadref_and_event(db_url: str, app: App) -> None:
    outbox = make_outbox()
    with app.sessions() as session, session.begin():
        ticket_id = make_ticket(session).id
    add_inbound(app, ticket_id, "first@client.example.com")
    key = app.token_key
    with app.sessions() as session, session.begin():
        ticket = session.get_one(Ticket, ticket_id)
        queued = enqueue(
            session,
            outbox,
            acknowledgement(ticket),
            to=requester(),
            reply_token=make_token(key, ticket_id, REQUESTER),
            reply_to=reply_address(key, HELPDESK, ticket_id, REQUESTER),
            conversation=conversation_for(session, ticket),
        )
        outbound_id, message_id = queued.outbound.id, queued.message_id
    with app.sessions() as session:
        row = session.get_one(OutboundMessage, outbound_id)
        assert row.status == OutboundStatus.QUEUED
        assert row.attempts == 0
        assert row.kind == "acknowledgement"
        assert row.automatic
        assert row.rcpt_to == [REQUESTER]
        assert row.recipient == REQUESTER
        assert row.mail_from == HELPDESK
        assert row.subject == f"Re: [#{ticket_id}] VPN does not connect from home"
        mail = parsed(row.raw)
        assert mail["Message-ID"] == f"<{message_id}>"
        assert mail["In-Reply-To"] == "<first@client.example.com>"
        entry = session.execute(
            select(Message).where(Message.outbound_id == outbound_id)
        ).scalar_one()
        assert entry.direction == Direction.OUTBOUND
        assert entry.message_id == message_id
        assert entry.ticket_id == ticket_id
        assert "Hello Carol" in entry.text
        ref = session.execute(
            select(ThreadRef).where(ThreadRef.message_id == message_id)
        ).scalar_one()
        assert ref.ticket_id == ticket_id
        assert ref.direction == Direction.OUTBOUND
        event = session.execute(select(Event).where(Event.kind == "mail_queued")).scalar_one()
        assert event.ticket_id == ticket_id
        assert event.data["outbound"] == outbound_id


def test_enqueue_never_commits_on_its_own(db_url: str, app: App) -> None:
    outbox = make_outbox()
    with app.sessions() as session, session.begin():
        ticket_id = make_ticket(session).id
    with app.sessions() as session:
        session.begin()
        ticket = session.get_one(Ticket, ticket_id)
        enqueue(session, outbox, acknowledgement(ticket), to=requester())
        session.rollback()
    assert count(app, OutboundMessage) == 0
    assert count(app, ThreadRef) == 0


def test_a_reply_to_our_mail_finds_the_ticket(db_url: str, app: App) -> None:
    outbox = make_outbox()
    key = app.token_key
    with app.sessions() as session, session.begin():
        ticket = make_ticket(session)
        ticket_id = ticket.id
        queued = enqueue(
            session,
            outbox,
            acknowledgement(ticket),
            to=requester(),
            reply_token=make_token(key, ticket_id, REQUESTER),
            reply_to=reply_address(key, HELPDESK, ticket_id, REQUESTER),
        )
        message_id = queued.message_id
    config = app.threading_config
    with app.sessions() as session:
        # By References (our Message-ID is indexed in thread_ref).
        by_refs = correlate(
            session,
            MailKeys(None, [message_id], [], REQUESTER, "Re: VPN", [HELPDESK]),
            config,
        )
        assert by_refs.ticket_id == ticket_id
        assert by_refs.signal is ThreadSignal.REFERENCES
        # By the token in the Reply-To address, even from a forgetful client.
        reply_to = parsed(queued.outbound.raw)["Reply-To"]
        by_token = correlate(
            session, MailKeys(None, [], [], "stranger-who-is@example.com", "x", [reply_to]), config
        )
        assert by_token.ticket_id is None  # the token is bound to the recipient
        from_requester = correlate(
            session, MailKeys(None, [], [], REQUESTER, "x", [reply_to]), config
        )
        assert from_requester.ticket_id == ticket_id
        assert from_requester.signal is ThreadSignal.REPLY_TOKEN


def test_person_sent_mail_and_a_forced_automatic_one(db_url: str, app: App) -> None:
    outbox = make_outbox()
    with app.sessions() as session, session.begin():
        ticket = make_ticket(session)
        info = TicketInfo.of(ticket)
        reply = AgentReplyMail(
            ticket=info,
            requester=PersonInfo(REQUESTER, "Carol Jones"),
            agent=PersonInfo("alice@example.org", "Alice Smith"),
            reply_text="Please restart.",
            status_url="https://help.example.org/s",
        )
        by_agent = enqueue(session, outbox, reply, to=requester(), actor="alice@example.org")
        resolution = ResolutionMail(
            ticket=info,
            requester=PersonInfo(REQUESTER),
            resolution_text="You said it is solved.",
            status_url="https://help.example.org/s",
            reopen_days=7,
        )
        solved = enqueue(
            session,
            outbox,
            resolution,
            to=requester(),
            automatic=True,
            conversation=conversation_for(session, ticket, in_reply_to="solved@client.example.com"),
        )
        cc = enqueue(
            session,
            outbox,
            reply,
            to=requester(),
            cc=[requester(), Recipient("bob@example.com")],
        )
    agent_mail = parsed(by_agent.outbound.raw)
    assert not by_agent.outbound.automatic
    assert agent_mail["Auto-Submitted"] is None
    assert agent_mail["From"] == '"Alice Smith (IT Help Desk)" <help@example.org>'
    solved_mail = parsed(solved.outbound.raw)
    assert solved.outbound.automatic
    assert solved_mail["Auto-Submitted"] == "auto-replied"
    assert cc.outbound.rcpt_to == [REQUESTER, "bob@example.com"]  # duplicates dropped


def test_broken_override_is_recorded_on_the_ticket(sqlite_app: App, tmp_path: Path) -> None:
    (tmp_path / "acknowledgement").mkdir()
    (tmp_path / "acknowledgement" / "body.html").write_text("{{ oops }}")
    outbox = make_outbox(override_dir=tmp_path)
    with sqlite_app.sessions() as session, session.begin():
        ticket = make_ticket(session)
        queued = enqueue(session, outbox, acknowledgement(ticket), to=requester())
        assert queued.rendered.fallback
    with sqlite_app.sessions() as session:
        event = session.execute(select(Event).where(Event.kind == "template_fallback")).scalar_one()
        assert "oops" in event.data["error"]


def test_list_and_retry(sqlite_app: App) -> None:
    outbox = make_outbox()
    with sqlite_app.sessions() as session, session.begin():
        ticket = make_ticket(session)
        first = enqueue(session, outbox, acknowledgement(ticket), to=requester()).outbound
        second = enqueue(session, outbox, acknowledgement(ticket), to=requester()).outbound
        first.status = OutboundStatus.FAILED
        second.attempts = 2
        ids = (first.id, second.id)
    with sqlite_app.sessions() as session:
        assert [r.id for r in list_outbound(session)] == [ids[1], ids[0]]
        failed = list_outbound(session, statuses=[OutboundStatus.FAILED], retrying=True)
        assert {r.id for r in failed} == set(ids)
    with sqlite_app.sessions() as session, session.begin():
        assert retry_failed(session, ids[0])
        assert not retry_failed(session, ids[0])  # queued now, not failed
        assert not retry_failed(session, ids[1])
    with sqlite_app.sessions() as session:
        row = session.get_one(OutboundMessage, ids[0])
        assert row.status == OutboundStatus.QUEUED
        assert row.attempts == 0
