"""IMAP intake: reads one mailbox of one account and hands each new mail to durable storage.

Where it sits: the second way mail comes in (next to the SMTP server). For every mail above the
stored cursor it calls `store(mail, cursor)`, which commits the raw bytes *and* the new cursor
(UIDVALIDITY, UID) in one transaction; only after that commit is the mail flagged or moved on
the server (DESIGN.md, One mail, step 1). The worker takes it from there. This module knows
nothing of the database: `deskmail.imap_service` wires the two callables in.

Why the order matters:
- A crash after the commit and before the flag loses nothing (the mail is stored) and fetches
  nothing twice (the cursor moved with it); the next session flags what the crash left behind.
- A crash before the commit fetches the mail again; the raw-bytes dedupe in storage makes the
  second store a no-op.
- Mail is read with `BODY.PEEK[]`, which, unlike `RFC822`, does not set `\\Seen`
  (RFC 3501 section 6.4.5), so a mail is never marked read before it is stored.
- When UIDVALIDITY changes, UIDs of the old cursor mean nothing any more (RFC 3501 section
  2.3.1.1): the mailbox is read again from the start; dedupe keeps it free of duplicates.
- IDLE (RFC 2177) waits for new mail where the server offers it and is re-issued well before
  the 29 minutes after which a server may log the client out; otherwise the mailbox is polled.

The server is treated as hostile as the mail it holds: every socket operation has a timeout,
no literal over the size limit is read (the check is in the connection itself, not only in
RFC822.SIZE, which a server can misreport), and a mail over the limit is not fetched whole:
its header section is handed on as a "too large" record so it never blocks the mailbox.
"""

from __future__ import annotations

import imaplib
import ipaddress
import logging
import random
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from imapclient import IMAPClient, SocketTimeout
from imapclient.imap4 import IMAP4WithTimeout
from imapclient.tls import IMAP4_TLS

from intake.errors import IntakeError

log = logging.getLogger(__name__)

# RFC 2177 section 3: a server may log out an idle client after 30 minutes of inactivity,
# so IDLE must be ended and re-issued at least every 29 minutes.
IDLE_MAX_SECONDS = 29 * 60
# How often an IDLE wait looks at the stop signal; also bounds the delay of a shutdown.
STOP_CHECK_SECONDS = 0.5
# The keyword added to a mail that was too large to fetch (RFC 3501 keywords are atoms).
TOO_LARGE_KEYWORD = "$DeskmailTooLarge"
# Highest possible UID (RFC 3501 section 2.3.1.1: a 32-bit value).
MAX_UID = 2**32 - 1

_SYSTEM_FLAG_UNSET_SEARCH = {
    "\\seen": "UNSEEN",
    "\\flagged": "UNFLAGGED",
    "\\answered": "UNANSWERED",
}
# An IMAP atom: any printable ASCII character except atom-specials (RFC 3501 section 9).
_ATOM = re.compile(r"[!#$&\'+,\-./0-9:;<=>?@A-Z\[^_`a-z|~]+")


class ImapIntakeError(IntakeError):
    """The server broke the protocol in a way the poller cannot work around."""


class Security(StrEnum):
    """How the connection is protected."""

    SSL = "ssl"  # TLS from the first byte (port 993)
    STARTTLS = "starttls"  # plain connection upgraded with STARTTLS (RFC 3501 section 6.2.1)
    NONE = "none"  # plain text: only for loopback or tests


class AfterFetch(StrEnum):
    """What happens to a mail on the server once it is committed."""

    FLAG = "flag"  # add a flag (`\\Seen` or a keyword)
    MOVE = "move"  # add the flag, then move it to another folder


@dataclass(frozen=True)
class ImapServer:
    """Where and as whom to connect."""

    host: str
    port: int
    username: str
    password: str = field(repr=False)
    security: Security = Security.SSL
    timeout_seconds: float = 30.0


