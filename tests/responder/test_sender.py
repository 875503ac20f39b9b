"""The outbox sender against real SMTP servers: delivery, retries, failures, partial accepts,
crashes, TLS and AUTH, concurrent senders."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import select

from deskmail.app import App
from intake.reply_tokens import make_token, reply_address
from models import (
    Direction,
    Event,
    Message,
    OutboundMessage,
    OutboundStatus,
    Person,
    ThreadSignal,
)
from responder.compose import Recipient
from responder.conversation import conversation_for
from responder.outbox import enqueue, retry_failed
from responder.relay import parse_relay_url
from responder.sender import OutboxConfig, OutboxSender, SendResult
from responder.thread_index import conversation_guid, parse_thread_index
from responder.transport import SmtpTransport
from tests.conftest import HELPDESK
from tests.responder.conftest import RELAY_PASSWORD, RELAY_USER, Certificate, TlsRelay
from tests.responder.helpers import (
    REQUESTER,
    FrozenClock,
    acknowledgement,
    make_outbox,
    make_ticket,
    requester,
)
from tests.servers.smtp import SmtpSink

pytestmark = pytest.mark.filterwarnings(
    "ignore:Requiring AUTH while not requiring TLS:UserWarning"  # aiosmtpd, implicit TLS
)

CONFIG = OutboxConfig(backoff_seconds=60, backoff_max_seconds=3600, jitter=0.0)


def queue(
    app: App,
    clock: FrozenClock,
    *,
    to: Recipient | None = None,
    cc: tuple[Recipient, ...] = (),
    inbound_id: str | None = "first@client.example.com",
) -> tuple[int, str, int]:
    """Queue an acknowledgement like the pipeline does; (outbound id, Message-ID, ticket)."""
    outbox = make_outbox()
    key = app.token_key
    with app.sessions() as session, session.begin():
        ticket = make_ticket(session, created_at=clock.now - timedelta(minutes=1))
        if inbound_id is not None:
            session.add(
                Message(
                    ticket_id=ticket.id,
                    direction=Direction.INBOUND,
                    message_id=inbound_id,
                    from_email=REQUESTER,
                    thread_signal=ThreadSignal.NEW_TICKET,
                )
            )
            session.flush()
        queued = enqueue(
            session,
            outbox,
            acknowledgement(ticket),
            to=to or requester(),
            cc=cc,
            reply_token=make_token(key, ticket.id, REQUESTER),
            reply_to=reply_address(key, HELPDESK, ticket.id, REQUESTER),
            conversation=conversation_for(session, ticket),
            now=clock.now,
        )
        return queued.outbound.id, queued.message_id, ticket.id


def sender_for(app: App, url: str, clock: FrozenClock, **config: object) -> OutboxSender:
    transport = SmtpTransport(parse_relay_url(url))
    return OutboxSender(app.sessions, transport, replace(CONFIG, **config), clock=clock)  # type: ignore[arg-type]


def row(app: App, outbound_id: int) -> OutboundMessage:
    with app.sessions() as session:
        return session.get_one(OutboundMessage, outbound_id)


def events(app: App, kind: str) -> list[Event]:
    with app.sessions() as session:
        return list(session.execute(select(Event).where(Event.kind == kind)).scalars())


@contextmanager
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections but never says a word (a hung relay)."""
    server = socket.create_server(("127.0.0.1", 0), backlog=16)
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed on exit: connecting is refused


# Delivery --------------------------------------------------------------------------------


