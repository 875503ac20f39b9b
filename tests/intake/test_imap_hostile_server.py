"""The IMAP poller against a hostile server: a scripted IMAP server on loopback that lies.

Dovecot behaves; these servers do not: one announces a literal of 2 GB, one under-reports a
mail's RFC822.SIZE, one sends no UIDVALIDITY. The poller must stay within its limits, never
hand a partial mail on as whole, and never invent a cursor.
"""

from __future__ import annotations

import imaplib
import itertools
import logging
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import pytest
from imapclient import IMAPClient

from intake.imap_poller import (
    Cursor,
    FetchedMail,
    ImapIntakeError,
    ImapPoller,
    ImapServer,
    PollerConfig,
    Security,
)

LIMIT = 1000
HEADER = b"From: mallory@example.com\r\nSubject: big\r\n\r\n"


class _Script(socketserver.StreamRequestHandler):
    """Answers just enough IMAP4rev1 for one poller pass over a one-mail INBOX."""

    server: _ScriptedServer

    def _send(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()

    def handle(self) -> None:
        behaviour = self.server.behaviour
        self._send(b"* OK [CAPABILITY IMAP4rev1 IDLE] scripted server ready\r\n")
        while line := self.rfile.readline(10_000):
            tag, _, rest = line.decode().rstrip("\r\n").partition(" ")
            command = rest.upper()
            self.server.commands.append(command)
            ok = f"{tag} OK done\r\n".encode()
            if command.startswith("CAPABILITY"):
                self._send(b"* CAPABILITY IMAP4rev1 IDLE\r\n" + ok)
            elif command.startswith("LOGIN"):
                self._send(ok)
            elif command.startswith("LIST"):
                self._send(b'* LIST (\\Noselect) "/" ""\r\n' + ok)
            elif command.startswith("SELECT"):
                validity = b"" if behaviour == "no-uidvalidity" else b"* OK [UIDVALIDITY 7] v\r\n"
                self._send(b"* 1 EXISTS\r\n" + validity + b"* OK [UIDNEXT 2] n\r\n" + ok)
            elif command.startswith("UID SEARCH"):
                self._send(
                    (b"* SEARCH\r\n" if behaviour == "bye-on-idle" else b"* SEARCH 1\r\n") + ok
                )
            elif command == "IDLE":
                # Instead of "+ idling": the server goes away (a restart, an admin's kick).
                self._send(b"* BYE shutting down\r\n")
                return
            elif command.startswith("UID FETCH") and "RFC822.SIZE" in command:
                self._send(b"* 1 FETCH (UID 1 RFC822.SIZE 100)\r\n" + ok)
            elif command.startswith("UID FETCH") and "BODY.PEEK[HEADER]" in command:
                literal = f"* 1 FETCH (UID 1 BODY[HEADER]<0> {{{len(HEADER)}}}\r\n".encode()
                self._send(literal + HEADER + b")\r\n" + ok)
            elif command.startswith("UID FETCH") and "BODY.PEEK[]" in command:
                if behaviour == "literal-bomb":
                    # Announce 2 GB and send nothing more: an unbounded client would allocate
                    # or wait for it.
                    self._send(b"* 1 FETCH (UID 1 BODY[]<0> {2000000000}\r\n")
                    time.sleep(3)
                    return
                body = HEADER + b"x" * LIMIT  # far more than the 100 bytes it claimed
                size = min(len(body), LIMIT + 1)  # what the partial fetch asked for
                literal = f"* 1 FETCH (UID 1 BODY[]<0> {{{size}}}\r\n".encode()
                self._send(literal + body[:size] + b")\r\n" + ok)
            elif command.startswith("UID STORE"):
                self._send(ok)
            elif command.startswith("LOGOUT"):
                self._send(b"* BYE bye\r\n" + ok)
                return
            else:
                self._send(f"{tag} BAD unknown\r\n".encode())


class _ScriptedServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, behaviour: str) -> None:
        super().__init__(("127.0.0.1", 0), _Script)
        self.behaviour = behaviour
        self.commands: list[str] = []


