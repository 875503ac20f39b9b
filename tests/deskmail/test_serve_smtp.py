"""SMTP intake against the real databases: the mail is committed before 250, stored once, and
every failure to store is a 451 that a later resend recovers from (SQLite and PostgreSQL)."""

from __future__ import annotations

import email.policy
import smtplib
import threading
import time
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, make_url, select, text

from deskmail.app import App
from deskmail.settings import Limits
from deskmail.smtp_service import GroupCommitStore, SmtpService, StoreClosedError
from intake.store import Envelope, raw_digest
from models import InboundMessage
from tests.conftest import HELPDESK, make_settings
from tests.servers.databases import PG_ADMIN_URL


def make_mail(subject: str = "VPN drops every hour", sender: str = "bob@example.com") -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = HELPDESK
    message["Subject"] = subject
    message["Message-ID"] = f"<{uuid.uuid4().hex}@example.com>"
    message.set_content("Since Monday the VPN disconnects every hour.\n")
    return message.as_bytes(policy=email.policy.SMTP)


def send(port: int, raw: bytes, sender: str = "bob@example.com") -> tuple[int, bytes]:
    """One mail over SMTP; returns the reply to DATA."""
    smtp = smtplib.SMTP("127.0.0.1", port, timeout=30)
    try:
        smtp.ehlo()
        assert smtp.mail(sender)[0] == 250
        assert smtp.rcpt(HELPDESK)[0] == 250
        return smtp.data(raw)
    finally:
        smtp.close()


def rows(app: App) -> list[InboundMessage]:
    with app.read_sessions() as session:
        return list(session.scalars(select(InboundMessage).order_by(InboundMessage.id)))


@pytest.fixture
def intake_app(db_url: str, tmp_path: Path) -> Iterator[App]:
    """The application with a short store timeout, so failures answer quickly."""
    limits = Limits(store_timeout_seconds=1.0)
    application = App.open(make_settings(tmp_path / "data", db_url, limits=limits))
    yield application
    application.close()


@pytest.fixture
def service(intake_app: App) -> Iterator[SmtpService]:
    smtp = SmtpService(intake_app)
    smtp.start()
    yield smtp
    smtp.stop(10)


def test_the_mail_is_committed_before_250(intake_app: App, service: SmtpService) -> None:
    raw = make_mail()
    code, reply = send(service.port, raw)
    assert code == 250
    inbound_id = int(reply.rsplit(b" ", 1)[1])
    # A separate connection sees the row: it was committed before the reply.
    engine = create_engine(intake_app.settings.resolved_database_url)
    with engine.connect() as connection:
        found = connection.execute(
            text("SELECT raw, mail_from, source, status FROM inbound_message WHERE id = :id"),
            {"id": inbound_id},
        ).one()
    engine.dispose()
    assert bytes(found.raw) == raw
    assert (found.mail_from, found.source, found.status) == ("bob@example.com", "smtp", "received")


def test_a_resend_of_the_same_bytes_is_stored_once(intake_app: App, service: SmtpService) -> None:
    raw = make_mail()
    first = send(service.port, raw)
    second = send(service.port, raw)
    assert first[0] == second[0] == 250
    assert first[1].rsplit(b" ", 1)[1] == second[1].rsplit(b" ", 1)[1]
    assert [r.raw_sha256 for r in rows(intake_app)] == [raw_digest(raw)]


