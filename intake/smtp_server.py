"""SMTP intake: the aiosmtpd server that accepts mail for the help desk's addresses.

The first step of the flow (DESIGN.md, One mail, step 1). `RCPT` refuses addresses that are not
ours; `DATA` hands the raw bytes and the envelope to an async store callable and answers `250`
only once that callable returns (it commits). Nothing is parsed here: the worker parses later.
Every failure to store is a temporary `451 4.3.0` with no internal detail, so the sending MTA
keeps the mail and retries; the store dedupes the retry by the bytes' hash.

The database is not imported here: `deskmail.smtp_service` passes the store callable in and runs
the server on a socket and an event loop of its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, AnyStr

from aiosmtpd.smtp import SMTP
from aiosmtpd.smtp import Envelope as SmtpEnvelope
from aiosmtpd.smtp import Session as SmtpSession

from intake.reply_tokens import is_helpdesk_address
from intake.store import Envelope, Stored

log = logging.getLogger(__name__)

StoreMail = Callable[[bytes, Envelope], Awaitable[Stored]]
"""Stores one mail durably (commits) and returns its row; raises on any failure."""

# Replies. Enhanced status codes per RFC 3463; the text never carries internal detail.
REPLY_SENDER_OK = "250 2.1.0 Sender ok"
REPLY_RECIPIENT_OK = "250 2.1.5 Recipient ok"
REPLY_UNKNOWN_RECIPIENT = "550 5.1.1 No such recipient here"
# RFC 5321 §4.5.3.1.10: a server over its recipient limit answers 452 and the client sends the
# remaining recipients in a later transaction; RFC 3463 X.5.3 "Too many recipients".
REPLY_TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
REPLY_TOO_BIG = "552 5.3.4 Message size exceeds fixed maximum message size"
REPLY_LINE_TOO_LONG = "552 5.3.4 Message has a line that is too long"
REPLY_STORE_FAILED = "451 4.3.0 Temporary failure, please try again later"
REPLY_SHUTTING_DOWN = "421 4.3.2 Service shutting down, please try again later"
REPLY_TOO_MANY_CONNECTIONS = "421 4.7.0 Too many connections, please try again later"
REPLY_TOO_MANY_COMMANDS = "421 4.7.0 Too many commands, closing connection"
REPLY_TOO_MANY_ERRORS = "421 4.7.0 Too many errors, closing connection"

# aiosmtpd answers a few limits itself, with texts of its own; these get our coded replies.
# (Checked by tests, so a change in aiosmtpd's wording shows up at once.)
_LIBRARY_REPLIES = {
    "552 Error: message size exceeds fixed maximum message size": REPLY_TOO_BIG,
    "552 Error: Too much mail data": REPLY_TOO_BIG,
    "500 Line too long (see RFC5321 4.5.3.1.6)": REPLY_LINE_TOO_LONG,
}
_GREETING = 220
_START_MAIL_INPUT = 354
_SERVICE_CLOSING = 421


@dataclass(frozen=True)
class SmtpConfig:
    """What the SMTP intake needs to know (built from the settings by `deskmail`)."""

    addresses: frozenset[str]
    hostname: str = "localhost"
    max_message_bytes: int = 25 * 1024 * 1024
    max_recipients: int = 100
    # Commands and error replies (5xx) per connection before `421` and close.
    max_commands: int = 500
    max_errors: int = 20
    max_connections: int = 200
    # aiosmtpd's timer: the time a client may be idle between commands, and the time the whole
    # DATA transfer may take (RFC 5321 §4.5.3.2 asks servers to wait at least 5 minutes).
    timeout_seconds: float = 300.0
    store_timeout_seconds: float = 5.0
    # RFC 5321 §4.5.3.1 asks for no limits "to the maximum extent possible"; real mail has lines
    # longer than 998 octets, so lines are accepted up to this length (memory stays bounded).
    max_line_bytes: int = 64 * 1024


def peer_text(peer: Any) -> str:
    """`host:port` of a socket peer address (IPv6 in brackets)."""
    if isinstance(peer, tuple) and len(peer) >= 2:
        host, port = str(peer[0]), peer[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return str(peer or "")


class IntakeHandler:
    """aiosmtpd's hooks: the help desk's recipient check, the limits and the durable store."""

    def __init__(self, store: StoreMail, config: SmtpConfig, gate: ShutdownGate) -> None:
        self.store = store
        self.config = config
        self.gate = gate

    async def handle_MAIL(  # noqa: N802 - aiosmtpd's hook name
        self,
        server: SMTP,
        session: SmtpSession,
        envelope: SmtpEnvelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        """A new transaction, unless the server is shutting down."""
        if self.gate.draining:
            return REPLY_SHUTTING_DOWN
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return REPLY_SENDER_OK

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self,
        server: SMTP,
        session: SmtpSession,
        envelope: SmtpEnvelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        """Only our addresses (and their `+tag` variants), up to the recipient limit."""
        if not is_helpdesk_address(address, self.config.addresses):
            return REPLY_UNKNOWN_RECIPIENT
        if len(envelope.rcpt_tos) >= self.config.max_recipients:
            return REPLY_TOO_MANY_RECIPIENTS
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return REPLY_RECIPIENT_OK

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: SmtpSession, envelope: SmtpEnvelope
    ) -> str:
        """Store the bytes exactly as received and answer 250 only after the commit."""
        raw = envelope.original_content or b""
        peer = peer_text(session.peer)
        # No Received: header is prepended: the stored bytes stay the sender's, so a resend
        # dedupes by hash; the trace data (peer, envelope, time) is kept in columns instead.
        item = Envelope(
            source="smtp",
            mail_from=envelope.mail_from or "",
            rcpt_to=tuple(envelope.rcpt_tos),
            peer=peer,
        )
        try:
            stored = await asyncio.wait_for(
                self.store(raw, item), timeout=self.config.store_timeout_seconds
            )
        except TimeoutError:
            log.warning("mail from %s (%d bytes) not stored in time: 451", peer, len(raw))
            return REPLY_STORE_FAILED
        except Exception:  # any failure to store is a temporary 451, logged
            log.exception("mail from %s (%d bytes) could not be stored: 451", peer, len(raw))
            return REPLY_STORE_FAILED
        log.info(
            "accepted inbound %s from %s (%d bytes%s)",
            stored.inbound_id,
            peer,
            len(raw),
            "" if stored.created else ", same bytes as before",
        )
        return f"250 2.0.0 Ok: queued as {stored.inbound_id}"

    async def handle_exception(self, error: Exception) -> str:
        """A bug must not show its text to the client, nor turn into a permanent refusal."""
        log.error("SMTP session error", exc_info=error)
        return REPLY_STORE_FAILED


class ShutdownGate:
    """The sessions of one server and whether it is draining (shared by all sessions)."""

    def __init__(self) -> None:
        self.draining = False
        self.sessions: set[IntakeSMTP] = set()
        self.changed = asyncio.Event()

    def add(self, session: IntakeSMTP) -> None:
        """A session starts."""
        self.sessions.add(session)

    def discard(self, session: IntakeSMTP) -> None:
        """A session ended."""
        self.sessions.discard(session)
        self.changed.set()


class IntakeSMTP(SMTP):
    """aiosmtpd's SMTP protocol with the help desk's limits, coded replies and graceful stop."""

    def __init__(
        self,
        handler: IntakeHandler,
        config: SmtpConfig,
        gate: ShutdownGate,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        # The stream reader is created in SMTP.__init__ with this limit.
        self.line_length_limit = config.max_line_bytes
        super().__init__(
            handler,
            loop=loop,
            data_size_limit=config.max_message_bytes,  # also advertised as SIZE (RFC 1870)
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=config.hostname,
            ident="Deskmail ESMTP",
            timeout=config.timeout_seconds,
        )
        self.config = config
        self.gate = gate
        self.commands = 0
        self.errors = 0
        self.closing = False
        self.refused = False

    @property
    def in_transaction(self) -> bool:
        """True from an accepted MAIL until the reply to its DATA (or RSET)."""
        return self.envelope is not None and bool(self.envelope.mail_from)

    # Connections --------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Greet, or refuse at once with 421 while shutting down or over the connection limit."""
        if self.transport is None:  # not the second call of a STARTTLS upgrade
            reply = None
            if self.gate.draining:
                reply = REPLY_SHUTTING_DOWN
            elif len(self.gate.sessions) >= self.config.max_connections:
                reply = REPLY_TOO_MANY_CONNECTIONS
            if reply is not None:
                self.refused = True
                assert isinstance(transport, asyncio.WriteTransport)
                transport.write(reply.encode() + b"\r\n")
                transport.close()
                return
            self.gate.add(self)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        """Forget the session (a refused one never started)."""
        if self.refused:
            return
        self.gate.discard(self)
        super().connection_lost(error)

    def eof_received(self) -> bool | None:
        """A refused connection has no session to end."""
        if self.refused:
            return False
        return super().eof_received()

    def close_now(self, reply: str | None = None) -> None:
        """Send an unsolicited reply (RFC 5321 §3.8 allows 421 before closing) and close."""
        self.closing = True
        transport = self.transport
        if transport is None:
            return
        if reply is not None and isinstance(transport, asyncio.WriteTransport):
            transport.write(reply.encode() + b"\r\n")
        transport.close()

    # Replies ------------------------------------------------------------------------------

    async def push(self, status: AnyStr) -> None:
        """Send a reply; count commands and errors, close after 421 or when limits are hit."""
        text = status.decode("utf-8", "replace") if isinstance(status, bytes) else str(status)
        text = _LIBRARY_REPLIES.get(text, text)
        await super().push(text)
        code = int(text[:3]) if text[:3].isdigit() else 0
        final = len(text) == 3 or text[3:4] != "-"  # a multi-line reply ends with "NNN "
        if not final or code in (_GREETING, _START_MAIL_INPUT) or self.closing:
            return
        if code == _SERVICE_CLOSING:
            self.close_now()
            return
        self.commands += 1
        if code >= 500:
            self.errors += 1
        if self.errors >= self.config.max_errors:
            log.warning("%s: too many errors, closing", peer_text(self.session_peer))
            self.close_now(REPLY_TOO_MANY_ERRORS)
        elif self.commands >= self.config.max_commands:
            log.warning("%s: too many commands, closing", peer_text(self.session_peer))
            self.close_now(REPLY_TOO_MANY_COMMANDS)
        elif self.gate.draining and not self.in_transaction:
            self.close_now(REPLY_SHUTTING_DOWN)

    @property
    def session_peer(self) -> Any:
        """The client's address, when known."""
        return self.session.peer if self.session is not None else None


