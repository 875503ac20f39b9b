"""End to end: a mail sent over SMTP to the running services (SMTP intake and a pipeline worker
thread, as `deskmail serve` runs them) comes out as a ticket with a category from the tree, a
priority and a confidence (`deskmail tickets show N --json` shows them); an outage reported
as urgent gets a high priority."""

from __future__ import annotations

import json
import smtplib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from deskmail.app import App
from deskmail.cli import cli
from deskmail.serve import WorkerService
from deskmail.smtp_service import SmtpService
from models import Classification, Ticket
from tests.conftest import HELPDESK
from tests.deskmail import classifier_support as support
from tests.deskmail.kb_support import mail

pytestmark = pytest.mark.model


@pytest.fixture
def running(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[App, SmtpService]]:
    app = support.open_app(tmp_path / "data", sqlite_url)
    classification = support.service(app)
    smtp = SmtpService(app)
    workers = WorkerService(app, 1, build=lambda a, name: support.worker(a, classification))
    smtp.start()
    workers.start()
    try:
        yield app, smtp
    finally:
        workers.stop(10)
        smtp.stop(10)
        app.close()


def _send(port: int, raw: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.sendmail("kim.lee@example.com", [HELPDESK], raw)


def _classified(app: App, subject: str, timeout: float = 60.0) -> tuple[Ticket, Classification]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with app.read_sessions() as session:
            found = session.execute(
                select(Ticket, Classification)
                .join(Classification, Classification.ticket_id == Ticket.id)
                .where(Ticket.subject == subject)
            ).first()
            if found is not None:
                ticket, row = found
                session.expunge_all()
                return ticket, row
        time.sleep(0.1)
    raise AssertionError(f"no classified ticket {subject!r} within {timeout} s")


def test_a_mail_over_smtp_becomes_a_classified_ticket(
    running: tuple[App, SmtpService],
) -> None:
    app, smtp = running
    subject = "Printer jammed again"
    _send(
        smtp.port,
        mail(subject, "The printer on the 2nd floor shows 'Paper jam in tray 2' and won't print."),
    )
    ticket, row = _classified(app, subject)
    assert ticket.category == "hardware"
    assert ticket.subcategory == "hardware/printer"
    assert ticket.priority in {"P1", "P2", "P3", "P4"}
    assert not ticket.needs_triage
    assert 0.0 < row.confidences["category"] <= 1.0
    assert row.model_version.startswith("zeroshot-")

    env = {
        "DESKMAIL_DATABASE_URL": app.settings.resolved_database_url,
        "DESKMAIL_ADDRESSES": HELPDESK,
        "DESKMAIL_SECRET_KEY": "test-secret-key-not-for-production",
    }
    shown = CliRunner().invoke(
        cli,
        ["--data", str(app.settings.data_dir), "tickets", "show", str(ticket.id), "--json"],
        env=env,
    )
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    assert (data["category"], data["subcategory"], data["priority"]) == (
        "hardware",
        "hardware/printer",
        ticket.priority,
    )


def test_an_urgent_outage_mail_gets_a_high_priority(running: tuple[App, SmtpService]) -> None:
    app, smtp = running
    subject = "URGENT: production down"
    _send(
        smtp.port,
        mail(
            subject, "Production is down for the whole office, nobody can work. Please help asap."
        ),
    )
    ticket, row = _classified(app, subject)
    assert ticket.priority in {"P1", "P2"}
    assert row.details["signals"]
