"""Crash test of SMTP intake: mail streams into `deskmail smtp`, which is SIGKILLed and restarted.

Clients (threads, smtplib) send every mail until it gets a 250, retrying whatever got none (a
refused connection, a dropped one, a 4xx). Meanwhile the server process is killed `--kills`
times at random moments (spread over the stream, each a few milliseconds after a random point,
so kills land in every phase of the protocol and of the commit) and started again on the same
port. Then the database is checked: every mail that got a 250 is stored (none lost), every mail
got one eventually, each distinct mail is stored once; after the pipeline worker ran, there is
exactly one ticket per mail.

    .venv/bin/python -m bench.crash_test [--mails 5000] [--kills 10] [--clients 8] \
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--no-worker] [--json]

tests/deskmail/test_serve_crash.py runs a small stream (300 mails, 3 kills) as a slow test.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import random
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, func, select, text

from bench.smtp_throughput import HELPDESK, make_mails
from deskmail.app import App
from deskmail.classifier_settings import ClassifierSettings
from deskmail.db import make_engine, upgrade
from deskmail.settings import load_settings
from intake.store import raw_digest
from models import InboundMessage, InboundStatus, Ticket

DESKMAIL = Path(sys.executable).with_name("deskmail")
SECRET = "crash-test-secret"


class DeskmailProcess:
    """A `deskmail ...` subprocess whose stdout lines are collected as they come."""

    def __init__(self, args: Sequence[str], env: dict[str, str], log: IO[str]) -> None:
        self.args = list(args)
        self.env = env
        self.log = log
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self.process: subprocess.Popen[str] | None = None

    def start(self, wait_for: str = "ready", timeout: float = 60.0) -> None:
        """Start and wait for the line starting with `wait_for` (or fail if the process ends)."""
        self.process = subprocess.Popen(
            [str(DESKMAIL), *self.args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        threading.Thread(target=self._read, args=(self.process,), daemon=True).start()
        try:
            self.wait_for_line(wait_for, timeout)
        except BaseException:
            # Never leave a half-started service behind (it would hold its port and CPU).
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(30)
            raise

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for_line(self, prefix: str, timeout: float) -> str:
        """The first stdout line starting with `prefix`, waiting for it if needed."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines:
                    if line.startswith(prefix):
                        return line
                if self.process is not None and self.process.poll() is not None:
                    raise RuntimeError(f"deskmail {' '.join(self.args)} exited: {self.lines}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no line {prefix!r} from deskmail: {self.lines}")
                self._changed.wait(min(remaining, 0.2))

    @property
    def smtp_port(self) -> int:
        """The port from the "smtp: SMTP intake listening on host:port" line."""
        line = self.wait_for_line("smtp:", 1)
        return int(line.rsplit(":", 1)[1])

    def kill(self) -> None:
        """SIGKILL, as a crash or power loss would end it."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(30)

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM and wait for the exit status."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)


def subprocess_env(database_url: str | None, listen: str) -> dict[str, str]:
    """The environment of a deskmail subprocess (no database URL: the embedded default)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESKMAIL_")}
    if database_url:
        env["DESKMAIL_DATABASE_URL"] = database_url
    env.update(
        DESKMAIL_ADDRESSES=HELPDESK,
        DESKMAIL_SECRET_KEY=SECRET,
        DESKMAIL_SMTP_LISTEN=listen,
        PYTHONUNBUFFERED="1",
    )
    return env


