"""Transports: how the sender hands one stored mail over — to an SMTP relay, or to a maildir.

`SmtpTransport` speaks to the configured relay with smtplib: implicit TLS or STARTTLS with
certificate checks, AUTH when configured, one connection reused for many mails (RSET-free:
each transaction ends with its reply). It reports each recipient's answer, so a partial
accept (RFC 5321 §3.3: RCPT is per recipient) is visible, and classifies failures the way
RFC 5321 §4.2.1 does: 4yz and anything without a reply (refused connection, timeout, broken
connection) is temporary, 5yz is permanent. Authentication failures and a missing STARTTLS
are temporary too: they are the operator's to fix, and the mail must wait, not bounce.

`MaildirTransport` is the embedded default with no relay configured: each mail becomes a
file in `<data_dir>/outbox-maildir` (stdlib `mailbox.Maildir`), readable with any mail client.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import logging
import mailbox
import smtplib
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from responder.errors import ResponderError
from responder.headers import one_line
from responder.relay import RelayConfig, TlsMode

log = logging.getLogger(__name__)

MAX_MAILS_PER_CONNECTION = 100  # relays limit a session too; a fresh one now and then is cheap


@dataclass(frozen=True)
class Refusal:
    """A recipient the relay refused, with its reply."""

    address: str
    code: int
    text: str

    @property
    def permanent(self) -> bool:
        """5yz: the relay will never take it (RFC 5321 §4.2.1)."""
        return self.code >= 500


@dataclass(frozen=True)
class Delivery:
    """What the relay did with one mail it accepted for at least one recipient."""

    accepted: tuple[str, ...]
    refused: tuple[Refusal, ...]
    response: str  # the reply to the final dot, usually with the relay's queue id


class DeliveryError(ResponderError):
    """The relay did not take the mail; `permanent` says whether trying again can help."""

    def __init__(
        self,
        text: str,
        *,
        code: int | None = None,
        stage: str = "",
        permanent: bool = False,
        connection: bool = False,
        refused: tuple[Refusal, ...] = (),
        maybe_delivered: bool = False,
    ) -> None:
        super().__init__(text)
        self.text = text
        self.code = code
        self.stage = stage
        self.permanent = permanent
        # The relay (not this mail) is the problem: the sender pauses the rest of its batch.
        self.connection = connection
        self.refused = refused
        # The connection broke after the whole mail was sent but before the relay answered:
        # it may have been accepted (RFC 1047); a retry may deliver it twice.
        self.maybe_delivered = maybe_delivered

    def summary(self) -> str:
        """ "451 4.3.0 try later (at DATA)" and the like, for rows and events."""
        code = f"{self.code} " if self.code else ""
        where = f" (at {self.stage})" if self.stage else ""
        return one_line(f"{code}{self.text}{where}")[:1000]


class Transport(Protocol):
    """Hands mail over; one instance per sending thread."""

    @property
    def description(self) -> str:
        """Where mail goes, for the operator."""

    def send(self, mail_from: str, rcpt_to: Sequence[str], raw: bytes) -> Delivery:
        """Deliver `raw`; raises DeliveryError when no recipient was accepted."""

    def close(self) -> None:
        """Drop any open connection."""


def _text(reply: bytes | str) -> str:
    value = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return one_line(value)[:500]


def _failure(
    code: int, reply: bytes | str, stage: str, *, connection: bool = False
) -> DeliveryError:
    return DeliveryError(
        _text(reply), code=code, stage=stage, permanent=500 <= code < 600, connection=connection
    )


class SmtpTransport:
    """Delivers through an SMTP relay, reusing one connection for consecutive mails."""

    def __init__(self, config: RelayConfig, *, tls_context: ssl.SSLContext | None = None) -> None:
        self.config = config
        self._given_tls = tls_context
        self._smtp: smtplib.SMTP | None = None
        self._sent_on_connection = 0

    @functools.cached_property
    def _tls(self) -> ssl.SSLContext:
        # Built on first use: loading the system's CA store costs a noticeable moment.
        if self._given_tls is not None:
            return self._given_tls
        context = ssl.create_default_context()
        if not self.config.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    @property
    def description(self) -> str:
        """The relay, without its password."""
        return self.config.describe()

    # Connection -----------------------------------------------------------------------

    def _connect(self) -> smtplib.SMTP:
        config = self.config
        try:
            smtp: smtplib.SMTP
            if config.tls is TlsMode.IMPLICIT:
                smtp = smtplib.SMTP_SSL(
                    config.host,
                    config.port,
                    local_hostname=config.helo,
                    timeout=config.timeout,
                    context=self._tls,
                )
            else:
                smtp = smtplib.SMTP(
                    config.host, config.port, local_hostname=config.helo, timeout=config.timeout
                )
        except smtplib.SMTPConnectError as exc:
            raise _failure(exc.smtp_code, exc.smtp_error, "connect", connection=True) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(
                f"cannot connect to {config.host}:{config.port}: {_describe_os(exc)}",
                stage="connect",
                connection=True,
            ) from exc
        try:
            self._greet(smtp)
        except BaseException:
            _quietly_close(smtp)
            raise
        self._sent_on_connection = 0
        return smtp

    def _greet(self, smtp: smtplib.SMTP) -> None:
        config = self.config
        try:
            code, reply = smtp.ehlo()
            if not 200 <= code < 300:
                code, reply = smtp.helo()
                if not 200 <= code < 300:
                    raise _failure(code, reply, "EHLO", connection=True)
            if config.tls is TlsMode.STARTTLS:
                if not smtp.has_extn("starttls"):
                    # Sending in clear text when TLS was asked for would be a silent downgrade.
                    raise DeliveryError(
                        "the relay does not offer STARTTLS", stage="STARTTLS", connection=True
                    )
                code, reply = smtp.starttls(context=self._tls)
                if code != 220:
                    raise _failure(code, reply, "STARTTLS", connection=True)
                smtp.ehlo()
            if config.authenticated:
                self._login(smtp)
        except smtplib.SMTPAuthenticationError as exc:
            # Temporary on purpose: a wrong password is fixed by the operator, mail waits.
            raise DeliveryError(
                f"authentication failed: {_text(exc.smtp_error)}",
                code=exc.smtp_code,
                stage="AUTH",
                connection=True,
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise _failure(exc.smtp_code, exc.smtp_error, "EHLO", connection=True) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(
                f"connection to the relay failed: {_describe_os(exc)}",
                stage="EHLO",
                connection=True,
            ) from exc

    def _login(self, smtp: smtplib.SMTP) -> None:
        """AUTH PLAIN or LOGIN with UTF-8 credentials (RFC 4954, RFC 4616).

        smtplib's `login` encodes user name and password as ASCII and fails on anything else,
        so the two common mechanisms are spoken here; others are left to smtplib.
        """
        config = self.config
        offered = smtp.esmtp_features.get("auth", "").upper().split()
        if "PLAIN" in offered:
            token = f"\0{config.username}\0{config.password}".encode()
            code, reply = smtp.docmd("AUTH", "PLAIN " + base64.b64encode(token).decode("ascii"))
        elif "LOGIN" in offered:
            code, reply = smtp.docmd("AUTH", "LOGIN " + _b64(config.username))
            if code == 334:
                code, reply = smtp.docmd(_b64(config.password))
        else:
            smtp.login(config.username, config.password)
            return
        if code != 235:
            raise smtplib.SMTPAuthenticationError(code, reply)

    def close(self) -> None:
        """QUIT and close, ignoring a relay that went away already."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                smtp.quit()
            _quietly_close(smtp)

    # Sending --------------------------------------------------------------------------

    def send(self, mail_from: str, rcpt_to: Sequence[str], raw: bytes) -> Delivery:
        """One SMTP transaction; reconnects once when a reused connection turns out dead."""
        if not rcpt_to:
            raise DeliveryError("no recipients", permanent=True)
        if self._smtp is not None and self._sent_on_connection >= MAX_MAILS_PER_CONNECTION:
            self.close()
        reused = self._smtp is not None
        if self._smtp is None:
            self._smtp = self._connect()
        try:
            return self._transaction(self._smtp, mail_from, rcpt_to, raw)
        except _StaleConnection:
            self.close()
            if not reused:
                raise DeliveryError(
                    "the relay closed the connection", stage="MAIL", connection=True
                ) from None
            self._smtp = self._connect()
            try:
                return self._transaction(self._smtp, mail_from, rcpt_to, raw)
            except _StaleConnection:
                self.close()
                raise DeliveryError(
                    "the relay closed the connection", stage="MAIL", connection=True
                ) from None
        except BaseException:
            # After any failure the session's state is unknown: start the next mail afresh.
            self.close()
            raise

    def _transaction(
        self, smtp: smtplib.SMTP, mail_from: str, rcpt_to: Sequence[str], raw: bytes
    ) -> Delivery:
        config = self.config
        stage = "MAIL"
        try:
            options = [f"SIZE={len(raw)}"] if smtp.has_extn("size") else []
            try:
                code, reply = smtp.mail(mail_from, options)
            except smtplib.SMTPServerDisconnected:
                raise _StaleConnection from None
            if code == 421:
                # The relay is closing this session (often an idle one we kept open).
                raise _StaleConnection
            if code != 250:
                raise _failure(code, reply, stage)
            stage = "RCPT"
            accepted, refused = _recipients(smtp, rcpt_to)
            stage = "DATA"
            if smtp.sock is not None:
                smtp.sock.settimeout(config.data_timeout)
            try:
                code, reply = smtp.data(raw)
            except (OSError, smtplib.SMTPServerDisconnected) as exc:
                raise DeliveryError(
                    f"connection lost while waiting for the relay's answer: {_describe_os(exc)}",
                    stage=stage,
                    connection=True,
                    maybe_delivered=True,
                ) from exc
            finally:
                if smtp.sock is not None:
                    smtp.sock.settimeout(config.timeout)
            if code != 250:
                raise _failure(code, reply, stage)
        except smtplib.SMTPResponseException as exc:
            raise _failure(exc.smtp_code, exc.smtp_error, stage) from exc
        except (OSError, smtplib.SMTPServerDisconnected) as exc:
            raise DeliveryError(
                f"connection to the relay failed: {_describe_os(exc)}",
                stage=stage,
                connection=True,
            ) from exc
        self._sent_on_connection += 1
        return Delivery(tuple(accepted), tuple(refused), _text(reply))