@dataclass(frozen=True)
class PollerConfig:
    """Everything one poller (one account, one mailbox) needs to know."""

    account: str
    mailbox: str
    server: ImapServer
    max_message_bytes: int
    max_header_bytes: int = 256 * 1024
    after_fetch: AfterFetch = AfterFetch.FLAG
    flag: str = "\\Seen"
    move_to: str = "Deskmail/Processed"
    use_idle: bool = True
    poll_seconds: float = 60.0
    idle_seconds: float = 25 * 60.0
    # UIDs per SEARCH: bounds each response (about 11 bytes per UID) however big the mailbox.
    uid_window: int = 10_000
    # UIDs per RFC822.SIZE fetch.
    fetch_batch: int = 100
    # After a crash between commit and flag only the last stored UID can be left unflagged;
    # the next session looks at this many UIDs up to the cursor.
    reconcile_window: int = 20
    backoff_seconds: float = 1.0
    backoff_max_seconds: float = 300.0

    def __post_init__(self) -> None:
        if not _is_flag(self.flag) or self.flag.lower() in ("\\deleted", "\\draft", "\\recent"):
            raise ValueError(f"not a usable IMAP flag or keyword: {self.flag!r}")
        if not 0 < self.idle_seconds < IDLE_MAX_SECONDS:
            raise ValueError(f"idle_seconds must be below {IDLE_MAX_SECONDS} (RFC 2177)")
        for name in ("max_message_bytes", "max_header_bytes", "uid_window", "fetch_batch"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        for name in ("poll_seconds", "backoff_seconds", "backoff_max_seconds"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.after_fetch is AfterFetch.MOVE:
            if not self.move_to.strip("/ "):
                raise ValueError("after_fetch = move needs a move_to folder")
            if self.move_to.strip("/ ").upper() == self.mailbox.strip("/ ").upper():
                raise ValueError("move_to must differ from the mailbox read")


@dataclass(frozen=True)
class Cursor:
    """How far a mailbox is read: the last stored UID under one UIDVALIDITY."""

    uidvalidity: int
    last_uid: int


@dataclass(frozen=True)
class FetchedMail:
    """One mail as read from the server, ready to be stored."""

    account: str
    mailbox: str
    uidvalidity: int
    uid: int
    raw: bytes = field(repr=False)
    # RFC822.SIZE as the server reported it (or the bytes seen, when it under-reported).
    size: int
    # Over the size limit: `raw` holds only the header section (bounded by max_header_bytes).
    too_large: bool = False


class LoadCursor(Protocol):
    """Reads the stored cursor of the poller's mailbox (None before the first mail)."""

    def __call__(self) -> Cursor | None: ...


class StoreMail(Protocol):
    """Stores one mail and moves the cursor in one transaction; True if the mail was new."""

    def __call__(self, mail: FetchedMail, cursor: Cursor) -> bool: ...


@dataclass(frozen=True)
class SyncReport:
    """What one pass over a mailbox did."""

    account: str
    mailbox: str
    uidvalidity: int
    last_uid: int
    fetched: int = 0
    stored: int = 0  # new rows
    duplicates: int = 0  # bytes already stored (a re-fetch after a crash or UIDVALIDITY change)
    too_large: int = 0
    rescanned: bool = False  # UIDVALIDITY changed: read from the start


# Connection ---------------------------------------------------------------------------------


class _LiteralLimit:
    """Refuses any literal above `max_literal_bytes` before reading a byte of it.

    imaplib reads a literal with `read(size)` using the size the server announced; without a
    bound a hostile server makes us allocate whatever it claims.
    """

    max_literal_bytes: int = 0

    def read(self, size: int) -> bytes:
        if self.max_literal_bytes and size > self.max_literal_bytes:
            raise imaplib.IMAP4.abort(
                f"server announced a literal of {size} bytes, over {self.max_literal_bytes}"
            )
        data: bytes = super().read(size)  # type: ignore[misc]
        return data


class _BoundedIMAP4(_LiteralLimit, IMAP4WithTimeout):  # type: ignore[misc]
    pass


class _BoundedIMAP4TLS(_LiteralLimit, IMAP4_TLS):  # type: ignore[misc]
    pass


class BoundedIMAPClient(IMAPClient):  # type: ignore[misc]
    """IMAPClient whose connection refuses oversized literals."""

    def __init__(self, *args: Any, max_literal_bytes: int, **kwargs: Any) -> None:
        self._max_literal_bytes = max_literal_bytes
        super().__init__(*args, **kwargs)

    def _create_IMAP4(self) -> imaplib.IMAP4:  # noqa: N802 - overrides IMAPClient's name
        timeout = getattr(self._timeout, "connect", None)
        imap: _BoundedIMAP4 | _BoundedIMAP4TLS
        if self.ssl:
            imap = _BoundedIMAP4TLS(self.host, self.port, self.ssl_context, timeout)
        else:
            imap = _BoundedIMAP4(self.host, self.port, timeout)
        imap.max_literal_bytes = self._max_literal_bytes
        return imap


def connect(server: ImapServer, *, max_literal_bytes: int) -> IMAPClient:
    """Open, protect and log in one connection (certificates are verified)."""
    context = ssl.create_default_context()
    client = BoundedIMAPClient(
        server.host,
        port=server.port,
        ssl=server.security is Security.SSL,
        ssl_context=context if server.security is Security.SSL else None,
        timeout=SocketTimeout(connect=server.timeout_seconds, read=server.timeout_seconds),
        max_literal_bytes=max_literal_bytes,
    )
    try:
        if server.security is Security.STARTTLS:
            client.starttls(context)
        client.login(server.username, server.password)
    except BaseException:
        _close(client, logout=False)
        raise
    return client


def _close(client: IMAPClient, *, logout: bool = True) -> None:
    """End the session: LOGOUT when it is healthy, else just drop the connection (a broken or
    hostile server gets no chance to keep us waiting)."""
    if logout:
        try:
            client.logout()
        except Exception:  # the connection may be gone already; then just drop it
            log.debug("IMAP logout failed", exc_info=True)
        else:
            return
    try:
        client.shutdown()
    except Exception:
        log.debug("IMAP connection already closed", exc_info=True)


def is_connection_error(exc: BaseException) -> bool:
    """True for network trouble (reconnect); False for a NO/BAD answer of a live server."""
    return isinstance(exc, OSError | imaplib.IMAP4.abort)


def _is_flag(flag: str) -> bool:
    body = flag[1:] if flag.startswith("\\") else flag
    return bool(_ATOM.fullmatch(body))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def server_folder(name: str, prefix: str, delimiter: str | None) -> str:
    """A configured folder path in the server's own spelling.

    Settings write hierarchy levels with "/" ("Deskmail/Processed"); servers use their own
    delimiter (RFC 3501 section 6.3.8: Dovecot's Maildir++ uses ".") and may keep personal
    folders under a namespace prefix (RFC 2342: "INBOX." on Cyrus and Courier).
    """
    parts = [part for part in name.strip().split("/") if part]
    if not parts:
        raise ImapIntakeError(f"empty folder name: {name!r}")
    path = delimiter.join(parts) if delimiter else "/".join(parts)
    if path.upper() == "INBOX":
        return "INBOX"
    if prefix and not path.upper().startswith(prefix.upper()):
        path = prefix + path
    return path


def _personal_namespace(client: IMAPClient) -> tuple[str, str | None]:
    """(prefix, delimiter) of the user's own folders."""
    if client.has_capability("NAMESPACE"):
        personal = client.namespace().personal
        if personal:
            prefix, delimiter = personal[0]
            return str(prefix or ""), (str(delimiter) if delimiter else None)
    # LIST "" "" answers with the hierarchy delimiter only (RFC 3501 section 6.3.8).
    for _flags, delimiter, _name in client.list_folders("", ""):
        if delimiter:
            text = delimiter.decode() if isinstance(delimiter, bytes) else str(delimiter)
            return "", text
    return "", None


@dataclass(frozen=True)
class _Folders:
    """The folder names of one session, in the server's spelling."""

    mailbox: str
    move_to: str


# The poller ---------------------------------------------------------------------------------


@dataclass
class _Tally:
    fetched: int = 0
    stored: int = 0
    duplicates: int = 0
    too_large: int = 0


class ImapPoller:
    """Reads one mailbox: catches up above the cursor, then waits (IDLE or poll), forever."""

    def __init__(
        self,
        config: PollerConfig,
        load_cursor: LoadCursor,
        store: StoreMail,
        *,
        connector: Callable[[], IMAPClient] | None = None,
    ) -> None:
        self.config = config
        self._load_cursor = load_cursor
        self._store = store
        self._connector = connector or self._connect
        self._warned_validity: int | None = None
        self._failures = 0
        self._folders = _Folders(mailbox=config.mailbox, move_to=config.move_to)
        if config.server.security is Security.NONE and not _is_loopback(config.server.host):
            log.warning(
                "IMAP account %s sends its password in clear text to %s",
                config.account,
                config.server.host,
            )

    @property
    def name(self) -> str:
        """`account/mailbox`, for logs and thread names."""
        return f"{self.config.account}/{self.config.mailbox}"

    def _connect(self) -> IMAPClient:
        # The largest literal we ask for is the partial body fetch of max_message_bytes + 1.
        limit = max(self.config.max_message_bytes, self.config.max_header_bytes) + 1
        return connect(self.config.server, max_literal_bytes=limit)

    # Entry points -------------------------------------------------------------------------

    def sync_once(self) -> SyncReport:
        """Connect, store every new mail, flag or move it, disconnect."""
        client = self._connector()
        healthy = False
        try:
            self._prepare(client)
            report = self._catch_up(client, None)
            healthy = True
            return report
        finally:
            _close(client, logout=healthy)

    def run(self, stop: threading.Event) -> None:
        """Poll until `stop` is set; reconnects with exponential backoff and jitter."""
        self._failures = 0
        while not stop.is_set():
            try:
                self._session(stop)
            except Exception as exc:  # the thread must survive: logged, retried with backoff
                self._failures += 1
                self._log_failure(exc)
                stop.wait(self._backoff(self._failures))

    def _session(self, stop: threading.Event) -> None:
        """One connection: catch up, wait for mail, repeat, until stopped or broken."""
        client = self._connector()
        healthy = False
        try:
            self._prepare(client)
            while not stop.is_set():
                report = self._catch_up(client, stop)
                self._failures = 0  # the server works again: the next failure starts small
                if report.fetched:
                    log.info(
                        "IMAP %s: %d fetched, %d new, %d duplicate, %d too large",
                        self.name,
                        report.fetched,
                        report.stored,
                        report.duplicates,
                        report.too_large,
                    )
                self._wait_for_mail(client, stop)
            healthy = True
        finally:
            _close(client, logout=healthy)

    def _backoff(self, failures: int) -> float:
        ceiling = min(
            self.config.backoff_seconds * 2 ** max(failures - 1, 0),
            self.config.backoff_max_seconds,
        )
        return random.uniform(ceiling / 2, ceiling)

    def _log_failure(self, exc: BaseException) -> None:
        if is_connection_error(exc):
            log.warning("IMAP %s: connection failed: %s", self.name, exc)
        else:
            log.error("IMAP %s: session failed", self.name, exc_info=exc)

    # One session --------------------------------------------------------------------------

    def _prepare(self, client: IMAPClient) -> None:
        """Learn the server's folder names for this session; create the move target."""
        prefix, delimiter = _personal_namespace(client)
        self._folders = _Folders(
            mailbox=server_folder(self.config.mailbox, prefix, delimiter),
            move_to=server_folder(self.config.move_to, prefix, delimiter),
        )
        target = self._folders.move_to
        if self.config.after_fetch is AfterFetch.MOVE and not client.folder_exists(target):
            try:
                client.create_folder(target)
            except IMAPClient.Error:
                # Another poller may have created it in between; anything else shows below.
                if not client.folder_exists(target):
                    raise

    def _select(self, client: IMAPClient) -> tuple[int, int | None, bool]:
        """SELECT the mailbox: (UIDVALIDITY, UIDNEXT or None, keywords allowed)."""
        selected = client.select_folder(self._folders.mailbox)
        uidvalidity = selected.get(b"UIDVALIDITY")
        if not isinstance(uidvalidity, int) or not 0 < uidvalidity <= MAX_UID:
            # RFC 3501 section 6.3.1 makes UIDVALIDITY mandatory: without it no cursor is safe.
            raise ImapIntakeError(f"{self.name}: server sent no valid UIDVALIDITY")
        uidnext = selected.get(b"UIDNEXT")
        if not isinstance(uidnext, int) or not 0 < uidnext <= MAX_UID + 1:
            uidnext = None
        keywords = b"\\*" in selected.get(b"PERMANENTFLAGS", ())
        _take_exists(client)
        return uidvalidity, uidnext, keywords

    def _catch_up(self, client: IMAPClient, stop: threading.Event | None) -> SyncReport:
        """Store every mail above the cursor, each followed by its flag or move.

        Passes repeat while the server reports new mail (EXISTS) during one: such mail may lie
        above the UIDNEXT the pass started from, and IDLE would not announce it again.
        """
        tally = _Tally()
        rescanned = False
        while True:
            uidvalidity, last, rescanned_now = self._pass(client, stop, tally)
            rescanned = rescanned or rescanned_now
            if (stop is not None and stop.is_set()) or not _take_exists(client):
                break
        return SyncReport(
            account=self.config.account,
            mailbox=self.config.mailbox,
            uidvalidity=uidvalidity,
            last_uid=last,
            fetched=tally.fetched,
            stored=tally.stored,
            duplicates=tally.duplicates,
            too_large=tally.too_large,
            rescanned=rescanned,
        )

    def _pass(
        self, client: IMAPClient, stop: threading.Event | None, tally: _Tally
    ) -> tuple[int, int, bool]:
        """One SELECT and every UID between the cursor and UIDNEXT: (UIDVALIDITY, last, rescan)."""
        uidvalidity, uidnext, keywords = self._select(client)
        cursor = self._load_cursor()
        rescanned = cursor is not None and cursor.uidvalidity != uidvalidity
        last = 0
        if cursor is not None and not rescanned:
            last = cursor.last_uid
            self._reconcile(client, last)
        elif cursor is not None and self._warned_validity != uidvalidity:
            log.warning(
                "IMAP %s: UIDVALIDITY changed from %d to %d; reading the mailbox again",
                self.name,
                cursor.uidvalidity,
                uidvalidity,
            )
            self._warned_validity = uidvalidity
        for uids in self._new_uids(client, last, uidnext):
            for uid in self._process_batch(
                client, uids, uidvalidity=uidvalidity, keywords=keywords, tally=tally, stop=stop
            ):
                last = max(last, uid)
            if stop is not None and stop.is_set():
                break
        return uidvalidity, last, rescanned

    def _new_uids(self, client: IMAPClient, last: int, uidnext: int | None) -> Iterator[list[int]]:
        """UIDs above `last` in ascending batches, searched in bounded windows."""
        low = last + 1
        while low <= MAX_UID:
            if uidnext is not None and low >= uidnext:
                return
            high = min(low + self.config.uid_window - 1, MAX_UID)
            if uidnext is not None:
                high = min(high, uidnext - 1)
            # With no UIDNEXT (a non-compliant server) the last window is open-ended; "n:*"
            # also matches the highest UID when it is below n (RFC 3501 section 6.4.8),
            # hence the filter.
            criteria = f"{low}:{high}" if uidnext is not None else f"{low}:*"
            found = sorted({int(u) for u in client.search(["UID", criteria]) if int(u) >= low})
            if uidnext is not None:
                found = [u for u in found if u <= high]
            for start in range(0, len(found), self.config.fetch_batch):
                yield found[start : start + self.config.fetch_batch]
            if uidnext is None:
                return
            low = high + 1

    def _process_batch(
        self,
        client: IMAPClient,
        uids: Sequence[int],
        *,
        uidvalidity: int,
        keywords: bool,
        tally: _Tally,
        stop: threading.Event | None,
    ) -> Iterator[int]:
        sizes = client.fetch(list(uids), ["RFC822.SIZE"])
        for uid in uids:
            if stop is not None and stop.is_set():
                return
            if uid not in sizes:
                continue  # expunged since the search
            reported = sizes[uid].get(b"RFC822.SIZE")
            size = reported if isinstance(reported, int) and reported >= 0 else 0
            mail = self._fetch(client, uid, uidvalidity, size)
            if mail is None:
                continue
            created = self._store(mail, Cursor(uidvalidity=uidvalidity, last_uid=uid))
            tally.fetched += 1
            tally.stored += created
            tally.duplicates += not created
            tally.too_large += mail.too_large
            # Only now, with the mail and cursor committed, may the server copy change.
            self._after_commit(client, [uid], too_large=mail.too_large and keywords)
            yield uid

    def _fetch(
        self, client: IMAPClient, uid: int, uidvalidity: int, size: int
    ) -> FetchedMail | None:
        limit = self.config.max_message_bytes
        body: bytes | None = None
        if size <= limit:
            # Partial fetch of one byte past the limit: a server that under-reported
            # RFC822.SIZE still cannot make us read more than that.
            body = _section(client.fetch([uid], [f"BODY.PEEK[]<0.{limit + 1}>"]), uid, b"BODY[]")
            if body is None:
                return None  # expunged meanwhile (or a server that answers nothing)
            size = max(size, len(body))
        too_large = size > limit
        if body is not None and not too_large:
            raw = body
        else:
            item = f"BODY.PEEK[HEADER]<0.{self.config.max_header_bytes}>"
            header = _section(client.fetch([uid], [item]), uid, b"BODY[HEADER]")
            if header is None:
                return None
            raw = header
            log.warning(
                "IMAP %s: UID %d is %d bytes, over the limit of %d; headers only",
                self.name,
                uid,
                size,
                limit,
            )
        return FetchedMail(
            account=self.config.account,
            mailbox=self.config.mailbox,
            uidvalidity=uidvalidity,
            uid=uid,
            raw=raw,
            size=size,
            too_large=too_large,
        )

    # After the commit ----------------------------------------------------------------------

    def _after_commit(self, client: IMAPClient, uids: list[int], *, too_large: bool) -> None:
        """Flag (and move) stored mail. A NO from the server is logged, never retried forever:
        the mail is stored and the cursor past it, so the mark is only a courtesy to people
        reading the mailbox. Network errors propagate and the next session reconciles."""
        flags = [self.config.flag, *([TOO_LARGE_KEYWORD] if too_large else [])]
        try:
            client.add_flags(uids, flags, silent=True)
            if self.config.after_fetch is AfterFetch.MOVE:
                self._move(client, uids)
        except IMAPClient.Error as exc:
            if is_connection_error(exc):
                raise
            log.warning("IMAP %s: could not mark UIDs %s: %s", self.name, uids, exc)

    def _move(self, client: IMAPClient, uids: list[int]) -> None:
        if client.has_capability("MOVE"):  # RFC 6851
            client.move(uids, self._folders.move_to)
            return
        client.copy(uids, self._folders.move_to)
        client.add_flags(uids, ["\\Deleted"], silent=True)
        if client.has_capability("UIDPLUS"):  # RFC 4315: expunge only our own UIDs
            client.uid_expunge(uids)
        # Without UIDPLUS a plain EXPUNGE would also remove mail others marked \Deleted;
        # the copy stays marked \Deleted until the mailbox's owner expunges it.

    def _reconcile(self, client: IMAPClient, last: int) -> None:
        """Mark stored mail that a crash or network error left unmarked (at most the tail)."""
        if last <= 0:
            return
        low = max(1, last - self.config.reconcile_window + 1)
        criteria: list[str] = ["UID", f"{low}:{last}"]
        if self.config.after_fetch is AfterFetch.MOVE:
            criteria.append("UNDELETED")
        else:
            criteria.extend(_unflagged_criteria(self.config.flag))
        pending = sorted(int(u) for u in client.search(criteria) if low <= int(u) <= last)
        if pending:
            log.info("IMAP %s: marking stored UIDs %s left unmarked", self.name, pending)
            self._after_commit(client, pending, too_large=False)

    # Waiting -------------------------------------------------------------------------------

    def _wait_for_mail(self, client: IMAPClient, stop: threading.Event) -> None:
        """Return when new mail may be there: at once on EXISTS in IDLE, else after a while."""
        if stop.is_set():
            return
        if not (self.config.use_idle and client.has_capability("IDLE")):
            stop.wait(self.config.poll_seconds)
            return
        try:
            client.idle()
        except IMAPClient.Error as exc:
            # imapclient reports a BYE in place of the continuation as an "unexpected
            # response"; it is the server ending the session, like any other BYE.
            if "BYE" in client._imap.untagged_responses:
                raise imaplib.IMAP4.abort("server ended the session before IDLE") from exc
            raise
        deadline = time.monotonic() + self.config.idle_seconds
        quiet_returns = 0
        alive = True
        try:
            while not stop.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return  # re-issue IDLE before the server's 30-minute logout (RFC 2177)
                timeout = min(STOP_CHECK_SECONDS, remaining)
                started = time.monotonic()
                responses = client.idle_check(timeout=timeout)
                if any(r[:1] == (b"BYE",) for r in responses):
                    alive = False
                    raise imaplib.IMAP4.abort("server ended the session during IDLE")
                if any(_is_exists(r) for r in responses):
                    return
                # imapclient returns nothing both on a timeout and on end of file; a closed
                # connection shows as empty returns long before the timeout.
                quick = not responses and time.monotonic() - started < timeout / 2
                quiet_returns = quiet_returns + 1 if quick else 0
                if quiet_returns >= 5:
                    alive = False
                    raise imaplib.IMAP4.abort("connection closed during IDLE")
        finally:
            if alive:
                client.idle_done()


def _section(found: dict[int, dict[bytes, Any]], uid: int, prefix: bytes) -> bytes | None:
    """The bytes of a fetched body section (`BODY[]<0>`, `BODY[HEADER]<0>`, ...)."""
    for key, value in found.get(uid, {}).items():
        if isinstance(key, bytes) and key.startswith(prefix) and isinstance(value, bytes):
            return value
    return None


def _is_exists(response: tuple[Any, ...]) -> bool:
    return len(response) >= 2 and response[1] == b"EXISTS"


def _take_exists(client: IMAPClient) -> bool:
    """Whether the server reported EXISTS since the last look (and forget it).

    imapclient keeps untagged responses of other commands in imaplib's `untagged_responses`;
    an EXISTS reported there (RFC 3501 section 7.3.1) means mail arrived that our last SEARCH
    may not have seen and that IDLE will not announce again.
    """
    pending: dict[str, list[Any]] = client._imap.untagged_responses
    return pending.pop("EXISTS", None) is not None


def _unflagged_criteria(flag: str) -> list[str]:
    system = _SYSTEM_FLAG_UNSET_SEARCH.get(flag.lower())
    if system is not None:
        return [system]
    return ["UNKEYWORD", flag]