def free_port() -> int:
    """A port that is free now (the restarts reuse it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class CrashConfig:
    """One crash test run."""

    mails: int = 5000
    kills: int = 10
    clients: int = 8
    seed: int = 1
    postgres_admin_url: str | None = None
    run_worker: bool = True


@dataclass
class CrashResult:
    """What the run found (every count but the first four must be 0, tickets = mails)."""

    mails: int
    kills: int
    attempts: int = 0
    retries: int = 0
    acknowledged: int = 0
    stored: int = 0
    lost: int = 0
    never_acknowledged: int = 0
    duplicates: int = 0
    foreign_rows: int = 0
    refused_5xx: int = 0
    resends_deduplicated: int = 0  # resends of a mail already committed (its 250 was lost)
    integrity: str = ""
    last_exit_status: int | None = None
    tickets: int | None = None
    processed: int | None = None
    not_processed: int | None = None
    stream_seconds: float = 0.0
    worker_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """No mail lost, none stored twice, every one acknowledged (and one ticket each)."""
        tickets_ok = self.tickets is None or (
            self.tickets == self.mails and self.not_processed == 0
        )
        return (
            self.lost == 0
            and self.never_acknowledged == 0
            and self.duplicates == 0
            and self.foreign_rows == 0
            and self.refused_5xx == 0
            and self.stored == self.mails
            and self.integrity in ("ok", "n/a")
            and tickets_ok
        )


class _Stream:
    """The shared state of the client threads."""

    def __init__(self, mails: Sequence[bytes]) -> None:
        self.mails = mails
        self.todo: queue.SimpleQueue[int] = queue.SimpleQueue()
        for index in range(len(mails)):
            self.todo.put(index)
        self.acked: set[int] = set()
        self.refused: set[int] = set()
        self.attempts = 0
        self.retries = 0
        self.lock = threading.Lock()

    def sender(self, index: int) -> str:
        return f"user{index % 500}@example.com"

    def client(self, port: int, seed: int) -> None:
        rng = random.Random(seed)
        smtp: smtplib.SMTP | None = None
        while True:
            try:
                index = self.todo.get_nowait()
            except queue.Empty:
                break
            while True:
                with self.lock:
                    self.attempts += 1
                try:
                    if smtp is None:
                        smtp = smtplib.SMTP("127.0.0.1", port, timeout=30)
                        smtp.ehlo()
                    smtp.sendmail(self.sender(index), [HELPDESK], self.mails[index])
                except smtplib.SMTPResponseException as exc:
                    _drop(smtp)
                    smtp = None
                    if 500 <= exc.smtp_code < 600:  # a refusal would be a bug: never retried
                        with self.lock:
                            self.refused.add(index)
                        break
                except (smtplib.SMTPException, OSError):
                    _drop(smtp)
                    smtp = None
                else:
                    with self.lock:
                        self.acked.add(index)
                    break
                with self.lock:
                    self.retries += 1
                time.sleep(0.02 + rng.random() * 0.05)
        _drop(smtp)

    @property
    def done(self) -> int:
        with self.lock:
            return len(self.acked) + len(self.refused)


def _drop(smtp: smtplib.SMTP | None) -> None:
    if smtp is not None:
        with contextlib.suppress(OSError):
            smtp.close()


def _fresh_database(workdir: Path, config: CrashConfig) -> tuple[str, str | None]:
    if config.postgres_admin_url is None:
        url = f"sqlite:///{workdir / 'data' / 'deskmail.db'}"
        name = None
    else:
        name = f"deskmail_crash_{uuid.uuid4().hex[:8]}"
        admin = create_engine(config.postgres_admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = admin.url.set(database=name).render_as_string(hide_password=False)
        admin.dispose()
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url, name


def _drop_database(config: CrashConfig, name: str | None) -> None:
    if config.postgres_admin_url is None or name is None:
        return
    admin = create_engine(config.postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": name},
        )
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def run_crash_test(config: CrashConfig, workdir: Path) -> CrashResult:
    """Run the stream with kills against `deskmail smtp`, then check the database."""
    rng = random.Random(config.seed)
    mails = make_mails(config.mails, seed=config.seed, tag=f"crash{config.seed}")
    (workdir / "data").mkdir(parents=True, exist_ok=True)
    url, pg_name = _fresh_database(workdir, config)
    port = free_port()
    env = subprocess_env(url, f"127.0.0.1:{port}")
    result = CrashResult(mails=config.mails, kills=0)
    try:
        with open(workdir / "deskmail-smtp.log", "w") as log:
            server = DeskmailProcess(["--data", str(workdir / "data"), "smtp"], env, log)
            server.start()
            stream = _Stream(mails)
            low, high = int(config.mails * 0.05), max(int(config.mails * 0.95), 1)
            points = sorted(rng.sample(range(low, high), min(config.kills, high - low)))
            began = time.monotonic()
            clients = [
                threading.Thread(target=stream.client, args=(port, config.seed * 100 + i))
                for i in range(config.clients)
            ]
            for thread in clients:
                thread.start()
            for point in points:
                while stream.done < point and any(t.is_alive() for t in clients):
                    time.sleep(0.001)
                time.sleep(rng.random() * 0.03)
                server.kill()
                result.kills += 1
                server = DeskmailProcess(["--data", str(workdir / "data"), "smtp"], env, log)
                server.start()
            for thread in clients:
                thread.join()
            result.stream_seconds = round(time.monotonic() - began, 1)
            result.last_exit_status = server.terminate()
        result.attempts = stream.attempts
        result.retries = stream.retries
        result.acknowledged = len(stream.acked)
        result.refused_5xx = len(stream.refused)
        # The server logs each resend of bytes it had committed already (intake/smtp_server.py).
        log_text = (workdir / "deskmail-smtp.log").read_text(errors="replace")
        result.resends_deduplicated = log_text.count("same bytes as before")
        _check_rows(url, mails, stream.acked, result)
        if config.run_worker:
            _run_worker(workdir, url, result)
    finally:
        _drop_database(config, pg_name)
    return result


def _check_rows(url: str, mails: Sequence[bytes], acked: set[int], result: CrashResult) -> None:
    engine = make_engine(url)
    with engine.connect() as connection:
        digests = list(connection.execute(select(InboundMessage.raw_sha256)).scalars())
        if engine.dialect.name == "sqlite":
            result.integrity = str(connection.exec_driver_sql("PRAGMA integrity_check").scalar())
        else:
            result.integrity = "n/a"
    engine.dispose()
    stored = set(digests)
    ours = {raw_digest(raw): index for index, raw in enumerate(mails)}
    result.stored = len(digests)
    result.duplicates = len(digests) - len(stored)
    result.foreign_rows = len(stored - ours.keys())
    result.lost = sum(1 for index in acked if raw_digest(mails[index]) not in stored)
    result.never_acknowledged = len(mails) - len(acked)


def _run_worker(workdir: Path, url: str, result: CrashResult) -> None:
    from deskmail.wiring import build_worker  # noqa: PLC0415 - loads the pipeline's stages

    # Tickets are what is counted here: classification (the sentence model) is left out, it
    # would only make the check slower and is measured by the classifier's own benches.
    settings = load_settings(
        data_dir=workdir / "data",
        database_url=url,
        addresses=[HELPDESK],
        secret_key=SECRET,
        classifier=ClassifierSettings(enabled=False),
    )
    app = App.open(settings)
    try:
        worker = build_worker(app)
        began = time.monotonic()
        while worker.run_once():
            pass
        result.worker_seconds = round(time.monotonic() - began, 1)
        with app.read_sessions() as session:
            result.tickets = int(session.scalar(select(func.count()).select_from(Ticket)) or 0)
            result.processed = int(
                session.scalar(
                    select(func.count())
                    .select_from(InboundMessage)
                    .where(InboundMessage.status == InboundStatus.PROCESSED)
                )
                or 0
            )
        result.not_processed = result.stored - result.processed
    finally:
        app.close()


def print_result(result: CrashResult, config: CrashConfig, console: Console) -> None:
    """The table of the run."""
    engine = "PostgreSQL" if config.postgres_admin_url else "SQLite (WAL, synchronous=FULL)"
    table = Table(title=f"SMTP intake crash test: deskmail smtp on {engine}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("expected", justify="right")
    rows = [
        ("mails in the stream", result.mails, ""),
        ("concurrent clients", config.clients, ""),
        ("SIGKILLs (each followed by a restart)", result.kills, config.kills),
        ("SMTP attempts", result.attempts, ""),
        ("retries (no 250: refused, dropped, 4xx)", result.retries, ""),
        ("resends of mails stored before a kill (deduped)", result.resends_deduplicated, ""),
        ("mails acknowledged with 250", result.acknowledged, result.mails),
        ("mails never acknowledged", result.never_acknowledged, 0),
        ("refused with 5xx", result.refused_5xx, 0),
        ("rows stored", result.stored, result.mails),
        ("acknowledged but lost", result.lost, 0),
        ("stored twice", result.duplicates, 0),
        ("rows that are no mail of the stream", result.foreign_rows, 0),
        ("SQLite integrity_check", result.integrity, "ok"),
        ("exit status after the final SIGTERM", result.last_exit_status, 0),
        ("stream seconds (kills and restarts included)", result.stream_seconds, ""),
    ]
    if result.tickets is not None:
        rows += [
            ("tickets after the worker ran", result.tickets, result.mails),
            ("mails not processed", result.not_processed, 0),
            ("worker seconds", result.worker_seconds, ""),
        ]
    for name, value, expected in rows:
        table.add_row(name, str(value), str(expected))
    console.print(table)
    console.print("[bold green]PASS[/]" if result.ok else "[bold red]FAIL[/]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mails", type=int, default=5000)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--postgres", default=None, help="admin URL of a PostgreSQL server")
    parser.add_argument("--no-worker", action="store_true", help="skip the ticket count")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    config = CrashConfig(
        mails=args.mails,
        kills=args.kills,
        clients=args.clients,
        seed=args.seed,
        postgres_admin_url=args.postgres,
        run_worker=not args.no_worker,
    )
    with tempfile.TemporaryDirectory(prefix="deskmail-crash-") as tmp:
        result = run_crash_test(config, Path(tmp))
    print_result(result, config, Console())
    if args.json:
        print(json.dumps({**asdict(result), "ok": result.ok}))
    if not result.ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
