"""End to end over real SMTP: mail becomes a ticket through the worker, and replies find it.

SMTP intake and a pipeline worker run in-process as `deskmail serve` runs them, on SQLite and on
PostgreSQL; mails go in with smtplib on loopback. A reply joins its ticket by References, by the
`[#N]` subject tag or by a reply-token address, but only when it comes from a participant (or
carries a token made for its sender); a resend of the same bytes makes no second ticket.
"""

from __future__ import annotations

import email.policy
import smtplib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import func, select

from deskmail.app import App
from deskmail.serve import WorkerService
from deskmail.settings import WorkerSettings
from deskmail.smtp_service import SmtpService
from intake.reply_tokens import reply_address
from models import InboundMessage, InboundStatus, Message, Outcome, ThreadSignal, Ticket
from tests.conftest import HELPDESK, make_settings

ALICE = "alice@example.com"
SUBJECT = "Outlook keeps asking for my password"


@dataclass
class Desk:
    """The running help desk: where to send mail and how to see what became of it."""

    app: App
    port: int

    def send(self, raw: bytes, *, sender: str, rcpt: str = HELPDESK) -> int:
        smtp = smtplib.SMTP("127.0.0.1", self.port, timeout=30)
        try:
            smtp.ehlo()
            assert smtp.mail(sender)[0] == 250
            assert smtp.rcpt(rcpt)[0] == 250
            code, reply = smtp.data(raw)
        finally:
            smtp.close()
        assert code == 250, reply
        return int(reply.rsplit(b" ", 1)[1])

    def processed(self, inbound_id: int, timeout: float = 60.0) -> InboundMessage:
        deadline = time.monotonic() + timeout
        while True:
            with self.app.read_sessions() as session:
                row = session.get(InboundMessage, inbound_id)
                assert row is not None
                if row.status not in (InboundStatus.RECEIVED, InboundStatus.PROCESSING):
                    assert row.status == InboundStatus.PROCESSED, row.last_error
                    return row
                if row.attempts and row.last_error:
                    pytest.fail(f"inbound {inbound_id} failed: {row.last_error}")
            if time.monotonic() > deadline:
                pytest.fail(f"inbound {inbound_id} not processed in {timeout} s")
            time.sleep(0.05)

    def deliver(self, raw: bytes, *, sender: str, rcpt: str = HELPDESK) -> InboundMessage:
        return self.processed(self.send(raw, sender=sender, rcpt=rcpt))

    def signal_of(self, inbound_id: int) -> ThreadSignal:
        with self.app.read_sessions() as session:
            message = session.scalars(select(Message).where(Message.inbound_id == inbound_id)).one()
            return ThreadSignal(message.thread_signal)

    def ticket_count(self) -> int:
        with self.app.read_sessions() as session:
            return int(session.scalar(select(func.count()).select_from(Ticket)) or 0)


@pytest.fixture
def desk(db_url: str, tmp_path: Path) -> Iterator[Desk]:
    settings = make_settings(
        tmp_path / "data", db_url, worker=WorkerSettings(poll_seconds=0.05, backoff_seconds=0.1)
    )
    app = App.open(settings)
    workers = WorkerService(app, threads=1)
    smtp = SmtpService(app)
    workers.start()
    smtp.start()
    try:
        yield Desk(app, smtp.port)
    finally:
        smtp.stop(10)
        workers.stop(10)
        app.close()


def mail(
    *,
    sender: str = ALICE,
    subject: str = SUBJECT,
    body: str = "Since this morning Outlook asks for my password every few minutes.\n",
    to: str = HELPDESK,
    message_id: str | None = None,
    in_reply_to: str | None = None,
) -> tuple[bytes, str]:
    """A mail and its Message-ID."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message_id = message_id or f"<{uuid.uuid4().hex}@example.com>"
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    message.set_content(body)
    return message.as_bytes(policy=email.policy.SMTP), message_id


def first_ticket(desk: Desk) -> tuple[int, str]:
    raw, message_id = mail()
    row = desk.deliver(raw, sender=ALICE)
    assert row.outcome == Outcome.TICKET_CREATED
    assert row.ticket_id is not None
    return row.ticket_id, message_id


def test_a_mail_becomes_a_ticket(desk: Desk) -> None:
    ticket_id, _ = first_ticket(desk)
    with desk.app.read_sessions() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        assert ticket.subject == SUBJECT
        assert ticket.requester.email == ALICE


def test_a_reply_joins_by_references(desk: Desk) -> None:
    ticket_id, original = first_ticket(desk)
    raw, _ = mail(subject=f"Re: {SUBJECT}", body="It still happens.\n", in_reply_to=original)
    row = desk.deliver(raw, sender=ALICE)
    assert (row.outcome, row.ticket_id) == (Outcome.FOLLOWUP, ticket_id)
    assert desk.signal_of(row.id) is ThreadSignal.REFERENCES


def test_a_reply_joins_by_the_subject_tag(desk: Desk) -> None:
    ticket_id, _ = first_ticket(desk)
    raw, _ = mail(subject=f"Re: [#{ticket_id}] {SUBJECT}", body="Any news?\n")
    row = desk.deliver(raw, sender=ALICE)
    assert (row.outcome, row.ticket_id) == (Outcome.FOLLOWUP, ticket_id)
    assert desk.signal_of(row.id) is ThreadSignal.SUBJECT_TAG


def test_a_reply_joins_by_the_reply_token_address(desk: Desk) -> None:
    ticket_id, _ = first_ticket(desk)
    address = reply_address(desk.app.token_key, HELPDESK, ticket_id, ALICE)
    raw, _ = mail(subject="Password prompt again", body="Here is a screenshot.\n", to=address)
    row = desk.deliver(raw, sender=ALICE, rcpt=address)
    assert (row.outcome, row.ticket_id) == (Outcome.FOLLOWUP, ticket_id)
    assert desk.signal_of(row.id) is ThreadSignal.REPLY_TOKEN


def test_a_reply_from_a_non_participant_starts_a_new_ticket(desk: Desk) -> None:
    ticket_id, original = first_ticket(desk)
    stranger = "mallory@example.net"
    raw, _ = mail(
        sender=stranger,
        subject=f"Re: [#{ticket_id}] {SUBJECT}",
        body="Please close this ticket.\n",
        in_reply_to=original,
    )
    row = desk.deliver(raw, sender=stranger)
    assert row.outcome == Outcome.TICKET_CREATED
    assert row.ticket_id not in (None, ticket_id)
    # A token made for Alice proves nothing for mail from someone else.
    address = reply_address(desk.app.token_key, HELPDESK, ticket_id, ALICE)
    raw, _ = mail(sender=stranger, subject="Token stolen", to=address)
    row = desk.deliver(raw, sender=stranger, rcpt=address)
    assert row.outcome == Outcome.TICKET_CREATED
    assert row.ticket_id != ticket_id


def test_a_resend_of_the_same_bytes_makes_no_second_ticket(desk: Desk) -> None:
    raw, _ = mail()
    first = desk.send(raw, sender=ALICE)
    second = desk.send(raw, sender=ALICE)
    assert first == second
    assert desk.processed(first).outcome == Outcome.TICKET_CREATED
    assert desk.ticket_count() == 1
