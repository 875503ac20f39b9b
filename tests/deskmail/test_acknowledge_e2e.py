"""Through real SMTP on both ends: mail in over loopback to Deskmail's SMTP intake, the worker,
the outbox sender relaying to an aiosmtpd sink. The acknowledgement arrives with the right
headers and threading; replying SOLVED closes the ticket; hostile subjects inject nothing;
an auto-responder cannot start a loop; a flood of bounces is never answered."""

from __future__ import annotations

import email.policy
import re
import smtplib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from deskmail.app import App
from deskmail.sender_service import SenderService
from deskmail.serve import WorkerService
from deskmail.smtp_service import SmtpService
from deskmail.wiring import build_worker
from intake.store import Envelope, store_raw
from models import InboundMessage, OutboundMessage, OutboundStatus, Outcome, TicketStatus
from tests.conftest import HELPDESK
from tests.deskmail.lifecycle_support import (
    REQUESTER,
    desk_settings,
    kinds,
    opened,
    requester_mail,
    ticket,
)
from tests.servers.smtp import ReceivedMail, SmtpSink

FAST = {"worker": {"poll_seconds": 0.05}, "outbox": {"poll_seconds": 0.05}}
OUR_MESSAGE_ID = re.compile(r"^<(t\d+-[a-z2-7]{26})\.[^@<>\s]+@example\.org>$")


@contextmanager
def running(app: App) -> Iterator[int]:
    """Intake, one worker and the outbox sender of `app`; yields the SMTP port."""
    services: list[Any] = [WorkerService(app, 1), SmtpService(app), SenderService(app)]
    for service in services:
        service.start()
    try:
        yield services[1].port
    finally:
        for service in reversed(services):
            service.stop(10)


def send(port: int, raw: bytes, *, sender: str = REQUESTER, rcpt: str = HELPDESK) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.sendmail(sender, [rcpt], raw)


@pytest.fixture
def desk(sqlite_url: str, tmp_path: Path, smtp_sink: SmtpSink) -> Iterator[tuple[App, int]]:
    settings = desk_settings(tmp_path / "data", sqlite_url, relay_url=smtp_sink.url, **FAST)
    with opened(settings) as app, running(app) as port:
        yield app, port


def _number(mail: ReceivedMail) -> int:
    match = re.search(r"\[#(\d+)\]", str(mail.message()["Subject"]))
    assert match is not None
    return int(match.group(1))


def _text(mail: ReceivedMail) -> str:
    part = mail.message().get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def _html(mail: ReceivedMail) -> str:
    part = mail.message().get_body(("html",))
    assert part is not None
    return str(part.get_content())


def test_a_mail_in_gives_an_acknowledgement_at_the_sink(
    desk: tuple[App, int], smtp_sink: SmtpSink
) -> None:
    app, port = desk
    raw = requester_mail("VPN drops every hour", "Since Monday the VPN disconnects hourly.")
    request_id = str(email.message_from_bytes(raw, policy=email.policy.default)["Message-ID"])
    send(port, raw)
    (ack,) = smtp_sink.wait_for(1)
    message = ack.message()
    number = _number(ack)
    assert ack.rcpt_to == (REQUESTER,)
    assert ack.mail_from == HELPDESK
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["Precedence"] == "bulk"
    assert str(message["Subject"]) == f"Re: [#{number}] VPN drops every hour"
    assert str(message["To"]) == f"Kim Lee <{REQUESTER}>"
    # Threading: our own Message-ID carrying the reply token; the requester's mail as parent.
    own = OUR_MESSAGE_ID.match(str(message["Message-ID"]))
    assert own is not None
    assert own.group(1).startswith(f"t{number}-")
    assert str(message["In-Reply-To"]) == request_id
    assert str(message["References"]).split() == [request_id]
    assert str(message["Reply-To"]) == f"help+{own.group(1)}@example.org"
    assert message["Thread-Index"]
    assert message.get_content_type() == "multipart/alternative"
    text = _text(ack)
    assert f"ticket [#{number}]" in text
    assert "We aim to answer within 1 business day" in text  # P3, the default policy
    assert "/status/" in text
    # The sender marks the row sent right after the relay's 250 (the sink saw it first).
    deadline = time.monotonic() + 10
    while True:
        with app.read_sessions() as session:
            row = session.scalars(select(OutboundMessage)).one()
        if row.status != OutboundStatus.SENDING or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert (row.status, row.kind) == (OutboundStatus.SENT, "acknowledgement")
    assert {"sla_started", "routed", "mail_queued"} <= set(kinds(app, number))