def test_concurrent_clients_all_get_their_mail_stored(
    intake_app: App, service: SmtpService
) -> None:
    mails = [make_mail(subject=f"Laptop {i} will not boot") for i in range(40)]
    codes: list[int] = []
    lock = threading.Lock()

    def client(part: list[bytes]) -> None:
        for raw in part:
            code, _ = send(service.port, raw)
            with lock:
                codes.append(code)

    threads = [threading.Thread(target=client, args=(mails[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert codes == [250] * 40
    assert sorted(r.raw_sha256 for r in rows(intake_app)) == sorted(map(raw_digest, mails))
    assert service.store.stats.mails == 40
    assert service.store.stats.batches <= 40


def _lock_inbound_table(url: str) -> tuple[object, threading.Event]:
    """Hold a write lock on the inbound table from another connection until released."""
    engine = create_engine(url)
    connection = engine.connect()
    if engine.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN EXCLUSIVE")
    else:
        transaction = connection.begin()
        connection.execute(text("LOCK TABLE inbound_message IN ACCESS EXCLUSIVE MODE"))
        assert transaction.is_active
    released = threading.Event()

    def release() -> None:
        released.wait(60)
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("ROLLBACK")
        else:
            connection.rollback()
        connection.close()
        engine.dispose()

    threading.Thread(target=release, daemon=True).start()
    return engine, released


def test_a_locked_database_is_451_within_seconds_and_the_resend_succeeds(
    intake_app: App, service: SmtpService
) -> None:
    raw = make_mail()
    _, release = _lock_inbound_table(intake_app.settings.resolved_database_url)
    began = time.monotonic()
    code, reply = send(service.port, raw)
    assert code == 451
    assert reply.startswith(b"4.3.0")
    assert time.monotonic() - began < 4
    release.set()
    deadline = time.monotonic() + 60
    while True:
        code, _ = send(service.port, raw)
        if code == 250 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert code == 250
    # The first try may have committed once the lock was gone: still one row.
    assert len(rows(intake_app)) == 1


@pytest.mark.postgres
def test_a_vanished_postgres_database_is_451_and_the_resend_succeeds(
    postgres_session_url: str, tmp_path: Path
) -> None:
    from tests.servers.databases import empty_postgres  # noqa: PLC0415

    empty_postgres(postgres_session_url)
    limits = Limits(store_timeout_seconds=2.0)
    app = App.open(make_settings(tmp_path / "data", postgres_session_url, limits=limits))
    service = SmtpService(app)
    service.start()
    name = make_url(postgres_session_url).database
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    raw = make_mail()
    try:
        send(service.port, make_mail())  # the pool holds a connection now
        with admin.connect() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            connection.execute(text(f'ALTER DATABASE "{name}" RENAME TO "{name}_away"'))
        try:
            began = time.monotonic()
            code, reply = send(service.port, raw)
            assert code == 451
            assert reply.startswith(b"4.3.0")
            assert time.monotonic() - began < 5
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'ALTER DATABASE "{name}_away" RENAME TO "{name}"'))
        assert send(service.port, raw)[0] == 250
        with app.read_sessions() as session:
            count = session.scalar(
                select(func.count())
                .select_from(InboundMessage)
                .where(InboundMessage.raw_sha256 == raw_digest(raw))
            )
        assert count == 1
    finally:
        service.stop(10)
        app.close()
        admin.dispose()


# The group-commit writer on its own -------------------------------------------------------


def test_waiting_mails_share_one_commit(app: App) -> None:
    store = GroupCommitStore(app.sessions)
    envelope = Envelope(source="smtp", mail_from="bob@example.com", rcpt_to=(HELPDESK,))
    futures = [store.submit(make_mail(subject=f"Mail {i}"), envelope) for i in range(20)]
    store.start()
    results = [f.result(30) for f in futures]
    assert store.stop(10)
    assert store.stats.batches == 1
    assert store.stats.mails == 20
    assert len({r.inbound_id for r in results}) == 20
    assert all(r.created for r in results)


def test_one_bad_mail_does_not_fail_the_others_of_its_batch(app: App) -> None:
    store = GroupCommitStore(app.sessions)
    envelope = Envelope(source="smtp")
    good = [store.submit(make_mail(subject=f"Good {i}"), envelope) for i in range(3)]
    bad = store.submit("not bytes", envelope)  # type: ignore[arg-type]
    store.start()
    assert all(f.result(30).created for f in good)
    with pytest.raises(TypeError):
        bad.result(30)
    store.stop(10)
    assert len(rows(app)) == 3


def test_a_cancelled_mail_is_skipped_and_stop_stores_the_queue(app: App) -> None:
    store = GroupCommitStore(app.sessions)
    envelope = Envelope(source="smtp")
    dropped = store.submit(make_mail(subject="Client gave up"), envelope)
    kept = store.submit(make_mail(subject="Client waits"), envelope)
    assert dropped.cancel()
    store.start()
    assert store.stop(10)
    assert kept.result(0).created
    assert len(rows(app)) == 1
    with pytest.raises(StoreClosedError):
        store.submit(make_mail(), envelope)