def test_acknowledgement_is_delivered_with_every_header(
    db_url: str, app: App, smtp_sink: SmtpSink
) -> None:
    clock = FrozenClock()
    outbound_id, message_id, ticket_id = queue(app, clock)
    sender = sender_for(app, smtp_sink.url, clock)
    (result,) = sender.run_once()
    assert result == SendResult(outbound_id, OutboundStatus.SENT, "OK: queued")
    (mail,) = smtp_sink.wait_for(1)
    assert mail.mail_from == HELPDESK
    assert mail.rcpt_to == (REQUESTER,)
    message = mail.message()
    token = make_token(app.token_key, ticket_id, REQUESTER)
    assert message["Message-ID"] == f"<{message_id}>"
    assert message_id.startswith(f"{token}.")
    assert message_id.endswith("@example.org")
    assert message["In-Reply-To"] == "<first@client.example.com>"
    assert message["References"] == "<first@client.example.com>"
    assert parse_thread_index(message["Thread-Index"]).guid == conversation_guid(
        "example.org", ticket_id
    )
    assert message["Thread-Topic"] == "VPN does not connect from home"
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["X-Loop"] == HELPDESK
    assert message["Reply-To"] == f"help+{token}@example.org"
    assert message["From"] == f"IT Help Desk <{HELPDESK}>"
    assert message["To"] == f"Carol Jones <{REQUESTER}>"
    assert message["Subject"] == f"Re: [#{ticket_id}] VPN does not connect from home"
    text, html = message.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert "reply to this mail with the word SOLVED" in text.get_content()
    assert html.get_content_type() == "text/html"
    assert "<strong>SOLVED</strong>" in html.get_content()
    sent = row(app, outbound_id)
    assert sent.status == OutboundStatus.SENT
    assert sent.sent_at == clock.now
    assert sent.delivered_to == [REQUESTER]
    assert sent.relay_response == "OK: queued"
    assert sent.claimed_by == ""
    # Nothing is sent twice.
    assert sender.run_once() == []
    clock.advance(days=1)
    assert sender.run_once() == []
    assert len(smtp_sink.messages) == 1


@pytest.mark.parametrize(
    ("stage", "reply"),
    [
        ("MAIL", "451 4.3.2 System not accepting network messages"),
        ("RCPT", "450 4.2.1 Mailbox busy, try again"),
        ("DATA", "451 4.3.0 Temporary failure, try later"),
    ],
)
def test_temporary_failure_then_accept_delivers_exactly_once(
    db_url: str, app: App, smtp_sink: SmtpSink, stage: str, reply: str
) -> None:
    clock = FrozenClock()
    outbound_id, message_id, ticket_id = queue(app, clock)
    smtp_sink.fail_next(stage, reply)  # type: ignore[arg-type]
    sender = sender_for(app, smtp_sink.url, clock)
    (first,) = sender.run_once()
    assert first.status == OutboundStatus.QUEUED
    waiting = row(app, outbound_id)
    assert waiting.attempts == 1
    assert reply[:3] in waiting.last_error
    assert waiting.next_attempt_at == clock.now + timedelta(seconds=60)
    (deferred,) = events(app, "mail_deferred")
    assert deferred.ticket_id == ticket_id
    assert sender.run_once() == []  # not due yet
    clock.advance(seconds=61)
    (second,) = sender.run_once()
    assert second.status == OutboundStatus.SENT
    (mail,) = smtp_sink.wait_for(1)
    assert mail.message()["Message-ID"] == f"<{message_id}>"
    time.sleep(0.2)
    assert len(smtp_sink.messages) == 1


def test_backoff_doubles_up_to_the_cap(sqlite_app: App) -> None:
    from responder.sender import backoff  # noqa: PLC0415

    config = OutboxConfig(backoff_seconds=60, backoff_max_seconds=3600, jitter=0.0)
    assert [backoff(config, n).total_seconds() for n in (1, 2, 3, 6, 7, 20)] == [
        60,
        120,
        240,
        1920,
        3600,
        3600,
    ]


