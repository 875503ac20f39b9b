"""A real SMTP sink for tests: an aiosmtpd server on a free loopback port that keeps every mail.

Tests of outgoing mail use it as the relay (`sink.url`); `fail_next` makes it answer the next
MAIL, RCPT or DATA with a given reply (a 4xx to test retries, a 5xx to test failures), and
`data_delay_seconds` makes it slow to answer DATA (timeouts). Use the `smtp_sink` fixture, or
`running_sink()` as a context manager outside pytest. `SmtpDialog` is a raw SMTP client for
protocol tests that need to see every reply line (smtplib hides some).
"""

from __future__ import annotations

import asyncio
import email
import email.message
import email.policy
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import pytest
from aiosmtpd.smtp import SMTP
from aiosmtpd.smtp import Envelope as SmtpEnvelope
from aiosmtpd.smtp import Session as SmtpSession

from deskmail.smtp_service import LoopThread, listen_socket

Stage = Literal["MAIL", "RCPT", "DATA"]


@dataclass(frozen=True)
class ReceivedMail:
    """One mail the sink accepted."""

    mail_from: str
    rcpt_to: tuple[str, ...]
    data: bytes

    def message(self) -> email.message.EmailMessage:
        """The mail parsed with the standard library (for assertions)."""
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        return parsed


class _SinkHandler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_MAIL(
        self,
        server: SMTP,
        session: SmtpSession,
        envelope: SmtpEnvelope,
        address: str,
        options: list[str],
    ) -> str:
        failure = self.sink.take_failure("MAIL")
        if failure:
            return failure
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: SmtpSession,
        envelope: SmtpEnvelope,
        address: str,
        options: list[str],
    ) -> str:
        failure = self.sink.take_failure("RCPT")
        if failure:
            return failure
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: SmtpEnvelope) -> str:
        if self.sink.data_delay_seconds:
            await asyncio.sleep(self.sink.data_delay_seconds)
        failure = self.sink.take_failure("DATA")
        if failure:
            return failure
        self.sink.add(
            ReceivedMail(
                mail_from=envelope.mail_from or "",
                rcpt_to=tuple(envelope.rcpt_tos),
                data=envelope.original_content or b"",
            )
        )
        return "250 OK: queued"


class SmtpSink:
    """The running sink: where it listens and what it received."""

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self.data_delay_seconds = 0.0
        self._mails: list[ReceivedMail] = []
        self._failures: dict[str, deque[str]] = {"MAIL": deque(), "RCPT": deque(), "DATA": deque()}
        self._lock = threading.Condition()
        self._loop_thread = LoopThread("smtp-sink")
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        """The relay URL of the sink (`smtp://127.0.0.1:PORT`)."""
        return f"smtp://{self.host}:{self.port}"

    @property
    def messages(self) -> list[ReceivedMail]:
        """Every mail received so far, in order."""
        with self._lock:
            return list(self._mails)

    def add(self, mail: ReceivedMail) -> None:
        """Record a received mail (called by the handler)."""
        with self._lock:
            self._mails.append(mail)
            self._lock.notify_all()

    def clear(self) -> None:
        """Forget what was received and any pending failures."""
        with self._lock:
            self._mails.clear()
            for replies in self._failures.values():
                replies.clear()

    def fail_next(self, stage: Stage, reply: str, times: int = 1) -> None:
        """Answer the next `times` commands of `stage` with `reply` (e.g. "451 4.3.0 later")."""
        with self._lock:
            self._failures[stage].extend([reply] * times)

    def take_failure(self, stage: Stage) -> str | None:
        """The reply planned for this command, if any (called by the handler)."""
        with self._lock:
            replies = self._failures[stage]
            return replies.popleft() if replies else None

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedMail]:
        """Wait until at least `count` mails arrived; returns them (fails the test on timeout)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._mails) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    pytest.fail(f"SMTP sink got {len(self._mails)} mails, expected {count}")
                self._lock.wait(remaining)
            return list(self._mails)

    def start(self) -> None:
        """Listen on a free loopback port."""
        sock = listen_socket(self.host, 0)
        self.port = sock.getsockname()[1]
        self._loop_thread.start()
        handler = _SinkHandler(self)

        async def serve() -> asyncio.Server:
            loop = asyncio.get_running_loop()
            return await loop.create_server(
                lambda: SMTP(handler, hostname="sink.test", loop=loop), sock=sock
            )

        self._server = self._loop_thread.call(serve(), timeout=10)

    def stop(self) -> None:
        """Stop listening and end the loop thread."""
        server = self._server
        if server is not None:

            async def close() -> None:
                server.close()
                await asyncio.sleep(0)

            self._loop_thread.call(close(), timeout=10)
        self._loop_thread.stop(10)


class SmtpDialog:
    """A raw SMTP client: sends command lines, reads whole replies; (0, "") once closed."""

    def __init__(self, host: str, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self._file = self.sock.makefile("rb")
        self.greeting = self.reply()

    def reply(self) -> tuple[int, str]:
        """The next reply: its code and its text lines joined by newlines."""
        lines: list[str] = []
        while True:
            try:
                raw = self._file.readline()
            except OSError:
                raw = b""
            if not raw:
                return 0, "\n".join(lines)
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            lines.append(line[4:])
            if line[3:4] != "-":
                return int(line[:3]), "\n".join(lines)

    def send(self, data: bytes) -> None:
        """Send raw bytes (part of a DATA body, say)."""
        self.sock.sendall(data)

    def cmd(self, line: str) -> tuple[int, str]:
        """Send one command line and read its reply."""
        self.send(line.encode() + b"\r\n")
        return self.reply()

    def closed_by_server(self) -> bool:
        """True when the server has closed the connection (reads until EOF or timeout)."""
        try:
            self._file.read()  # returns at end of stream; raises on the read timeout
        except OSError:
            return False
        return True

    def close(self) -> None:
        """Close our side."""
        self._file.close()
        self.sock.close()


@contextmanager
def running_sink() -> Iterator[SmtpSink]:
    """A started sink, stopped on exit."""
    sink = SmtpSink()
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """An SMTP sink for one test (the outgoing relay of the code under test)."""
    with running_sink() as sink:
        yield sink
