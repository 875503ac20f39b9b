"""The long-running commands as real processes: `deskmail serve`, `smtp` and `worker`.

Each test starts `deskmail` as a subprocess, talks SMTP to it on loopback and stops it with
SIGTERM, as an init system would.
"""

from __future__ import annotations

import email.policy
import signal
import smtplib
import socket
import subprocess
import time
import uuid
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from bench.crash_test import DESKMAIL, DeskmailProcess, free_port, subprocess_env
from deskmail.app import App
from intake.store import Envelope, store_raw
from models import InboundMessage, InboundStatus, Ticket
from tests.conftest import HELPDESK
from tests.servers.smtp import SmtpDialog


def make_mail(subject: str = "Monitor flickers since the update") -> bytes:
    message = EmailMessage()
    message["From"] = "carol@example.com"
    message["To"] = HELPDESK
    message["Subject"] = subject
    message["Message-ID"] = f"<{uuid.uuid4().hex}@example.com>"
    message.set_content("The second monitor flickers every few seconds.\n")
    return message.as_bytes(policy=email.policy.SMTP)


def count(url: str, statement: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(statement)).scalar() or 0)
    finally:
        engine.dispose()


def wait_until(predicate: object, timeout: float = 60.0) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail("condition not reached in time")
        time.sleep(0.1)


def test_serve_runs_everything_on_a_fresh_data_folder(tmp_path: Path) -> None:
    data = tmp_path / "fresh"
    env = subprocess_env(None, "127.0.0.1:0")
    env["DESKMAIL_WORKER__POLL_SECONDS"] = "0.1"
    with open(tmp_path / "serve.log", "w") as log:
        process = DeskmailProcess(["serve", "--data", str(data)], env, log)
        process.start(timeout=300)  # a first start embeds the starter knowledge base
        try:
            assert any(line.startswith("worker: ") for line in process.lines)
            with smtplib.SMTP("127.0.0.1", process.smtp_port, timeout=30) as smtp:
                smtp.sendmail("carol@example.com", [HELPDESK], make_mail())
            url = f"sqlite:///{data / 'deskmail.db'}"
            wait_until(lambda: count(url, "SELECT count(*) FROM ticket") == 1)
        finally:
            status = process.terminate()
    assert status == 0
    assert process.lines[-1] == "stopped"


def test_sigterm_lets_the_mail_in_flight_finish_and_refuses_new_connections(
    db_url: str, tmp_path: Path
) -> None:
    env = subprocess_env(db_url, "127.0.0.1:0")
    with open(tmp_path / "smtp.log", "w") as log:
        process = DeskmailProcess(["smtp", "--data", str(tmp_path / "data")], env, log)
        process.start()
        port = process.smtp_port
        busy = SmtpDialog("127.0.0.1", port)
        busy.cmd("EHLO sender.test")
        busy.cmd("MAIL FROM:<carol@example.com>")
        busy.cmd(f"RCPT TO:<{HELPDESK}>")
        assert busy.cmd("DATA")[0] == 354
        raw = make_mail()
        half = len(raw) // 2
        busy.send(raw[:half])

        assert process.process is not None
        process.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        refused = False
        while not refused and time.monotonic() < deadline:
            try:
                late = SmtpDialog("127.0.0.1", port, timeout=5)
            except ConnectionRefusedError:
                refused = True
                break
            code, _ = late.greeting
            late.close()
            refused = code == 421
            time.sleep(0.05)
        assert refused, "new connections were still accepted after SIGTERM"

        busy.send(raw[half:] + b".\r\n")
        code, reply = busy.reply()
        assert code == 250, reply
        status = process.process.wait(30)
    assert status == 0
    engine = create_engine(db_url)
    with engine.connect() as connection:
        stored = connection.execute(select(InboundMessage.raw)).scalars().all()
    engine.dispose()
    assert [bytes(r) for r in stored] == [raw]


def test_smtp_refuses_a_database_without_the_schema(tmp_path: Path) -> None:
    env = subprocess_env(None, "127.0.0.1:0")
    finished = subprocess.run(
        [str(DESKMAIL), "--data", str(tmp_path / "empty"), "smtp"],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 2
    assert "deskmail db upgrade" in finished.stderr


def test_smtp_reports_a_port_in_use(sqlite_url: str, tmp_path: Path) -> None:
    port = free_port()
    with socket.create_server(("127.0.0.1", port)):  # someone else holds the port
        env = subprocess_env(sqlite_url, f"127.0.0.1:{port}")
        finished = subprocess.run(
            [str(DESKMAIL), "--data", str(tmp_path / "data"), "smtp"],
            env=env,
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert finished.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in finished.stderr


def test_worker_processes_stored_mail_until_sigterm(app: App, tmp_path: Path) -> None:
    with app.sessions() as session, session.begin():
        for i in range(3):
            raw = make_mail(f"Keyboard {i} is missing keys")
            store_raw(session, raw, Envelope("smtp", "carol@example.com", (HELPDESK,)))
    env = subprocess_env(app.settings.resolved_database_url, "127.0.0.1:0")
    env["DESKMAIL_WORKER__POLL_SECONDS"] = "0.1"
    with open(tmp_path / "worker.log", "w") as log:
        process = DeskmailProcess(
            ["worker", "--threads", "2", "--data", str(tmp_path / "data")], env, log
        )
        process.start(timeout=120)
        try:

            def done() -> bool:
                with app.read_sessions() as session:
                    return (
                        session.scalar(
                            select(func.count())
                            .select_from(InboundMessage)
                            .where(InboundMessage.status == InboundStatus.PROCESSED)
                        )
                        == 3
                    )

            wait_until(done)
        finally:
            status = process.terminate()
    assert status == 0
    with app.read_sessions() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 3
