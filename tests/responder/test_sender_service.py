"""The sender as a service (no relay -> maildir; a relay URL -> SMTP) and its CLI commands."""

from __future__ import annotations

import json
import mailbox
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from deskmail.app import App
from deskmail.commands.base import CliState
from deskmail.commands.outbox import outbox
from deskmail.sender_service import SenderService, build_outbox
from deskmail.serve import ServiceError
from models import OutboundMessage, OutboundStatus
from responder.outbox import enqueue
from responder.sender import OutboxConfig
from tests.conftest import HELPDESK, make_settings
from tests.responder.helpers import REQUESTER, acknowledgement, make_ticket, requester
from tests.servers.smtp import SmtpSink

FAST = OutboxConfig(poll_seconds=0.05, jitter=0.0)


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail("condition not reached in time")
        time.sleep(0.05)


def queue_one(app: App) -> tuple[int, str]:
    outbox_ = build_outbox(app.settings)
    with app.sessions() as session, session.begin():
        ticket = make_ticket(session)
        queued = enqueue(session, outbox_, acknowledgement(ticket), to=requester())
        return queued.outbound.id, queued.message_id


@pytest.fixture
def relay_app(sqlite_url: str, tmp_path: Path, smtp_sink: SmtpSink) -> Iterator[App]:
    application = App.open(make_settings(tmp_path / "data", sqlite_url, relay_url=smtp_sink.url))
    yield application
    application.close()


def test_without_a_relay_mail_goes_to_the_maildir(sqlite_app: App) -> None:
    service = SenderService(sqlite_app, config=FAST)
    folder = sqlite_app.settings.data_dir / "outbox-maildir"
    assert service.destination.startswith(f"maildir {folder}")
    assert "no relay configured" in service.destination
    line = service.start()
    try:
        assert "no relay configured" in line
        outbound_id, message_id = queue_one(sqlite_app)
        box = mailbox.Maildir(folder, create=False)
        wait_until(lambda: len(box) == 1)
        (stored,) = box.values()
        assert stored["Return-Path"] == f"<{HELPDESK}>"
        assert stored["Delivered-To"] == REQUESTER
        assert stored["Message-ID"] == f"<{message_id}>"
        wait_until(lambda: _status(sqlite_app, outbound_id) == OutboundStatus.SENT)
    finally:
        service.stop(5)
    assert service.failure() is None


def test_with_a_relay_mail_goes_to_it(relay_app: App, smtp_sink: SmtpSink) -> None:
    service = SenderService(relay_app, config=FAST, threads=2)
    assert service.destination == f"relay smtp://127.0.0.1:{smtp_sink.port}"
    service.start()
    try:
        ids = [queue_one(relay_app)[0] for _ in range(5)]
        smtp_sink.wait_for(5)
        wait_until(lambda: all(_status(relay_app, i) == OutboundStatus.SENT for i in ids))
    finally:
        service.stop(5)
    time.sleep(0.1)
    assert len(smtp_sink.messages) == 5


def test_a_bad_relay_url_stops_the_service_clearly(sqlite_url: str, tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path / "data", sqlite_url, relay_url="smtp://alice:TopSecret@relay:99999"
    )
    application = App.open(settings)
    try:
        with pytest.raises(ServiceError, match="DESKMAIL_RELAY_URL") as caught:
            SenderService(application)
        assert "TopSecret" not in str(caught.value)
    finally:
        application.close()


def _status(app: App, outbound_id: int) -> OutboundStatus:
    with app.sessions() as session:
        return session.execute(
            select(OutboundMessage.status).where(OutboundMessage.id == outbound_id)
        ).scalar_one()


# CLI -------------------------------------------------------------------------------------


@pytest.fixture
def cli_state(sqlite_app: App, monkeypatch: pytest.MonkeyPatch) -> CliState:
    monkeypatch.setenv("DESKMAIL_DATABASE_URL", sqlite_app.settings.database_url)
    monkeypatch.setenv("DESKMAIL_ADDRESSES", HELPDESK)
    monkeypatch.setenv("DESKMAIL_SECRET_KEY", "test-secret-key-not-for-production")
    return CliState(None, sqlite_app.settings.data_dir)


def test_outbox_list_and_retry(sqlite_app: App, cli_state: CliState) -> None:
    outbound_id, message_id = queue_one(sqlite_app)
    with sqlite_app.sessions() as session, session.begin():
        row = session.get_one(OutboundMessage, outbound_id)
        row.status = OutboundStatus.FAILED
        row.status_reason = "554 5.7.1 rejected"
    runner = CliRunner()
    listed = runner.invoke(outbox, ["list", "--failed", "--json"], obj=cli_state)
    assert listed.exit_code == 0, listed.output
    (item,) = json.loads(listed.output)
    assert item["id"] == outbound_id
    assert item["message_id"] == message_id
    assert item["status"] == "failed"
    assert item["reason"] == "554 5.7.1 rejected"
    assert item["to"] == [REQUESTER]
    table = runner.invoke(outbox, ["list"], obj=cli_state)
    assert table.exit_code == 0
    assert "failed" in table.output
    retried = runner.invoke(outbox, ["retry", str(outbound_id)], obj=cli_state)
    assert retried.exit_code == 0
    assert f"mail {outbound_id} queued again" in retried.output
    assert _status(sqlite_app, outbound_id) == OutboundStatus.QUEUED
    again = runner.invoke(outbox, ["retry", str(outbound_id)], obj=cli_state)
    assert again.exit_code == 1


def test_check_templates_names_broken_overrides(sqlite_app: App, cli_state: CliState) -> None:
    runner = CliRunner()
    clean = runner.invoke(outbox, ["check-templates"], obj=cli_state)
    assert clean.exit_code == 0
    assert "no problems" in clean.output
    folder = sqlite_app.settings.data_dir / "templates" / "resolution"
    folder.mkdir(parents=True)
    (folder / "subject.txt").write_text("{{ ticket.number + }}\n")
    broken = runner.invoke(outbox, ["check-templates"], obj=cli_state)
    assert broken.exit_code == 1
    assert "resolution/subject.txt" in broken.output
