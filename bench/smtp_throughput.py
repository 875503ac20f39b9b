"""SMTP intake throughput: mails per second accepted with the durable commit, against a bare server.

Runs, in one process and one run, a bare aiosmtpd server that only keeps the bytes in memory and
Deskmail's SMTP intake (group-commit store, SQLite `synchronous=FULL`; optionally PostgreSQL),
each with 1 and 8 concurrent clients, and for comparison Deskmail with one commit per mail.
Clients are separate processes (a lean socket client, a connection per 20 mails; forked before
the server starts its threads), so they do not share the server's interpreter lock. Mails are
realistic: a few KB of text, about one in six with an attachment of 20-150 KB. Each
configuration runs `--repeat` times, alternating the servers; the table shows medians (the
machine is shared).

    .venv/bin/python -m bench.smtp_throughput [--mails 2000] [--repeat 3] \
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--json]

Prints a table (mails/s and the ratio to the bare server) and, with --json, a final JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import email.policy
import json
import multiprocessing
import queue
import random
import shutil
import socket
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP
from aiosmtpd.smtp import Envelope as SmtpEnvelope
from aiosmtpd.smtp import Session as SmtpSession
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text

from deskmail.app import App
from deskmail.db import make_engine, upgrade
from deskmail.settings import load_settings
from deskmail.smtp_service import MAX_BATCH_MAILS, LoopThread, SmtpService, listen_socket

HELPDESK = "help@example.org"
MAILS_PER_CONNECTION = 20
_TOPICS = [
    "VPN disconnects every hour",
    "Printer on floor 3 shows paper jam",
    "Cannot log in after password change",
    "Outlook keeps asking for my password",
    "New laptop for starter next Monday",
    "Teams camera not detected",
    "Access to the finance share",
    "MFA app on my new phone",
    "Excel crashes when opening macro file",
    "Wi-Fi in meeting room B is slow",
]
_WORD_TEXT = (
    "the laptop network printer account password screen error message restart update "
    "since yesterday morning again please help urgent meeting cannot open file share drive "
    "outlook teams vpn wifi office floor colleague manager ticket attached screenshot windows "
    "mac phone login locked expired keyboard mouse monitor docking station cable slow"
)
_WORDS = _WORD_TEXT.split()


def make_mails(count: int, seed: int = 1, tag: str = "") -> list[bytes]:
    """`count` distinct, realistic mails: a few KB of text, some with an attachment."""
    rng = random.Random(seed)
    run = tag or uuid.uuid4().hex[:8]
    mails: list[bytes] = []
    for i in range(count):
        message = EmailMessage()
        message["From"] = f"User {i % 500} <user{i % 500}@example.com>"
        message["To"] = HELPDESK
        message["Subject"] = f"{rng.choice(_TOPICS)} ({i})"
        message["Message-ID"] = f"<{run}.{i}@client.example.com>"
        message["Date"] = "Mon, 02 Mar 2026 09:15:00 +0100"
        paragraphs: list[str] = []
        size = rng.randint(600, 6000)
        while sum(len(p) for p in paragraphs) < size:
            words = [rng.choice(_WORDS) for _ in range(rng.randint(15, 60))]
            paragraphs.append(" ".join(words).capitalize() + ".")
        message.set_content("Hello,\n\n" + "\n\n".join(paragraphs) + "\n\nRegards\n")
        if rng.random() < 0.15:
            blob = rng.randbytes(rng.randint(20_000, 150_000))
            message.add_attachment(
                blob, maintype="application", subtype="pdf", filename=f"scan-{i}.pdf"
            )
        mails.append(message.as_bytes(policy=email.policy.SMTP))
    return mails


# Clients (separate processes) ------------------------------------------------------------


class _Wire:
    """A lean SMTP client: one line per reply read, bodies dot-stuffed in advance.

    smtplib spends more CPU per mail than the server does; on a 2-core machine eight smtplib
    processes would measure mostly themselves. This client sends the same bytes with little
    work, and checks every reply code.
    """

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.file = self.sock.makefile("rb")
        self.expect(b"220")
        self.command(b"EHLO bench.example.com", b"250")

    def expect(self, code: bytes) -> None:
        while True:
            line = self.file.readline()
            if not line.startswith(code):
                raise RuntimeError(f"expected {code!r}, got {line!r}")
            if line[3:4] != b"-":
                return

    def command(self, line: bytes, code: bytes) -> None:
        self.sock.sendall(line + b"\r\n")
        self.expect(code)

    def send(self, data: bytes) -> None:
        self.command(b"MAIL FROM:<sender@example.com>", b"250")
        self.command(f"RCPT TO:<{HELPDESK}>".encode(), b"250")
        self.command(b"DATA", b"354")
        self.sock.sendall(data)
        self.expect(b"250")

    def close(self) -> None:
        self.command(b"QUIT", b"221")
        self.file.close()
        self.sock.close()


def wire_data(raw: bytes) -> bytes:
    """The DATA payload of a mail: dot-stuffed, ended by CRLF.CRLF (RFC 5321 §4.5.2)."""
    stuffed = raw.replace(b"\r\n.", b"\r\n..")
    if stuffed.startswith(b"."):
        stuffed = b"." + stuffed
    if not stuffed.endswith(b"\r\n"):
        stuffed += b"\r\n"
    return stuffed + b".\r\n"


def _client(mails: Sequence[bytes], ports: Any, start: Any, done: Any) -> None:
    payloads = [wire_data(raw) for raw in mails]
    port = ports.get()
    start.wait()
    sent = 0
    for offset in range(0, len(payloads), MAILS_PER_CONNECTION):
        wire = _Wire(port)
        for data in payloads[offset : offset + MAILS_PER_CONNECTION]:
            wire.send(data)
            sent += 1
        wire.close()
    done.put(sent)


class Clients:
    """Client processes, forked before the server starts any thread; they wait for its port."""

    def __init__(self, mails: Sequence[bytes], count: int) -> None:
        context = multiprocessing.get_context("fork")
        self.mails = mails
        self.ports: Any = context.Queue()
        self.done: Any = context.Queue()
        self.start = context.Event()
        self.processes = [
            context.Process(
                target=_client, args=(mails[i::count], self.ports, self.start, self.done)
            )
            for i in range(count)
        ]
        for process in self.processes:
            process.start()

    def run(self, port: int) -> tuple[float, float]:
        """Send every mail at once from all clients: the seconds it took, and the CPU seconds
        this process (the server: clients are other processes) spent meanwhile."""
        for _ in self.processes:
            self.ports.put(port)
        time.sleep(0.3)
        began, cpu = time.perf_counter(), time.process_time()
        self.start.set()
        sent = sum(self._next_count() for _ in self.processes)
        elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
        for process in self.processes:
            process.join(10)
        assert sent == len(self.mails)
        return elapsed, cpu

    def _next_count(self) -> int:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                return int(self.done.get(timeout=0.5))
            except queue.Empty:
                failed = [p.exitcode for p in self.processes if p.exitcode not in (None, 0)]
                if failed:
                    raise RuntimeError(f"a client process failed (exit {failed[0]})") from None
        raise TimeoutError("the clients did not finish in 10 minutes")


# Servers ----------------------------------------------------------------------------------


class _MemoryHandler:
    def __init__(self) -> None:
        self.mails: list[bytes] = []

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: SmtpSession, envelope: SmtpEnvelope
    ) -> str:
        self.mails.append(envelope.original_content or b"")
        return "250 OK"


@contextmanager
def bare_server() -> Iterator[tuple[int, dict[str, float]]]:
    """A plain aiosmtpd server keeping the bytes in memory."""
    sock = listen_socket("127.0.0.1", 0)
    loop_thread = LoopThread("bare-smtp")
    loop_thread.start()
    handler = _MemoryHandler()

    async def serve() -> asyncio.Server:
        loop = asyncio.get_running_loop()
        return await loop.create_server(
            lambda: SMTP(handler, hostname="bare.test", loop=loop), sock=sock
        )

    server = loop_thread.call(serve(), 10)
    try:
        yield sock.getsockname()[1], {}
    finally:

        async def close() -> None:
            server.close()

        loop_thread.call(close(), 10)
        loop_thread.stop(10)


@contextmanager
def deskmail_server(
    url: str, folder: Path, max_batch: int
) -> Iterator[tuple[int, dict[str, float]]]:
    """Deskmail's SMTP intake with its durable group-commit store."""
    settings = load_settings(
        data_dir=folder,
        database_url=url,
        addresses=[HELPDESK],
        secret_key="bench-secret",
        smtp_listen="127.0.0.1:0",
    )
    app = App.open(settings)
    service = SmtpService(app, max_batch=max_batch)
    service.start()
    info: dict[str, float] = {}
    try:
        yield service.port, info
    finally:
        service.stop(30)
        stats = service.store.stats
        info["mean_batch"] = stats.mails / stats.batches if stats.batches else 0.0
        info["failures"] = stats.failures
        info["commit_ms"] = 1000 * stats.commit_seconds / stats.batches if stats.batches else 0.0
        app.close()