def test_replying_solved_closes_the_ticket(desk: tuple[App, int], smtp_sink: SmtpSink) -> None:
    app, port = desk
    send(port, requester_mail("Printer jams", "The printer on floor 2 jams on every page."))
    (ack,) = smtp_sink.wait_for(1)
    number = _number(ack)
    quoted = "\n".join(f"> {line}" for line in _text(ack).splitlines())
    reply = requester_mail(
        f"Re: [#{number}] Printer jams",
        f"SOLVED\n\nOn Friday IT Help Desk wrote:\n{quoted}",
        answers=ack.data,
    )
    reply_to = str(ack.message()["Reply-To"])
    send(port, reply, rcpt=reply_to)
    closure = smtp_sink.wait_for(2)[1]
    message = closure.message()
    reply_id = str(email.message_from_bytes(reply, policy=email.policy.default)["Message-ID"])
    assert str(message["Subject"]) == f"[#{number}] Closed: Printer jams"
    assert str(message["In-Reply-To"]) == reply_id
    assert str(ack.message()["Message-ID"]) in str(message["References"]).split()
    closed = ticket(app, number)
    assert closed.status == TicketStatus.CLOSED
    assert closed.closed_by_solved is True
    assert "closed_by_requester" in kinds(app, number)


def test_a_subject_with_an_encoded_crlf_and_bcc_injects_no_header(
    desk: tuple[App, int], smtp_sink: SmtpSink
) -> None:
    _app, port = desk
    raw = requester_mail("placeholder", "My screen flickers.").replace(
        b"Subject: placeholder",
        b"Subject: =?utf-8?q?Screen_flickers=0D=0ABcc:_victim@evil.example=0D=0A?=\r\n"
        b" =?utf-8?b?DQpYLUluamVjdGVkOiB5ZXM=?=",
    )
    send(port, raw)
    (ack,) = smtp_sink.wait_for(1)
    message = ack.message()
    assert ack.rcpt_to == (REQUESTER,)
    assert message["Bcc"] is None
    assert message["X-Injected"] is None
    head = ack.data.split(b"\r\n\r\n", 1)[0].decode("ascii")
    assert not re.search(r"(?im)^(bcc|x-injected):", head)
    assert "victim@evil.example" in str(message["Subject"])  # shown, as text, on one line
    assert "\n" not in str(message["Subject"])


def test_template_text_in_a_subject_is_printed_literally(
    desk: tuple[App, int], smtp_sink: SmtpSink
) -> None:
    _app, port = desk
    subject = "{{ 7*7 }} {% for x in range(3) %}X{% endfor %} {{ config.items() }}"
    send(port, requester_mail(subject, "{{ 6*7 }} is in my body too."))
    (ack,) = smtp_sink.wait_for(1)
    message = ack.message()
    assert "{{ 7*7 }}" in str(message["Subject"])
    assert "{% for x in range(3) %}X{% endfor %}" in str(message["Subject"])
    assert "49" not in str(message["Subject"])
    assert "XXX" not in str(message["Subject"])
    assert "{{ 7*7 }}" in _text(ack)
    assert "{{ 7*7 }}" in _html(ack)
    assert "49" not in _text(ack)


def _autoresponder_reply(mail: ReceivedMail, count: int, *, threaded: bool) -> bytes:
    """A naive responder: answers everything, no Auto-Submitted, no Precedence, no X-Loop."""
    message = EmailMessage()
    message["From"] = f"Kim Lee <{REQUESTER}>"
    message["To"] = HELPDESK
    message["Message-ID"] = make_msgid(domain="example.com")
    if threaded:
        original = mail.message()
        message["Subject"] = f"Re: {original['Subject']}"
        message["In-Reply-To"] = str(original["Message-ID"])
        message["References"] = str(original["Message-ID"])
    else:
        message["Subject"] = f"Confirmation {count}: your message reached our ticket system"
    message.set_content(f"Your message has been registered with number {count}.\n")
    return message.as_bytes(policy=email.policy.SMTP)


