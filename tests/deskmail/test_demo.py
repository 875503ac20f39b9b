"""`deskmail demo` against the running services: the embedded default's SMTP intake, pipeline
worker and outbox sender (maildir, no relay) run in this process, sharing the test session's
model; the demo command talks to them over SMTP, as it talks to `deskmail serve`, and prints
what became of each sample mail."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from deskmail.app import App
from deskmail.cli import cli
from deskmail.demo_mails import SAMPLES
from deskmail.matching import KnowledgeServices
from deskmail.sender_service import SenderService
from deskmail.serve import Service, WorkerService, stop_services
from deskmail.smtp_service import SmtpService
from deskmail.wiring import ProcessServices, build_worker
from models import InboundMessage, OutboundMessage, Ticket
from tests.conftest import HELPDESK, make_settings
from tests.deskmail.kb_support import copy_database, knowledge, starter_template

pytestmark = pytest.mark.model


def warm(kb: KnowledgeServices) -> None:
    """Load the vectors before the first claim, as `deskmail serve` does."""
    kb.matching.refresh()


@pytest.fixture
def running(sqlite_template: Path, tmp_path: Path) -> Iterator[tuple[App, int]]:
    """The embedded services on a database with the starter knowledge base."""
    template = starter_template(sqlite_template, tmp_path.parent / "starter-template")
    url = copy_database(template, tmp_path / "db")
    app = App.open(make_settings(tmp_path / "data", url, worker={"poll_seconds": 0.05}))
    kb = knowledge(app)
    shared = ProcessServices(kb.store.encoder, kb)
    smtp = SmtpService(app)
    services: list[Service] = [
        WorkerService(
            app,
            1,
            build=lambda a, name: build_worker(a, name, shared),
            warm_up=lambda: warm(kb),
        ),
        smtp,
        SenderService(app),
    ]
    started: list[Service] = []
    try:
        for service in services:
            service.start()
            started.append(service)
        yield app, smtp.port
    finally:
        stop_services(started, 10)
        app.close()


def demo(app: App, port: int, *extra: str) -> str:
    env = {
        "DESKMAIL_DATABASE_URL": app.settings.resolved_database_url,
        "DESKMAIL_ADDRESSES": HELPDESK,
        "DESKMAIL_SECRET_KEY": app.settings.secret().decode(),
    }
    args = ["--data", str(app.settings.data_dir), "demo", "--smtp", f"127.0.0.1:{port}"]
    result = CliRunner().invoke(cli, [*args, "--timeout", "120", *extra], env=env)
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.stdout


def test_demo_prints_what_became_of_each_sample(running: tuple[App, int]) -> None:
    app, port = running
    text = demo(app, port)

    with app.read_sessions() as session:
        tickets = {t.id: t for t in session.execute(select(Ticket)).scalars()}
        inbound = list(session.execute(select(InboundMessage)).scalars())
        acks = list(
            session.execute(
                select(OutboundMessage).where(OutboundMessage.kind == "acknowledgement")
            ).scalars()
        )
    # Every sample reached the service over SMTP; the out-of-office reply made no ticket.
    assert len(inbound) == len(SAMPLES)
    assert len(tickets) == 3
    sections = re.split(r"^\d\. ", text, flags=re.MULTILINE)[1:]
    assert [s.splitlines()[0].split(" ─")[0].strip() for s in sections] == [
        s.title for s in SAMPLES
    ]
    printer, account, vpn, out_of_office, reply = sections
    for section, sample in zip(sections, SAMPLES, strict=True):
        assert f"From:    {sample.mailbox}" in section
    for section, number in ((printer, 1), (account, 2), (vpn, 3)):
        ticket = tickets[number]
        assert f"Result:  new ticket #{number}, status " in section
        category = ticket.subcategory or ticket.category or "unknown"
        assert f"Category: {category}, priority: {ticket.priority or 'unknown'}" in section
        assert "Suggestions:" in section
    assert "Clearing a paper jam" in printer  # the starter article, suggested
    assert "Result:  no ticket - auto_reply" in out_of_office
    assert "Result:  added to ticket #1, which is now " in reply
    # The acknowledgement as it went out, read back from the maildir (when the stage sent one).
    for ack in acks:
        section = sections[ack.ticket_id - 1] if ack.ticket_id else ""
        assert "Acknowledgement (sent, maildir " in section
        assert f"  Subject: {ack.subject}" in section
        assert "  | " in section
    if not acks:
        assert "Acknowledgement: none was queued" in printer


def test_demo_json_names_ticket_category_priority_and_acknowledgement(
    running: tuple[App, int],
) -> None:
    app, port = running
    outcomes = json.loads(demo(app, port, "--json"))
    assert [o["sample"] for o in outcomes] == [s.key for s in SAMPLES]
    by_key = {o["sample"]: o for o in outcomes}
    assert by_key["out_of_office"]["ticket"] is None
    assert by_key["out_of_office"]["result"] == "auto_reply"
    vpn = by_key["vpn"]
    assert vpn["result"] == "ticket_created"
    assert vpn["suggestions"][0]["title"] == "VPN keeps disconnecting"
    assert by_key["solved_reply"]["ticket"] == by_key["printer"]["ticket"]
    ack = by_key["printer"]["acknowledgement"]
    if ack is not None:
        assert ack["to"] == [SAMPLES[0].email]
        assert f"[#{by_key['printer']['ticket']}]" in ack["subject"]
        assert ack["source"].startswith("maildir ")
        # The reply answered the acknowledgement through its reply-token address.
        assert by_key["solved_reply"]["subject"].lower().startswith("re:")