def test_permanent_failure_shows_on_the_ticket(db_url: str, app: App, smtp_sink: SmtpSink) -> None:
    clock = FrozenClock()
    outbound_id, _, ticket_id = queue(app, clock)
    smtp_sink.fail_next("DATA", "554 5.7.1 Message rejected as spam")
    sender = sender_for(app, smtp_sink.url, clock)
    (result,) = sender.run_once()
    assert result.status == OutboundStatus.FAILED
    failed = row(app, outbound_id)
    assert failed.status == OutboundStatus.FAILED
    assert "554 5.7.1 Message rejected as spam" in failed.status_reason
    (event,) = events(app, "mail_failed")
    assert event.ticket_id == ticket_id
    assert "554" in event.data["error"]
    assert event.data["outbound"] == outbound_id
    clock.advance(days=1)
    assert sender.run_once() == []  # never retried on its own
    # An operator can queue it again (`deskmail outbox retry ID`).
    with app.sessions() as session, session.begin():
        assert retry_failed(session, outbound_id, now=clock.now)
    (again,) = sender.run_once()
    assert again.status == OutboundStatus.SENT
    assert len(smtp_sink.wait_for(1)) == 1


def test_connection_refused_retries_and_pauses_the_batch(
    db_url: str, app: App, smtp_sink: SmtpSink
) -> None:
    clock = FrozenClock()
    ids = [queue(app, clock)[0] for _ in range(3)]
    sender = sender_for(app, f"smtp://127.0.0.1:{closed_port()}?timeout=2", clock)
    results = sender.run_once()
    assert len(results) == 1  # the relay is down: the rest of the batch waits
    assert results[0].relay_down
    assert "cannot connect" in results[0].detail
    rows = [row(app, i) for i in ids]
    assert [r.status for r in rows] == [OutboundStatus.QUEUED] * 3
    assert [r.attempts for r in rows] == [1, 0, 0]
    assert len({r.next_attempt_at for r in rows}) == 1  # all wait as long as the failed one
    # The relay comes back.
    sender.transport = SmtpTransport(parse_relay_url(smtp_sink.url))
    assert sender.run_once() == []
    clock.advance(seconds=61)
    assert [r.status for r in sender.run_once()] == [OutboundStatus.SENT] * 3
    assert len(smtp_sink.wait_for(3)) == 3


def test_a_relay_that_never_answers_times_out_and_retries(sqlite_app: App) -> None:
    clock = FrozenClock()
    outbound_id, _, _ = queue(sqlite_app, clock)
    with silent_port() as port:
        sender = sender_for(sqlite_app, f"smtp://127.0.0.1:{port}?timeout=0.5", clock)
        started = time.monotonic()
        (result,) = sender.run_once()
        assert time.monotonic() - started < 5
    assert result.status == OutboundStatus.QUEUED
    assert "timed out" in row(sqlite_app, outbound_id).last_error


def test_timeout_waiting_for_the_final_reply_retries_and_warns(
    sqlite_app: App, smtp_sink: SmtpSink
) -> None:
    # RFC 1047: the relay may have the whole mail while we never saw its answer. We cannot
    # know, so we retry (a lost mail is worse than a duplicate with the same Message-ID) and
    # say so on the row. (This sink drops a mail whose client went away; real relays may not.)
    clock = FrozenClock()
    outbound_id, message_id, _ = queue(sqlite_app, clock)
    smtp_sink.data_delay_seconds = 1.5
    sender = sender_for(sqlite_app, f"{smtp_sink.url}?timeout=5&data_timeout=0.5", clock)
    (result,) = sender.run_once()
    assert result.status == OutboundStatus.QUEUED
    assert "may have accepted it" in row(sqlite_app, outbound_id).last_error
    smtp_sink.data_delay_seconds = 0
    clock.advance(seconds=61)
    (again,) = sender.run_once()
    assert again.status == OutboundStatus.SENT
    mails = smtp_sink.wait_for(1)
    assert {m.message()["Message-ID"] for m in mails} == {f"<{message_id}>"}


class Crash(BaseException):
    """The process dies (kill -9 would do the same to the database transaction)."""