def _recipients(smtp: smtplib.SMTP, rcpt_to: Sequence[str]) -> tuple[list[str], list[Refusal]]:
    """RCPT for each recipient (RFC 5321 §3.3); raises when the relay took none of them."""
    accepted: list[str] = []
    refused: list[Refusal] = []
    for address in rcpt_to:
        code, reply = smtp.rcpt(address)
        if code in (250, 251):
            accepted.append(address)
        else:
            refused.append(Refusal(address, code, _text(reply)))
    if not accepted:
        smtp.rset()
        first = refused[0]
        raise DeliveryError(
            first.text,
            code=first.code,
            stage="RCPT",
            permanent=all(r.permanent for r in refused),
            refused=tuple(refused),
        )
    return accepted, refused


class _StaleConnection(Exception):  # noqa: N818 - internal signal, not an error
    """A reused connection was closed by the relay before this transaction started."""


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode("ascii")


def _describe_os(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return one_line(str(exc))[:200] or type(exc).__name__


def _quietly_close(smtp: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError):
        smtp.close()


class MaildirTransport:
    """Delivers into a maildir folder: the embedded default when no relay is configured."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._box: mailbox.Maildir | None = None

    @property
    def description(self) -> str:
        """The folder mail goes to."""
        return f"maildir {self.path}"

    def send(self, mail_from: str, rcpt_to: Sequence[str], raw: bytes) -> Delivery:
        """Store the mail as one file, with the envelope as Return-Path and Delivered-To."""
        if not rcpt_to:
            raise DeliveryError("no recipients", permanent=True)
        try:
            if self._box is None:
                self._box = mailbox.Maildir(self.path, create=True)
            # What a local delivery agent adds, so a reader sees the envelope (RFC 5321 §4.4).
            envelope = f"Return-Path: <{mail_from}>\r\n" + "".join(
                f"Delivered-To: {address}\r\n" for address in rcpt_to
            )
            key = self._box.add(envelope.encode("ascii", "replace") + raw)
        except OSError as exc:
            raise DeliveryError(
                f"cannot write to {self.path}: {_describe_os(exc)}", connection=True
            ) from exc
        return Delivery(tuple(rcpt_to), (), f"stored as {key}")

    def close(self) -> None:
        """Nothing stays open between mails."""
        self._box = None