@contextmanager
def scripted_server(behaviour: str) -> Iterator[_ScriptedServer]:
    server = _ScriptedServer(behaviour)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _poller(server: _ScriptedServer, stored: list[tuple[FetchedMail, Cursor]]) -> ImapPoller:
    port = server.server_address[1]
    config = PollerConfig(
        account="hostile",
        mailbox="INBOX",
        server=ImapServer(
            host="127.0.0.1",
            port=int(port),
            username="u",
            password="p",
            security=Security.NONE,
            timeout_seconds=5.0,
        ),
        max_message_bytes=LIMIT,
        max_header_bytes=512,
    )

    def store(mail: FetchedMail, cursor: Cursor) -> bool:
        stored.append((mail, cursor))
        return True

    return ImapPoller(config, lambda: None, store)


def test_an_announced_literal_over_the_limit_is_refused_before_reading() -> None:
    stored: list[tuple[FetchedMail, Cursor]] = []
    with scripted_server("literal-bomb") as server:
        started = time.monotonic()
        with pytest.raises(imaplib.IMAP4.abort, match="literal of 2000000000 bytes"):
            _poller(server, stored).sync_once()
        # Refused at once, not after waiting for the bytes until the read timeout.
        assert time.monotonic() - started < 2
    assert stored == []


def test_an_under_reported_size_still_ends_as_a_headers_only_record() -> None:
    stored: list[tuple[FetchedMail, Cursor]] = []
    with scripted_server("liar") as server:
        report = _poller(server, stored).sync_once()
        commands = list(server.commands)
    [(mail, cursor)] = stored
    assert mail.too_large
    assert mail.raw == HEADER
    assert mail.size == LIMIT + 1  # at least this much, whatever the server claimed
    assert cursor == Cursor(uidvalidity=7, last_uid=1)
    assert (report.fetched, report.too_large) == (1, 1)
    # Read with a partial PEEK (never RFC822, which would mark it read), then flagged.
    fetches = [c for c in commands if c.startswith("UID FETCH")]
    assert fetches[1] == f"UID FETCH 1 (BODY.PEEK[]<0.{LIMIT + 1}>)"
    assert any(c.startswith("UID STORE 1 +FLAGS.SILENT") for c in commands)
    assert all("RFC822)" not in c and "RFC822 " not in c for c in fetches)


def test_a_server_without_uidvalidity_gets_no_cursor() -> None:
    stored: list[tuple[FetchedMail, Cursor]] = []
    with (
        scripted_server("no-uidvalidity") as server,
        pytest.raises(ImapIntakeError, match="UIDVALIDITY"),
    ):
        _poller(server, stored).sync_once()
    assert stored == []


def test_unreachable_server_is_retried_with_backoff_until_stopped() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once closed
    attempts: list[float] = []
    config = PollerConfig(
        account="down",
        mailbox="INBOX",
        server=ImapServer("127.0.0.1", port, "u", "p", Security.NONE, timeout_seconds=1.0),
        max_message_bytes=LIMIT,
        backoff_seconds=0.1,
        backoff_max_seconds=0.4,
    )

    def connector() -> IMAPClient:
        attempts.append(time.monotonic())
        raise ConnectionRefusedError("refused")

    poller = ImapPoller(config, lambda: None, lambda mail, cursor: True, connector=connector)
    stop = threading.Event()
    thread = threading.Thread(target=poller.run, args=(stop,), daemon=True)
    thread.start()
    time.sleep(1.5)
    stop.set()
    thread.join(2)
    assert not thread.is_alive()
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    # Exponential with jitter: between half and all of 0.1, 0.2, 0.4, then capped at 0.4.
    assert 3 <= len(attempts) <= 12
    assert all(0.04 <= gap <= 0.5 for gap in gaps)
    assert max(gaps[2:]) > 0.19


def test_bye_instead_of_idle_is_a_dropped_connection_and_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with scripted_server("bye-on-idle") as server:
        poller = _poller(server, [])
        poller = ImapPoller(
            replace(poller.config, backoff_seconds=0.1, backoff_max_seconds=0.1),
            lambda: None,
            lambda mail, cursor: True,
        )
        stop = threading.Event()
        thread = threading.Thread(target=poller.run, args=(stop,), daemon=True)
        with caplog.at_level(logging.WARNING, logger="intake.imap_poller"):
            thread.start()
            time.sleep(0.6)
            stop.set()
            thread.join(3)
        logins = sum(c.startswith("LOGIN") for c in server.commands)
    assert not thread.is_alive()
    assert logins >= 2  # it came back after the BYE
    messages = [r.getMessage() for r in caplog.records]
    assert any("connection failed" in m and "IDLE" in m for m in messages)
    assert not any(r.levelno >= logging.ERROR for r in caplog.records)