@pytest.mark.parametrize(
    ("threaded", "cap"), [(True, "on this ticket"), (False, "to this address")]
)
def test_an_auto_responder_cannot_start_a_loop(
    sqlite_url: str, tmp_path: Path, smtp_sink: SmtpSink, threaded: bool, cap: str
) -> None:
    settings = desk_settings(tmp_path / "data", sqlite_url, relay_url=smtp_sink.url, **FAST)
    limits = settings.auto_reply
    bound = limits.per_ticket_short if threaded else limits.per_recipient_short
    with opened(settings) as app, running(app) as port:
        send(port, requester_mail("Laptop fan is loud", "The fan runs at full speed."))
        answered = 0
        deadline = time.monotonic() + 60
        # Answer every mail that arrives, until everything sent in was processed and nothing
        # is left in the outbox to deliver: then no further mail can come.
        while time.monotonic() < deadline:
            for mail in smtp_sink.messages[answered:]:
                send(port, _autoresponder_reply(mail, answered, threaded=threaded))
                answered += 1
            processed, undelivered = _progress(app)
            done = processed == answered + 1 and not undelivered
            if done and len(smtp_sink.messages) == answered:
                break
            time.sleep(0.05)
        with app.read_sessions() as session:
            suppressed = session.scalars(
                select(OutboundMessage.status_reason).where(
                    OutboundMessage.status == OutboundStatus.SUPPRESSED
                )
            ).all()
    assert len(smtp_sink.messages) == bound
    assert answered == bound
    assert processed == bound + 1  # the first mail and every answer were processed
    assert len(suppressed) == 1  # the answer to the last mail got nothing back
    assert f"{bound} automatic mails" in suppressed[0]
    assert cap in suppressed[0]  # threaded: the ticket's cap; new tickets: the address's


def _progress(app: App) -> tuple[int, int]:
    """Inbound mails processed, and outbound mails not yet delivered."""
    with app.read_sessions() as session:
        processed = session.scalar(
            select(func.count())
            .select_from(InboundMessage)
            .where(InboundMessage.outcome.is_not(None))
        )
        undelivered = session.scalar(
            select(func.count())
            .select_from(OutboundMessage)
            .where(OutboundMessage.status.in_([OutboundStatus.QUEUED, OutboundStatus.SENDING]))
        )
    return int(processed or 0), int(undelivered or 0)


def _dsn(i: int) -> bytes:
    """An RFC 3464 delivery status notification for a mail to user{i}."""
    boundary = f"dsn-{i}"
    auto = "Auto-Submitted: auto-replied\r\n" if i % 2 else ""
    return (
        f"From: Mail Delivery System <MAILER-DAEMON@mx{i % 7}.example.net>\r\n"
        f"To: {HELPDESK}\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: <dsn.{i}@mx.example.net>\r\n"
        f"Date: Fri, 27 Nov 2026 09:00:00 +0000\r\n"
        f"{auto}"
        f"MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
        f"\r\n"
        f"--{boundary}\r\n"
        f"Content-Type: text/plain\r\n\r\n"
        f"I'm sorry to have to inform you that your message could not be delivered.\r\n\r\n"
        f"--{boundary}\r\n"
        f"Content-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; mx{i % 7}.example.net\r\n\r\n"
        f"Final-Recipient: rfc822; user{i}@example.com\r\n"
        f"Action: failed\r\n"
        f"Status: 5.1.1\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <user{i}@example.com>: user unknown\r\n\r\n"
        f"--{boundary}\r\n"
        f"Content-Type: text/rfc822-headers\r\n\r\n"
        f"From: {HELPDESK}\r\n"
        f"To: user{i}@example.com\r\n"
        f"Subject: Re: [#{i + 1}] Request\r\n"
        f"Message-ID: <t{i + 1}-abc.{i}@example.org>\r\n\r\n"
        f"--{boundary}--\r\n"
    ).encode()


@pytest.mark.slow
def test_a_thousand_bounces_produce_no_outgoing_mail(sqlite_url: str, tmp_path: Path) -> None:
    with opened(desk_settings(tmp_path / "data", sqlite_url)) as app:
        with app.sessions() as session, session.begin():
            for i in range(1000):
                store_raw(
                    session,
                    _dsn(i),
                    Envelope(source="smtp", mail_from="", rcpt_to=(HELPDESK,)),
                )
        worker = build_worker(app)
        outcomes: list[Outcome | None] = []
        while batch := worker.run_once():
            outcomes.extend(result.outcome for result in batch)
        with app.read_sessions() as session:
            rows = session.scalar(select(func.count()).select_from(OutboundMessage))
    assert len(outcomes) == 1000
    assert set(outcomes) == {Outcome.BOUNCE}
    assert rows == 0