@dataclass(frozen=True)
class Sample:
    """One run of one server."""

    seconds: float
    server_cpu_ms: float  # the server process's CPU time per mail
    mean_batch: float = 0.0  # mails per commit
    commit_ms: float = 0.0  # mean time of a batch's transaction


@dataclass(frozen=True)
class Row:
    """One measured configuration (medians over the repetitions)."""

    server: str
    clients: int
    mails: int
    seconds: float
    per_second: float
    ratio: float  # median over repetitions of (this rate / the bare rate of the same round)
    mean_batch: float
    commit_ms: float
    server_cpu_ms: float


class Databases:
    """Fresh databases per run: SQLite copies of a migrated template, a truncated PostgreSQL."""

    def __init__(self, workdir: Path, postgres_admin: str | None) -> None:
        self.workdir = workdir
        self.template = workdir / "template.db"
        engine = make_engine(f"sqlite:///{self.template}")
        upgrade(engine)
        engine.dispose()
        self.runs = 0
        self.pg_url: str | None = None
        self.pg_admin = postgres_admin
        if postgres_admin:
            name = f"deskmail_bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(postgres_admin, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            self.pg_name = name
            self.pg_url = (
                make_engine(postgres_admin)
                .url.set(database=name)
                .render_as_string(hide_password=False)
            )
            engine = make_engine(self.pg_url)
            upgrade(engine)
            engine.dispose()

    def fresh(self, kind: str) -> tuple[str, Path]:
        self.runs += 1
        folder = self.workdir / f"run{self.runs}"
        folder.mkdir()
        if kind == "sqlite":
            shutil.copyfile(self.template, folder / "deskmail.db")
            return f"sqlite:///{folder / 'deskmail.db'}", folder
        assert self.pg_url is not None
        engine = create_engine(self.pg_url)
        with engine.begin() as connection:
            connection.execute(text("TRUNCATE inbound_message RESTART IDENTITY CASCADE"))
        engine.dispose()
        return self.pg_url, folder

    def close(self) -> None:
        if self.pg_admin and self.pg_url:
            admin = create_engine(self.pg_admin, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{self.pg_name}"'))
            admin.dispose()


def measure(kind: str, databases: Databases, mails: Sequence[bytes], clients: int) -> Sample:
    """One run of `kind`: "bare", "sqlite", "postgres", or "sqlite-single" (a commit per mail)."""
    senders = Clients(mails, clients)
    if kind == "bare":
        with bare_server() as (port, info):
            seconds, cpu = senders.run(port)
        return Sample(seconds, cpu * 1000 / len(mails))
    url, folder = databases.fresh(kind.removesuffix("-single"))
    max_batch = 1 if kind.endswith("-single") else MAX_BATCH_MAILS
    with deskmail_server(url, folder, max_batch) as (port, info):
        seconds, cpu = senders.run(port)
    assert not info.get("failures"), "the store reported failures"
    return Sample(seconds, cpu * 1000 / len(mails), info["mean_batch"], info["commit_ms"])


def run(
    mail_count: int, repeat: int, clients_list: Sequence[int], postgres: str | None
) -> list[Row]:
    """Measure every server with every client count; the bare server is the reference."""
    mails = make_mails(mail_count, seed=1)
    kinds = ["bare", "sqlite", "sqlite-single"] + (["postgres"] if postgres else [])
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="deskmail-bench-") as tmp:
        databases = Databases(Path(tmp), postgres)
        try:
            for clients in clients_list:
                count = mail_count if clients > 1 else max(mail_count // 2, 1)
                samples: dict[str, list[Sample]] = {k: [] for k in kinds}
                for _ in range(repeat):
                    for kind in kinds:  # alternate, so drift on the machine hits all alike
                        samples[kind].append(measure(kind, databases, mails[:count], clients))
                for kind in kinds:
                    runs = samples[kind]
                    cpu = statistics.median(s.server_cpu_ms for s in runs)
                    seconds = statistics.median(s.seconds for s in runs)
                    ratios = [
                        bare.seconds / own.seconds
                        for bare, own in zip(samples["bare"], runs, strict=True)
                    ]
                    rows.append(
                        Row(
                            server=kind,
                            clients=clients,
                            mails=count,
                            seconds=round(seconds, 2),
                            per_second=round(count / seconds, 1),
                            ratio=round(statistics.median(ratios), 3),
                            mean_batch=round(statistics.median(s.mean_batch for s in runs), 2),
                            commit_ms=round(statistics.median(s.commit_ms for s in runs), 2),
                            server_cpu_ms=round(cpu, 2),
                        )
                    )
        finally:
            databases.close()
    return rows


_LABELS = {
    "bare": "bare aiosmtpd (memory)",
    "sqlite": "deskmail, SQLite, group commit",
    "sqlite-single": "deskmail, SQLite, commit per mail",
    "postgres": "deskmail, PostgreSQL, group commit",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mails", type=int, default=2000, help="mails per run with 8 clients")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--clients", default="1,8")
    parser.add_argument("--postgres", default=None, help="admin URL of a PostgreSQL server")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    clients = [int(c) for c in args.clients.split(",")]
    rows = run(args.mails, args.repeat, clients, args.postgres)
    sizes = [len(m) for m in make_mails(min(args.mails, 500), seed=1)]
    table = Table(title="SMTP intake throughput (median of runs)")
    columns = (
        "server",
        "clients",
        "mails",
        "seconds",
        "mails/s",
        "ratio",
        "batch",
        "commit ms",
        "CPU ms",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "server" else "right")
    for row in rows:
        table.add_row(
            _LABELS[row.server],
            str(row.clients),
            str(row.mails),
            f"{row.seconds:.2f}",
            f"{row.per_second:.0f}",
            f"{row.ratio:.2f}",
            f"{row.mean_batch:.1f}" if row.server != "bare" else "",
            f"{row.commit_ms:.1f}" if row.server != "bare" else "",
            f"{row.server_cpu_ms:.2f}",
        )
    console = Console(width=120)
    console.print(table)
    console.print(
        "ratio: rate over the bare server's rate in the same round (median of rounds); batch: "
        "mails per commit; commit ms: time of one batch's transaction; CPU ms: the server "
        "process's CPU time per mail"
    )
    console.print(
        f"mail sizes: median {statistics.median(sizes) / 1024:.1f} KB, "
        f"mean {statistics.mean(sizes) / 1024:.1f} KB, "
        f"{sum(s > 20_000 for s in sizes) / len(sizes):.0%} with an attachment"
    )
    if args.json:
        print(json.dumps({"rows": [asdict(r) for r in rows]}))


if __name__ == "__main__":
    main()
