"""Acknowledgement latency: from the SMTP 250 of a requester's mail to its acknowledgement at the
relay, through the real embedded service; and the outbox's delivery rate against a bare sink.

The embedded service (`deskmail serve`'s services: SMTP intake, the pipeline worker with
classify, suggest and acknowledge, the outbox sender, the web UI; SQLite in a fresh data
folder, the starter knowledge base loaded unless `--no-starter-kb`) runs in a child process
with its relay pointed at an aiosmtpd sink in another child process, which notes when each
acknowledgement arrives and which mail it answers (its In-Reply-To). The client (this
process) notes when each mail got its 250. Two loads:

- *steady*: one mail per second (`--steady` mails, default 60), one connection each;
- *burst*: `--burst` mails (default 1,000) as fast as 8 client threads can send them.

Then the outbox alone (`bench.outbox_throughput`): acknowledgements per second the sender
delivers from the `outbound_message` table to a bare aiosmtpd sink, next to bare smtplib.

    .venv/bin/python -m bench.ack_latency [--steady 60] [--burst 1000] [--workers 1] \
        [--no-starter-kb] [--outbox-mails 500] [--json]

Prints a table (p50, p95, max in seconds; mails per second for the outbox) and, with --json,
a final JSON line. Latency includes the worker's and the sender's poll intervals (settings
`worker.poll_seconds`, `outbox.poll_seconds`), as a user of the defaults sees it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import queue
import shutil
import smtplib
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench import outbox_throughput
from bench.smtp_throughput import make_mails

HELPDESK = "help@example.org"
BURST_CLIENTS = 8
MAILS_PER_CONNECTION = 25
RETRY_SECONDS = 1.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# The sink (child process): notes the arrival time of every acknowledgement -------------------


def _sink_main(ready: Any, arrivals: Any, stop: Any) -> None:
    from aiosmtpd.smtp import SMTP  # noqa: PLC0415 - only in the child

    parser = BytesHeaderParser()

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd hook
            arrived = time.time()
            headers = parser.parsebytes(envelope.original_content or b"")
            subject = str(headers.get("Subject", ""))
            kind = "ack" if subject.startswith("Re: [#") else "other"
            arrivals.put((str(headers.get("In-Reply-To", "")).strip(), arrived, kind))
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


# The service (child process): `deskmail serve`'s embedded services -----------------------------


def _service_main(config: dict[str, Any], ready: Any, stop: Any) -> None:
    import logging  # noqa: PLC0415 - only in the child

    from deskmail.app import App  # noqa: PLC0415
    from deskmail.commands.serve import embedded_services  # noqa: PLC0415
    from deskmail.db import upgrade  # noqa: PLC0415
    from deskmail.serve import run_services  # noqa: PLC0415
    from deskmail.settings import load_settings  # noqa: PLC0415

    logging.basicConfig(level=logging.WARNING)
    folder = Path(config["folder"])
    settings = load_settings(
        data_dir=folder / "data",
        database_url=f"sqlite:///{folder / 'deskmail.db'}",
        addresses=[HELPDESK],
        secret_key="bench-secret",
        smtp_listen=f"127.0.0.1:{config['smtp_port']}",
        web_listen=f"127.0.0.1:{free_port()}",
        relay_url=f"smtp://127.0.0.1:{config['relay_port']}",
    )
    app = App.open(settings)
    upgrade(app.engine)
    services = embedded_services(app, config["workers"], starter_kb=config["starter_kb"])
    stopping = threading.Event()

    def watch() -> None:
        stop.wait()
        stopping.set()

    threading.Thread(target=watch, daemon=True).start()

    def announce(line: str) -> None:
        if line == "ready":
            ready.put("ready")

    run_services(services, stopping, announce=announce, stop_timeout=30)
    app.close()


@contextmanager
def processes(workers: int, starter_kb: bool) -> Iterator[tuple[int, Any]]:
    """The sink and the service; yields the service's SMTP port and the sink's arrival queue."""
    context = multiprocessing.get_context("spawn")
    folder = Path(tempfile.mkdtemp(prefix="deskmail-ack-bench-"))
    sink_ready, arrivals, sink_stop = context.Queue(), context.Queue(), context.Event()
    sink = context.Process(target=_sink_main, args=(sink_ready, arrivals, sink_stop), daemon=True)
    sink.start()
    relay_port = sink_ready.get(timeout=60)
    smtp_port = free_port()
    ready, stop = context.Queue(), context.Event()
    service = context.Process(
        target=_service_main,
        args=(
            {
                "folder": str(folder),
                "smtp_port": smtp_port,
                "relay_port": relay_port,
                "workers": workers,
                "starter_kb": starter_kb,
            },
            ready,
            stop,
        ),
        daemon=True,
    )
    service.start()
    try:
        ready.get(timeout=1800)  # the starter knowledge base is embedded on first start
        yield smtp_port, arrivals
    finally:
        stop.set()
        service.join(60)
        sink_stop.set()
        sink.join(10)
        for process in (service, sink):
            if process.is_alive():
                process.terminate()
        shutil.rmtree(folder, ignore_errors=True)


# The client (this process) ------------------------------------------------------------------


def message_id(raw: bytes) -> str:
    return str(BytesHeaderParser().parsebytes(raw).get("Message-ID", "")).strip()


def sender_of(raw: bytes) -> str:
    address = str(BytesHeaderParser().parsebytes(raw).get("From", ""))
    return address.rpartition("<")[2].rstrip(">").strip()


def phase_mails(count: int, phase: str, seed: int) -> list[bytes]:
    """Realistic mails whose senders are distinct per phase (the caps count per address)."""
    mails = make_mails(count, seed=seed, tag=f"{phase}-{uuid.uuid4().hex[:6]}")
    return [raw.replace(b"@example.com>", f"@{phase}.example.com>".encode(), 1) for raw in mails]


def send_batch(
    port: int, mails: Sequence[bytes], accepted: dict[str, float], retries: list[int]
) -> None:
    """Send mails over one connection per `MAILS_PER_CONNECTION`; note each 250's time.

    A 4xx is retried like a sending MTA would (sooner: after `RETRY_SECONDS`, on a new
    connection); the latency counts from the 250 that finally accepted the mail.
    """
    pending = list(mails)
    while pending:
        batch, pending = pending[:MAILS_PER_CONNECTION], pending[MAILS_PER_CONNECTION:]
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=120) as smtp:
                while batch:
                    raw = batch[0]
                    smtp.sendmail(sender_of(raw), [HELPDESK], raw)
                    accepted[message_id(raw)] = time.time()
                    batch.pop(0)
        except (smtplib.SMTPResponseException, smtplib.SMTPServerDisconnected) as exc:
            code = getattr(exc, "smtp_code", 421)
            if not 400 <= code < 500:
                raise
            retries.append(code)
            pending = batch + pending
            time.sleep(RETRY_SECONDS)


def collect(arrivals: Any, accepted: dict[str, float], timeout: float) -> dict[str, float]:
    """The acknowledgement arrival time of every accepted mail (those that came in time)."""
    found: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(found) < len(accepted) and time.monotonic() < deadline:
        try:
            in_reply_to, arrived, kind = arrivals.get(timeout=1.0)
        except queue.Empty:
            continue
        if kind == "ack" and in_reply_to in accepted:
            found.setdefault(in_reply_to, arrived)
    return found


def summary(
    accepted: dict[str, float], arrived: dict[str, float], seconds: float, retries: list[int]
) -> dict[str, Any]:
    latencies = sorted(arrived[key] - accepted[key] for key in arrived)
    if not latencies:
        return {"sent": len(accepted), "acknowledged": 0, "smtp_4xx_retries": len(retries)}
    cuts = (
        statistics.quantiles(latencies, n=100, method="inclusive")
        if len(latencies) > 1
        else latencies * 99
    )
    return {
        "sent": len(accepted),
        "acknowledged": len(latencies),
        "p50_s": round(statistics.median(latencies), 3),
        "p95_s": round(cuts[94], 3),
        "max_s": round(latencies[-1], 3),
        "send_seconds": round(seconds, 1),
        "smtp_4xx_retries": len(retries),
        "acks_per_s": round(
            len(latencies) / max(max(arrived.values()) - min(accepted.values()), 1e-9), 1
        ),
    }


def steady(port: int, arrivals: Any, count: int) -> dict[str, Any]:
    mails = phase_mails(count, "steady", seed=11)
    accepted: dict[str, float] = {}
    retries: list[int] = []
    started = time.monotonic()
    for i, raw in enumerate(mails):
        pause = started + i - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        send_batch(port, [raw], accepted, retries)
    sent = time.monotonic() - started
    return summary(accepted, collect(arrivals, accepted, timeout=600), sent, retries)


def burst(port: int, arrivals: Any, count: int) -> dict[str, Any]:
    mails = phase_mails(count, "burst", seed=12)
    accepted: dict[str, float] = {}
    retries: list[int] = []
    started = time.monotonic()
    threads = [
        threading.Thread(target=send_batch, args=(port, mails[i::BURST_CLIENTS], accepted, retries))
        for i in range(BURST_CLIENTS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent = time.monotonic() - started
    return summary(accepted, collect(arrivals, accepted, timeout=3600), sent, retries)


def run(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"workers": args.workers, "starter_kb": args.starter_kb}
    with processes(args.workers, args.starter_kb) as (port, arrivals):
        # One warm-up mail: the first ticket loads the model; a user's first mail pays that
        # once per process, the figures below are for a running service.
        warm = phase_mails(1, "warmup", seed=10)
        warm_accepted: dict[str, float] = {}
        warm_retries: list[int] = []
        send_batch(port, warm, warm_accepted, warm_retries)
        result["warmup"] = summary(
            warm_accepted, collect(arrivals, warm_accepted, 600), 0.0, warm_retries
        )
        result["steady"] = steady(port, arrivals, args.steady)
        print(f"steady: {json.dumps(result['steady'])}", file=sys.stderr, flush=True)
        result["burst"] = burst(port, arrivals, args.burst)
        print(f"burst: {json.dumps(result['burst'])}", file=sys.stderr, flush=True)
    result["outbox"] = outbox_throughput.run(args.outbox_mails, repeat=1, senders=1, postgres=None)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steady", type=int, default=60, help="mails at one per second")
    parser.add_argument("--burst", type=int, default=1000, help="mails sent at once")
    parser.add_argument("--workers", type=int, default=1, help="pipeline worker threads")
    parser.add_argument("--starter-kb", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--outbox-mails", type=int, default=500)
    parser.add_argument("--json", action="store_true", help="also print a final JSON line")
    args = parser.parse_args()
    result = run(args)
    table = Table(title="Acknowledgement latency, SMTP 250 -> acknowledgement at the relay")
    for column in ("load", "sent", "acked", "p50 s", "p95 s", "max s", "acks/s", "451s"):
        table.add_column(column, justify="right" if column != "load" else "left")
    for name, label in (("steady", "1 mail/s"), ("burst", f"burst of {args.burst}")):
        row = result[name]
        table.add_row(
            label,
            str(row["sent"]),
            str(row["acknowledged"]),
            f"{row.get('p50_s', float('nan')):.2f}",
            f"{row.get('p95_s', float('nan')):.2f}",
            f"{row.get('max_s', float('nan')):.2f}",
            f"{row.get('acks_per_s', 0):.1f}",
            str(row.get("smtp_4xx_retries", 0)),
        )
    Console().print(table)
    outbox = result["outbox"]
    print(
        f"outbox sender: {outbox['outbox_sender_per_s']:.0f} acknowledgements/s delivered to a "
        f"bare aiosmtpd sink (bare smtplib {outbox['bare_smtplib_per_s']:.0f}/s, ratio "
        f"{outbox['ratio']:.2f}; {outbox['mails']} mails, {outbox['database']})"
    )
    print(
        f"workers {args.workers}, starter knowledge base {'on' if args.starter_kb else 'off'}; "
        f"first mail (model loading) {result['warmup'].get('p50_s', float('nan')):.2f} s"
    )
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