def test_crash_after_the_250_before_the_commit_is_the_one_resend(
    db_url: str, app: App, smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FrozenClock()
    outbound_id, message_id, _ = queue(app, clock)
    doomed = sender_for(app, smtp_sink.url, clock)

    def crash(*_: object) -> SendResult:
        raise Crash

    monkeypatch.setattr(doomed, "_record_sent", crash)
    monkeypatch.setattr(doomed, "_record_delivery", crash)
    with pytest.raises(Crash):
        doomed.run_once()
    smtp_sink.wait_for(1)
    assert row(app, outbound_id).status == OutboundStatus.SENDING  # the commit never happened
    # A restarted sender finds the claim stale and sends the row again: the same bytes, the
    # same Message-ID, so the requester's client shows one mail.
    restarted = sender_for(app, smtp_sink.url, clock, claim_timeout=timedelta(minutes=30))
    assert restarted.release_stale_claims() == 0  # a live claim is left alone...
    clock.advance(minutes=31)
    assert restarted.release_stale_claims() == 1  # ...a stale one is released
    (result,) = restarted.run_once()
    assert result.status == OutboundStatus.SENT
    first, second = smtp_sink.wait_for(2)
    assert first.data == second.data
    assert first.message()["Message-ID"] == f"<{message_id}>"
    assert restarted.run_once() == []


def test_a_failed_commit_after_the_250_is_retried_without_resending(
    sqlite_app: App, smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FrozenClock()
    outbound_id, _, _ = queue(sqlite_app, clock)
    sender = sender_for(sqlite_app, smtp_sink.url, clock)

    def broken(*_: object) -> SendResult:
        raise RuntimeError("database went away")

    # The fast path fails; the bookkeeping is retried on the careful path next round.
    monkeypatch.setattr(sender, "_record_sent", broken)
    (result,) = sender.run_once()
    assert result.detail == "accepted; not yet recorded"
    assert row(sqlite_app, outbound_id).status == OutboundStatus.SENDING  # still ours
    assert sender.run_once() == []  # the bookkeeping is done first; nothing else is due
    assert row(sqlite_app, outbound_id).status == OutboundStatus.SENT
    time.sleep(0.2)
    assert len(smtp_sink.messages) == 1


# Partial accepts -----------------------------------------------------------------------


def test_partial_accept_with_a_permanent_refusal(
    db_url: str, app: App, smtp_sink: SmtpSink
) -> None:
    clock = FrozenClock()
    smtp_sink.fail_next("RCPT", "550 5.1.1 <carol@example.com>: Recipient address rejected")
    outbound_id, _, ticket_id = queue(app, clock, cc=(Recipient("bob@example.com"),))
    sender = sender_for(app, smtp_sink.url, clock)
    (result,) = sender.run_once()
    assert result.status == OutboundStatus.SENT
    (mail,) = smtp_sink.wait_for(1)
    assert mail.rcpt_to == ("bob@example.com",)
    sent = row(app, outbound_id)
    assert sent.delivered_to == ["bob@example.com"]
    assert "5.1.1" in sent.last_error
    (refused,) = events(app, "mail_refused")
    assert refused.ticket_id == ticket_id
    assert refused.data["recipients"][0]["address"] == REQUESTER
    # "No such mailbox" is a hard bounce: automatic mail to that address stops.
    with app.sessions() as session:
        person = session.execute(select(Person).where(Person.email == REQUESTER)).scalar_one()
        assert person.auto_mail_muted
        assert "5.1.1" in person.auto_mail_muted_reason


def test_partial_accept_with_a_temporary_refusal_retries_only_that_recipient(
    db_url: str, app: App, smtp_sink: SmtpSink
) -> None:
    clock = FrozenClock()
    smtp_sink.fail_next("RCPT", "452 4.2.2 Mailbox full")
    outbound_id, message_id, _ = queue(app, clock, cc=(Recipient("bob@example.com"),))
    sender = sender_for(app, smtp_sink.url, clock)
    (result,) = sender.run_once()
    assert result.status == OutboundStatus.QUEUED
    waiting = row(app, outbound_id)
    assert waiting.delivered_to == ["bob@example.com"]
    assert waiting.rcpt_to == [REQUESTER]
    clock.advance(seconds=61)
    (again,) = sender.run_once()
    assert again.status == OutboundStatus.SENT
    first, second = smtp_sink.wait_for(2)
    assert (first.rcpt_to, second.rcpt_to) == (("bob@example.com",), (REQUESTER,))
    assert first.data == second.data  # the same mail, each recipient once
    assert row(app, outbound_id).delivered_to == ["bob@example.com", REQUESTER]
    assert first.message()["Message-ID"] == f"<{message_id}>"


def test_every_recipient_refused_permanently_fails(sqlite_app: App, smtp_sink: SmtpSink) -> None:
    clock = FrozenClock()
    smtp_sink.fail_next("RCPT", "550 5.7.1 Relaying denied")
    outbound_id, _, _ = queue(sqlite_app, clock)
    (result,) = sender_for(sqlite_app, smtp_sink.url, clock).run_once()
    assert result.status == OutboundStatus.FAILED
    assert "Relaying denied" in row(sqlite_app, outbound_id).status_reason


def test_gives_up_after_the_queue_lifetime(sqlite_app: App) -> None:
    clock = FrozenClock()
    outbound_id, _, ticket_id = queue(sqlite_app, clock)
    sender = sender_for(
        sqlite_app, f"smtp://127.0.0.1:{closed_port()}?timeout=2", clock, max_age=timedelta(hours=1)
    )
    assert sender.run_once()[0].status == OutboundStatus.QUEUED
    clock.advance(hours=2)
    (result,) = sender.run_once()
    assert result.status == OutboundStatus.FAILED
    failed = row(sqlite_app, outbound_id)
    assert failed.status_reason.startswith("gave up after 0.1 days of trying")
    (event,) = events(sqlite_app, "mail_failed")
    assert event.ticket_id == ticket_id


# Many senders --------------------------------------------------------------------------


def test_concurrent_senders_send_each_mail_once(db_url: str, app: App, smtp_sink: SmtpSink) -> None:
    clock = FrozenClock()
    ids = {queue(app, clock, inbound_id=None)[1] for _ in range(24)}
    senders = [sender_for(app, smtp_sink.url, clock, batch_size=3) for _ in range(3)]
    for index, sender in enumerate(senders):
        sender.name = f"test-sender-{index}"
    errors: list[BaseException] = []

    def drain(sender: OutboxSender) -> None:
        try:
            while sender.run_once():
                pass
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=drain, args=(s,)) for s in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    mails = smtp_sink.wait_for(24)
    time.sleep(0.2)
    received = [m.message()["Message-ID"].strip("<>") for m in smtp_sink.messages]
    assert sorted(received) == sorted(ids)
    with app.sessions() as session:
        statuses = set(session.execute(select(OutboundMessage.status)).scalars())
    assert statuses == {OutboundStatus.SENT}
    assert len(mails) == 24


# TLS and AUTH --------------------------------------------------------------------------


def test_tls_relay_with_authentication(
    sqlite_app: App, tls_relay: TlsRelay, certificate: Certificate
) -> None:
    clock = FrozenClock()
    outbound_id, message_id, _ = queue(sqlite_app, clock)
    credentials = f"{quote(RELAY_USER, safe='')}:{quote(RELAY_PASSWORD, safe='')}"
    if tls_relay.scheme == "smtps":
        url = f"smtps://{credentials}@localhost:{tls_relay.port}"
    else:
        url = f"smtp://{credentials}@localhost:{tls_relay.port}?starttls=1"
    config = parse_relay_url(url)
    assert config.password == RELAY_PASSWORD
    transport = SmtpTransport(config, tls_context=certificate.client_context())
    sender = OutboxSender(sqlite_app.sessions, transport, CONFIG, clock=clock)
    (result,) = sender.run_once()
    assert result.status == OutboundStatus.SENT, result.detail
    (mail,) = tls_relay.mails
    assert mail.message()["Message-ID"] == f"<{message_id}>"
    assert tls_relay.collector.logins == [RELAY_USER]
    assert row(sqlite_app, outbound_id).relay_response == "2.0.0 Ok: queued as TLS1"


def test_an_unverifiable_certificate_is_refused_and_retried(
    sqlite_app: App, tls_relay: TlsRelay
) -> None:
    clock = FrozenClock()
    outbound_id, _, _ = queue(sqlite_app, clock)
    scheme = "smtps" if tls_relay.scheme == "smtps" else "smtp"
    suffix = "" if scheme == "smtps" else "?starttls=1"
    url = f"{scheme}://u:p@localhost:{tls_relay.port}{suffix}"
    sender = OutboxSender(
        sqlite_app.sessions, SmtpTransport(parse_relay_url(url)), CONFIG, clock=clock
    )
    (result,) = sender.run_once()
    assert result.status == OutboundStatus.QUEUED
    assert result.relay_down
    assert "certificate" in row(sqlite_app, outbound_id).last_error.lower()
    assert tls_relay.mails == []


def test_wrong_password_waits_instead_of_bouncing(
    sqlite_app: App, tls_relay: TlsRelay, certificate: Certificate
) -> None:
    clock = FrozenClock()
    outbound_id, _, _ = queue(sqlite_app, clock)
    scheme = "smtps" if tls_relay.scheme == "smtps" else "smtp"
    suffix = "" if scheme == "smtps" else "?starttls=1"
    url = f"{scheme}://{quote(RELAY_USER)}:wrong@localhost:{tls_relay.port}{suffix}"
    transport = SmtpTransport(parse_relay_url(url), tls_context=certificate.client_context())
    (result,) = OutboxSender(sqlite_app.sessions, transport, CONFIG, clock=clock).run_once()
    assert result.status == OutboundStatus.QUEUED
    assert "authentication failed" in row(sqlite_app, outbound_id).last_error
    assert "wrong" not in row(sqlite_app, outbound_id).last_error


def test_starttls_required_but_not_offered_is_not_a_silent_downgrade(
    sqlite_app: App, smtp_sink: SmtpSink
) -> None:
    clock = FrozenClock()
    outbound_id, _, _ = queue(sqlite_app, clock)
    (result,) = sender_for(sqlite_app, f"{smtp_sink.url}?starttls=1", clock).run_once()
    assert result.status == OutboundStatus.QUEUED
    assert "does not offer STARTTLS" in row(sqlite_app, outbound_id).last_error
    assert smtp_sink.messages == []


def test_one_connection_is_reused_and_a_dead_one_replaced(
    sqlite_app: App, smtp_sink: SmtpSink
) -> None:
    clock = FrozenClock()
    sender = sender_for(sqlite_app, smtp_sink.url, clock)
    transport = sender.transport
    assert isinstance(transport, SmtpTransport)
    queue(sqlite_app, clock)
    queue(sqlite_app, clock)
    assert [r.status for r in sender.run_once()] == [OutboundStatus.SENT] * 2
    connection = transport._smtp
    assert connection is not None  # kept open while there is work
    # The relay drops the session (as relays do with idle ones): the next mail reconnects.
    assert connection.sock is not None
    connection.sock.shutdown(socket.SHUT_RDWR)
    queue(sqlite_app, clock)
    assert [r.status for r in sender.run_once()] == [OutboundStatus.SENT]
    assert transport._smtp is not None
    assert transport._smtp is not connection
    assert sender.run_once() == []
    assert transport._smtp is None  # an idle round closes it
    assert len(smtp_sink.wait_for(3)) == 3