class SmtpIntakeServer:
    """The listening server: sessions on a given socket, and a graceful shutdown."""

    def __init__(self, store: StoreMail, config: SmtpConfig) -> None:
        self.config = config
        self.gate = ShutdownGate()
        self.handler = IntakeHandler(store, config, self.gate)
        self._server: asyncio.Server | None = None

    def _session(self) -> IntakeSMTP:
        return IntakeSMTP(self.handler, self.config, self.gate, asyncio.get_running_loop())

    async def start(self, sock: Any) -> None:
        """Serve on a bound socket (the caller binds it: port 0 gives a free port)."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._session, sock=sock)

    async def shutdown(self, timeout: float) -> bool:
        """Stop accepting and let transactions in flight finish; True when all finished.

        New connections and new transactions get `421 4.3.2`; a session between transactions
        is closed with that reply at once; a session inside a transaction (MAIL .. DATA) gets
        until `timeout` to finish, so a DATA being stored completes and receives its 250.
        """
        self.gate.draining = True
        for session in list(self.gate.sessions):
            if not session.in_transaction:
                session.close_now(REPLY_SHUTTING_DOWN)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.gate.sessions and loop.time() < deadline:
            self.gate.changed.clear()
            try:
                await asyncio.wait_for(self.gate.changed.wait(), deadline - loop.time())
            except TimeoutError:
                break
        finished = not self.gate.sessions
        for session in list(self.gate.sessions):
            log.warning("closing %s with a transaction unfinished", peer_text(session.session_peer))
            session.close_now(REPLY_SHUTTING_DOWN)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        # Let the closed transports call connection_lost before the loop stops.
        await asyncio.sleep(0)
        return finished
