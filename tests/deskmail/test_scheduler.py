"""The scheduler's timed work with a frozen clock, delivered through real SMTP: an SLA warning
before a breach and an escalation on the breach reach an aiosmtpd sink once each (even with
two schedulers racing) and are recorded on the ticket's timeline; resolved tickets nobody
answered close after N days with a closure mail (through `deskmail scheduler --once`)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bench.crash_test import DeskmailProcess, subprocess_env
from deskmail.app import App
from deskmail.cli import cli
from deskmail.scheduler import RoundReport, Scheduler, SchedulerService
from deskmail.sender_service import outbox_config
from deskmail.sla import sla_config, start_clock
from models import (
    Event,
    OutboundMessage,
    OutboundStatus,
    Person,
    Role,
    Ticket,
    TicketStatus,
    UserAccount,
)
from responder.relay import parse_relay_url
from responder.sender import OutboxSender
from responder.transport import SmtpTransport
from tests.conftest import HELPDESK, make_settings
from tests.servers.smtp import ReceivedMail, SmtpSink

T0 = datetime(2025, 10, 6, 8, 0, tzinfo=UTC)  # a Monday
ESCALATIONS = "escalations@example.org"
AGENT = "nina.agent@example.org"
REQUESTER = "carol@example.com"


@pytest.fixture
def process_app(db_url: str, tmp_path: Path) -> Iterator[App]:
    settings = make_settings(
        tmp_path / "data",
        db_url,
        process={"escalation_address": ESCALATIONS, "auto_close_days": 5},
        web={"public_url": "https://desk.example.org"},
    )
    application = App.open(settings)
    yield application
    application.close()


def add_ticket(app: App, *, priority: str, created: datetime, group: str = "network") -> int:
    with app.sessions() as session, session.begin():
        requester = session.execute(
            select(Person).where(Person.email == REQUESTER)
        ).scalar_one_or_none()
        if requester is None:
            requester = Person(email=REQUESTER, name="Carol Jones")
            session.add(requester)
            agent = Person(email=AGENT, name="Nina Agent")
            session.add(agent)
            session.flush()
            session.add(UserAccount(person_id=agent.id, role=Role.AGENT, group="network"))
        ticket = Ticket(
            subject="VPN drops every five minutes",
            requester_id=requester.id,
            priority=priority,
            group=group,
            created_at=created,
            updated_at=created,
        )
        session.add(ticket)
        session.flush()
        start_clock(ticket, sla_config(app.settings))
        return ticket.id


def deliver(app: App, sink: SmtpSink, now: datetime) -> None:
    transport = SmtpTransport(parse_relay_url(sink.url))
    sender = OutboxSender(app.sessions, transport, outbox_config(app.settings), clock=lambda: now)
    while sender.run_once():
        pass
    transport.close()


def plain(mail: ReceivedMail) -> str:
    part = mail.message().get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def timeline(app: App, ticket_id: int, *kinds: str) -> list[Event]:
    with app.sessions() as session:
        return list(
            session.execute(
                select(Event)
                .where(Event.ticket_id == ticket_id, Event.kind.in_(kinds))
                .order_by(Event.id)
            ).scalars()
        )


def race(app: App, now: datetime) -> list[RoundReport]:
    """Two schedulers run the same round at the same moment."""
    reports: list[RoundReport] = []
    barrier = threading.Barrier(2)

    def one() -> None:
        scheduler = Scheduler.for_app(app)
        barrier.wait()
        reports.append(scheduler.run_once(now))

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return reports


def test_warning_then_escalation_reach_the_sink_once_and_the_timeline(
    process_app: App, smtp_sink: SmtpSink
) -> None:
    app = process_app
    number = add_ticket(app, priority="P1", created=T0)  # 1 h first response, around the clock
    # Before the warning time nothing happens.
    assert race(app, T0 + timedelta(minutes=30))[0].total == 0

    reports = race(app, T0 + timedelta(minutes=50))  # 75 % of the hour has passed
    assert sorted(r.warned for r in reports) == [0, 1]
    assert Scheduler.for_app(app).run_once(T0 + timedelta(minutes=55)).warned == 0
    deliver(app, smtp_sink, T0 + timedelta(minutes=56))
    (warning,) = smtp_sink.wait_for(1)
    assert warning.rcpt_to == (AGENT,)
    message = warning.message()
    assert message["Subject"].startswith(f"[#{number}] SLA warning: first response due")
    assert message["Auto-Submitted"] == "auto-generated"
    assert f"https://desk.example.org/tickets/{number}" in plain(warning)

    reports = race(app, T0 + timedelta(minutes=61))  # the first response is now late
    assert sorted(r.escalated for r in reports) == [0, 1]
    deliver(app, smtp_sink, T0 + timedelta(minutes=62))
    mails = smtp_sink.wait_for(2)
    escalation = mails[1]
    assert escalation.rcpt_to == (ESCALATIONS,)
    assert escalation.message()["Subject"] == (
        f"[#{number}] Escalated (P1): VPN drops every five minutes"
    )
    assert "first response target was missed" in plain(escalation)

    # Later rounds send nothing again; the resolution warning comes in its own time.
    later = Scheduler.for_app(app).run_once(T0 + timedelta(minutes=70))
    assert (later.warned, later.escalated) == (0, 0)
    deliver(app, smtp_sink, T0 + timedelta(minutes=71))
    assert len(smtp_sink.messages) == 2

    events = timeline(app, number, "sla_warning", "sla_escalated")
    assert [(e.kind, e.data["target"]) for e in events] == [
        ("sla_warning", "first_response"),
        ("sla_escalated", "first_response"),
    ]
    with app.sessions() as session:
        sent = session.execute(
            select(OutboundMessage.id).where(OutboundMessage.status == OutboundStatus.SENT)
        ).scalars()
        assert events[0].data["outbound"] + events[1].data["outbound"] == sorted(sent)


def test_a_pending_ticket_is_neither_warned_nor_escalated_and_resumes_later(
    process_app: App, smtp_sink: SmtpSink
) -> None:
    app = process_app
    number = add_ticket(app, priority="P1", created=T0)
    with app.sessions() as session, session.begin():
        ticket = session.get_one(Ticket, number)
        ticket.status = TicketStatus.PENDING
        ticket.sla_paused_at = T0 + timedelta(minutes=10)
    quiet = Scheduler.for_app(app).run_once(T0 + timedelta(hours=3))
    assert (quiet.warned, quiet.escalated) == (0, 0)
    with app.sessions() as session, session.begin():
        ticket = session.get_one(Ticket, number)
        ticket.status = TicketStatus.OPEN
        ticket.sla_resumed_at = T0 + timedelta(hours=3)  # as change_status stamps it
    round_ = Scheduler.for_app(app).run_once(T0 + timedelta(hours=3, minutes=1))
    assert round_.refreshed == 1
    with app.sessions() as session:
        ticket = session.get_one(Ticket, number)
        # 1 h target + 2 h 50 min paused (around the clock for P1).
        assert ticket.first_response_due == T0 + timedelta(hours=3, minutes=50)
    assert [e.kind for e in timeline(app, number, "sla_due_changed")] == ["sla_due_changed"]
    deliver(app, smtp_sink, T0 + timedelta(hours=3, minutes=2))
    assert smtp_sink.messages == []


def test_resolved_tickets_close_after_n_quiet_days_through_the_cli(
    process_app: App, smtp_sink: SmtpSink
) -> None:
    app = process_app
    now = datetime.now(UTC)
    quiet = add_ticket(app, priority="P3", created=now - timedelta(days=9))
    recent = add_ticket(app, priority="P3", created=now - timedelta(days=9))
    with app.sessions() as session, session.begin():
        for number, days in ((quiet, 6), (recent, 2)):
            ticket = session.get_one(Ticket, number)
            ticket.status = TicketStatus.RESOLVED
            ticket.resolved_at = now - timedelta(days=days)
            ticket.sla_paused_at = ticket.resolved_at
    settings = app.settings
    env = {
        "DESKMAIL_DATABASE_URL": settings.resolved_database_url,
        "DESKMAIL_ADDRESSES": HELPDESK,
        "DESKMAIL_SECRET_KEY": settings.secret().decode(),
        "DESKMAIL_PROCESS__AUTO_CLOSE_DAYS": "5",
    }
    runner = CliRunner()
    args = ["--data", str(settings.data_dir), "scheduler", "--once", "--json"]
    result = runner.invoke(cli, args, env=env)
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert json.loads(result.stdout)["closed"] == 1
    again = runner.invoke(cli, args, env=env)
    assert json.loads(again.stdout)["closed"] == 0

    with app.sessions() as session:
        assert session.get_one(Ticket, quiet).status == TicketStatus.CLOSED
        assert session.get_one(Ticket, quiet).closed_at is not None
        assert session.get_one(Ticket, recent).status == TicketStatus.RESOLVED
    (closed_event,) = timeline(app, quiet, "status_changed")
    assert closed_event.data == {
        "from": "resolved",
        "to": "closed",
        "reason": "auto_close",
        "days": 5,
    }
    deliver(app, smtp_sink, datetime.now(UTC))
    (closure,) = smtp_sink.wait_for(1)
    assert closure.rcpt_to == (REQUESTER,)
    message = closure.message()
    assert message["Subject"] == f"[#{quiet}] Closed: VPN drops every five minutes"
    assert "5 days ago" in plain(closure)
    assert message["Reply-To"].startswith("help+t")


def test_the_service_runs_rounds_until_stopped(process_app: App) -> None:
    app = process_app
    number = add_ticket(app, priority="P1", created=datetime.now(UTC) - timedelta(hours=2))
    service = SchedulerService(app)
    assert "auto-close" in service.start()
    try:
        deadline = datetime.now(UTC) + timedelta(seconds=20)
        while not timeline(app, number, "sla_escalated") and datetime.now(UTC) < deadline:
            threading.Event().wait(0.1)
        assert service.failure() is None
    finally:
        service.stop(10)
    assert len(timeline(app, number, "sla_escalated")) == 1


def test_deskmail_scheduler_runs_as_its_own_process(process_app: App, tmp_path: Path) -> None:
    app = process_app
    number = add_ticket(app, priority="P1", created=datetime.now(UTC) - timedelta(hours=2))
    env = subprocess_env(app.settings.resolved_database_url, "127.0.0.1:0")
    env["DESKMAIL_PROCESS__ESCALATION_ADDRESS"] = ESCALATIONS
    with open(tmp_path / "scheduler.log", "w") as log:
        process = DeskmailProcess(["scheduler", "--data", str(app.settings.data_dir)], env, log)
        process.start(timeout=60)
        try:
            assert any(line.startswith("scheduler: SLA checks") for line in process.lines)
            deadline = datetime.now(UTC) + timedelta(seconds=30)
            while not timeline(app, number, "sla_escalated") and datetime.now(UTC) < deadline:
                threading.Event().wait(0.1)
        finally:
            status = process.terminate()
    assert status == 0
    assert process.lines[-1] == "stopped"
    (escalated,) = timeline(app, number, "sla_escalated")
    with app.sessions() as session:
        (row,) = session.execute(
            select(OutboundMessage).where(OutboundMessage.id.in_(escalated.data["outbound"]))
        ).scalars()
        assert row.rcpt_to == [ESCALATIONS]
