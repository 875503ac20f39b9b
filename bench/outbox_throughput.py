"""Outbox throughput: acknowledgements per second the sender delivers, against bare smtplib.

In one run, against one aiosmtpd sink (a separate process that counts what it accepts):

- *bare smtplib*: one connection, `sendmail` for each pre-rendered acknowledgement, nothing
  else — the ceiling for one sending thread on this machine;
- *outbox sender*: `responder.sender.OutboxSender` delivering the same messages from the
  `outbound_message` table: claim, load, send, and one commit per mail right after the 250
  (SQLite with `synchronous=FULL`, or PostgreSQL with `--postgres`);

and, for information, how fast `enqueue` renders and queues acknowledgements. Each
measurement runs `--repeat` times (the rows are put back to `queued` in between); the table
shows medians and the ratio of the sender to the bare client.

    .venv/bin/python -m bench.outbox_throughput [--mails 500] [--repeat 3] [--senders 1] \
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import shutil
import smtplib
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, func, select, text, update

from deskmail.app import App
from deskmail.db import make_engine, upgrade
from deskmail.sender_service import build_outbox
from deskmail.settings import load_settings
from models import OutboundMessage, OutboundStatus, ParticipantRole, Person, Ticket
from models import TicketParticipant as Participant
from responder.compose import Recipient
from responder.mails import AcknowledgementMail, PersonInfo, SuggestedSolution, TicketInfo
from responder.outbox import enqueue
from responder.relay import parse_relay_url
from responder.sender import OutboxConfig, OutboxSender
from responder.transport import SmtpTransport

HELPDESK = "help@example.org"
_SUBJECTS = [
    "VPN disconnects every hour",
    "Printer on floor 3 shows paper jam",
    "Cannot log in after password change",
    "Outlook keeps asking for my password",
    "Teams camera not detected",
]


# The sink: a separate process, so its event loop does not compete for our interpreter lock.


def _sink_main(ready: Any, count: Any, stop: Any) -> None:
    from aiosmtpd.smtp import SMTP  # noqa: PLC0415 - only in the child

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd hook
            with count.get_lock():
                count.value += 1
            return "250 2.0.0 Ok: queued"

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: SMTP(Handler(), hostname="sink.bench"), host="127.0.0.1", port=0
        )
        ready.put(server.sockets[0].getsockname()[1])
        while not stop.is_set():
            await asyncio.sleep(0.05)
        server.close()

    asyncio.run(serve())


@contextmanager
def sink() -> Iterator[tuple[int, Any]]:
    context = multiprocessing.get_context("spawn")
    ready, count, stop = context.Queue(), context.Value("l", 0), context.Event()
    process = context.Process(target=_sink_main, args=(ready, count, stop), daemon=True)
    process.start()
    try:
        yield ready.get(timeout=30), count
    finally:
        stop.set()
        process.join(10)
        if process.is_alive():
            process.terminate()


def wait_count(count: Any, target: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while count.value < target:
        if time.monotonic() > deadline:
            raise RuntimeError(f"sink got {count.value} mails, expected {target}")
        time.sleep(0.01)


# Databases ---------------------------------------------------------------------------------


@contextmanager
def database(postgres_admin: str | None, folder: Path) -> Iterator[str]:
    if postgres_admin is None:
        url = f"sqlite:///{folder / 'deskmail.db'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        return
    name = f"deskmail_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres_admin, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# The work ----------------------------------------------------------------------------------


def acknowledgement(ticket: Ticket, index: int) -> AcknowledgementMail:
    return AcknowledgementMail(
        ticket=TicketInfo(ticket.id, ticket.subject, "Network › VPN", "P3", "new"),
        requester=PersonInfo(f"user{index % 200}@example.com", f"User {index % 200}"),
        response_time="4 business hours",
        response_due=datetime.now(UTC) + timedelta(hours=4),
        suggestions=(
            SuggestedSolution(
                "VPN does not connect",
                "Check that you are online, then restart the VPN client and sign in again.",
                0.82,
                "https://help.example.org/kb/vpn-does-not-connect",
            ),
            SuggestedSolution(
                "VPN certificate error",
                "An expired certificate is renewed by signing in to the company portal.",
                0.61,
                "https://help.example.org/kb/vpn-certificate-error",
            ),
        ),
        suggestion_threshold=0.5,
        status_url=f"https://help.example.org/status/t{ticket.id}-bench",
    )


def enqueue_all(app: App, mails: int) -> float:
    """Create `mails` tickets and queue their acknowledgements; returns mails per second."""
    outbox = build_outbox(app.settings)
    started = time.perf_counter()
    done = 0
    while done < mails:
        with app.sessions() as session, session.begin():
            for index in range(done, min(done + 100, mails)):
                email = f"user{index % 200}@example.com"
                person = session.execute(
                    select(Person).where(Person.email == email)
                ).scalar_one_or_none()
                if person is None:
                    person = Person(email=email, name=f"User {index % 200}")
                    session.add(person)
                    session.flush()
                ticket = Ticket(subject=_SUBJECTS[index % len(_SUBJECTS)], requester_id=person.id)
                session.add(ticket)
                session.flush()
                session.add(
                    Participant(
                        ticket_id=ticket.id, person_id=person.id, role=ParticipantRole.REQUESTER
                    )
                )
                enqueue(
                    session,
                    outbox,
                    acknowledgement(ticket, index),
                    to=Recipient(email, f"User {index % 200}"),
                    reply_token=f"t{ticket.id}-benchbenchbenchbenchbenchbe",
                    reply_to=f"help+t{ticket.id}-benchbenchbenchbenchbenchbe@example.org",
                )
            done = min(done + 100, mails)
    return mails / (time.perf_counter() - started)


def bare_smtplib(port: int, messages: list[tuple[str, list[str], bytes]], count: Any) -> float:
    start_count = count.value
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        for mail_from, rcpt_to, raw in messages:
            client.sendmail(mail_from, rcpt_to, raw)
    wait_count(count, start_count + len(messages))
    return len(messages) / (time.perf_counter() - started)


def outbox_sender(app: App, port: int, mails: int, senders: int, count: Any) -> float:
    with app.sessions() as session, session.begin():
        session.execute(
            update(OutboundMessage).values(
                status=OutboundStatus.QUEUED, delivered_to=[], sent_at=None, attempts=0
            )
        )
    start_count = count.value
    relay = parse_relay_url(f"smtp://127.0.0.1:{port}")
    config = OutboxConfig(batch_size=50, jitter=0.0)
    workers = [
        OutboxSender(app.sessions, SmtpTransport(relay), config, name=f"bench-{i}")
        for i in range(senders)
    ]

    def drain(sender: OutboxSender) -> None:
        while sender.run_once():
            pass
        sender.transport.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wait_count(count, start_count + mails)
    elapsed = time.perf_counter() - started
    with app.sessions() as session:
        sent = session.execute(
            select(func.count())
            .select_from(OutboundMessage)
            .where(OutboundMessage.status == OutboundStatus.SENT)
        ).scalar_one()
    if sent != mails or count.value != start_count + mails:
        raise RuntimeError(f"sent {sent} rows, sink got {count.value - start_count}, of {mails}")
    return mails / elapsed


def run(mails: int, repeat: int, senders: int, postgres: str | None) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="deskmail-outbox-bench-"))
    try:
        with sink() as (port, count), database(postgres, folder) as url:
            settings = load_settings(
                data_dir=folder / "data",
                database_url=url,
                addresses=[HELPDESK],
                secret_key="bench-secret",
                relay_url=f"smtp://127.0.0.1:{port}",
            )
            app = App.open(settings)
            try:
                enqueue_rate = enqueue_all(app, mails)
                with app.sessions() as session:
                    rows = session.execute(
                        select(
                            OutboundMessage.mail_from, OutboundMessage.rcpt_to, OutboundMessage.raw
                        ).order_by(OutboundMessage.id)
                    ).all()
                messages = [(r[0], list(r[1]), r[2]) for r in rows]
                bare: list[float] = []
                sender: list[float] = []
                for _ in range(repeat):  # alternating, so a noisy neighbour hurts both alike
                    bare.append(bare_smtplib(port, messages, count))
                    sender.append(outbox_sender(app, port, mails, senders, count))
            finally:
                app.close()
        return {
            "database": "postgresql" if postgres else "sqlite",
            "mails": mails,
            "repeat": repeat,
            "senders": senders,
            "mean_bytes": int(statistics.mean(len(m[2]) for m in messages)),
            "enqueue_per_s": round(enqueue_rate, 1),
            "bare_smtplib_per_s": round(statistics.median(bare), 1),
            "outbox_sender_per_s": round(statistics.median(sender), 1),
            "ratio": round(statistics.median(sender) / statistics.median(bare), 3),
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mails", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--senders", type=int, default=1, help="sender threads (connections)")
    parser.add_argument("--postgres", default=None, help="admin URL of a PostgreSQL server")
    parser.add_argument("--json", action="store_true", help="also print a final JSON line")
    args = parser.parse_args()
    result = run(args.mails, args.repeat, args.senders, args.postgres)
    table = Table(title=f"Outbox throughput ({result['database']}, {result['mails']} mails)")
    for column in ("mode", "mails/s", "vs bare"):
        table.add_column(column, justify="right" if column != "mode" else "left")
    table.add_row("bare smtplib, 1 connection", f"{result['bare_smtplib_per_s']:.0f}", "1.00")
    table.add_row(
        f"outbox sender, {result['senders']} thread(s)",
        f"{result['outbox_sender_per_s']:.0f}",
        f"{result['ratio']:.2f}",
    )
    table.add_row("enqueue (render+compose+rows)", f"{result['enqueue_per_s']:.0f}", "")
    Console().print(table)
    print(f"mean message size {result['mean_bytes']} bytes; medians of {result['repeat']} runs")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
