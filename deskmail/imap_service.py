"""IMAP intake as a service: one poller thread per account and mailbox, wired to the database.

`intake.imap_poller` reads mailboxes and knows no database; this module gives each poller its two
callables: `load_cursor` reads the mailbox's cursor, and `store` commits the raw mail together
with the new cursor in one short transaction (no network call inside it), so the poller flags
or moves the mail on the server only after both are durable (DESIGN.md, One mail, step 1).
`deskmail serve` runs `ImapService` beside the SMTP intake and the workers.

A mail over `limits.max_message_bytes` is recorded, not fetched: its header section is stored
as a quarantined inbound row (reason `too_large`, see docs/decisions/0082), which the worker
never claims, so an agent can see that the mail came and the mailbox moves on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from deskmail.app import App
from deskmail.db import transaction
from deskmail.settings import ImapAccount, Settings, SettingsError
from intake.errors import QuarantineReason
from intake.imap_poller import (
    AfterFetch,
    Cursor,
    FetchedMail,
    ImapPoller,
    ImapServer,
    LoadCursor,
    PollerConfig,
    Security,
    StoreMail,
    SyncReport,
)
from intake.store import Envelope, store_raw
from models import InboundMessage, InboundStatus, MailboxCursor, Outcome, utcnow

log = logging.getLogger(__name__)


def poller_config(settings: Settings, account: ImapAccount, mailbox: str) -> PollerConfig:
    """The poller's configuration for one mailbox of one configured account."""
    return PollerConfig(
        account=account.name,
        mailbox=mailbox,
        server=ImapServer(
            host=account.host,
            port=account.port,
            username=account.username,
            password=account.password.get_secret_value(),
            security=Security(account.security),
            timeout_seconds=account.timeout_seconds,
        ),
        max_message_bytes=settings.limits.max_message_bytes,
        max_header_bytes=settings.limits.max_header_bytes,
        after_fetch=AfterFetch(account.after_fetch),
        flag=account.flag,
        move_to=account.move_to,
        use_idle=account.use_idle,
        poll_seconds=account.poll_seconds,
    )


def imap_source(account: str, mailbox: str) -> str:
    """The `source` of inbound rows from one mailbox."""
    return f"imap:{account}/{mailbox}"


def cursor_loader(app: App, account: str, mailbox: str) -> LoadCursor:
    """Reads the stored cursor of one mailbox."""

    def load_cursor() -> Cursor | None:
        with app.read_sessions() as session:
            row = session.execute(
                select(MailboxCursor.uidvalidity, MailboxCursor.last_uid).where(
                    MailboxCursor.account == account, MailboxCursor.mailbox == mailbox
                )
            ).one_or_none()
        return None if row is None else Cursor(uidvalidity=row[0], last_uid=row[1])

    return load_cursor


def mail_store(app: App, account: str, mailbox: str, *, peer: str = "") -> StoreMail:
    """Stores one fetched mail and its mailbox's new cursor in one transaction."""
    source = imap_source(account, mailbox)
    limit = app.settings.limits.max_message_bytes

    def store(mail: FetchedMail, cursor: Cursor) -> bool:
        envelope = Envelope(source=source, peer=peer)
        with transaction(app.sessions) as session:
            stored = store_raw(session, mail.raw, envelope)
            if stored.created and mail.too_large:
                _quarantine_too_large(session, stored.inbound_id, mail, limit)
            _advance_cursor(session, account, mailbox, cursor)
        if mail.too_large:
            log.info(
                "IMAP %s UID %d: %d bytes over the limit; recorded as inbound %d (headers only)",
                source,
                mail.uid,
                mail.size,
                stored.inbound_id,
            )
        return stored.created

    return store


def _advance_cursor(session: Session, account: str, mailbox: str, cursor: Cursor) -> None:
    # FOR UPDATE (PostgreSQL): two processes polling the same mailbox by mistake serialise here
    # instead of moving the cursor backwards; on SQLite BEGIN IMMEDIATE serialises already.
    row = session.execute(
        select(MailboxCursor)
        .where(MailboxCursor.account == account, MailboxCursor.mailbox == mailbox)
        .with_for_update()
    ).scalar_one_or_none()
    if row is None:
        session.add(
            MailboxCursor(
                account=account,
                mailbox=mailbox,
                uidvalidity=cursor.uidvalidity,
                last_uid=cursor.last_uid,
            )
        )
    elif row.uidvalidity != cursor.uidvalidity:
        # The old UIDs mean nothing under a new UIDVALIDITY (RFC 3501 section 2.3.1.1).
        row.uidvalidity = cursor.uidvalidity
        row.last_uid = cursor.last_uid
    else:
        row.last_uid = max(row.last_uid, cursor.last_uid)


def _quarantine_too_large(session: Session, inbound_id: int, mail: FetchedMail, limit: int) -> None:
    row = session.get(InboundMessage, inbound_id)
    if row is None:  # pragma: no cover - inserted in this very transaction
        return
    row.status = InboundStatus.QUARANTINED
    row.outcome = Outcome.QUARANTINED
    row.outcome_reason = (
        f"{QuarantineReason.TOO_LARGE.value}: {mail.size} bytes, over the limit of {limit}; "
        "only the header section was fetched, the mail itself stays on the IMAP server"
    )
    row.details = {
        "reason": QuarantineReason.TOO_LARGE.value,
        "size": mail.size,
        "limit": limit,
        "headers_only": True,
        "imap": {
            "account": mail.account,
            "mailbox": mail.mailbox,
            "uidvalidity": mail.uidvalidity,
            "uid": mail.uid,
        },
    }
    row.processed_at = utcnow()


def build_poller(app: App, account: ImapAccount, mailbox: str) -> ImapPoller:
    """One poller for one mailbox of one account, wired to this process's database."""
    try:
        config = poller_config(app.settings, account, mailbox)
    except ValueError as exc:
        raise SettingsError(f"IMAP account {account.name!r}, mailbox {mailbox!r}: {exc}") from exc
    return ImapPoller(
        config,
        cursor_loader(app, account.name, mailbox),
        mail_store(app, account.name, mailbox, peer=f"{account.host}:{account.port}"),
    )


def build_pollers(app: App) -> list[ImapPoller]:
    """A poller for every mailbox of every configured account."""
    seen: set[tuple[str, str]] = set()
    pollers = []
    for account in app.settings.imap_accounts:
        for mailbox in account.mailboxes:
            # The cursor is keyed by (account name, mailbox): two pollers on one key would
            # each skip mail the other stored.
            if (account.name, mailbox) in seen:
                raise SettingsError(f"IMAP mailbox {account.name}/{mailbox} is configured twice")
            seen.add((account.name, mailbox))
            pollers.append(build_poller(app, account, mailbox))
    return pollers


def sync_accounts(app: App) -> list[SyncReport]:
    """One pass over every configured mailbox (for `deskmail imap sync` and cron-style use)."""
    return [poller.sync_once() for poller in build_pollers(app)]


class ImapService:
    """The IMAP pollers of one process, each in a thread of its own (the `Service` protocol)."""

    name = "imap"

    def __init__(self, app: App, pollers: Sequence[ImapPoller] | None = None) -> None:
        self.app = app
        self._pollers = list(pollers) if pollers is not None else None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._errors: list[BaseException] = []

    def start(self) -> str:
        """Start one thread per mailbox; returns a line for the operator."""
        pollers = self._pollers if self._pollers is not None else build_pollers(self.app)
        for poller in pollers:
            thread = threading.Thread(
                target=self._run, args=(poller,), name=f"imap-{poller.name}", daemon=True
            )
            self._threads.append(thread)
            thread.start()
        accounts = {p.config.account for p in pollers}
        if not pollers:
            return "no IMAP accounts configured"
        return f"{len(pollers)} mailbox(es) of {len(accounts)} account(s)"

    def _run(self, poller: ImapPoller) -> None:
        try:
            poller.run(self._stop)
        except BaseException as exc:  # reported through `failure()`
            log.exception("IMAP poller %s stopped", poller.name)
            self._errors.append(exc)

    def stop(self, timeout: float) -> None:
        """Let each poller finish the mail it is storing, leave IDLE and log out."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0.0))
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            log.warning("IMAP pollers still busy at exit: %s", ", ".join(alive))

    def failure(self) -> BaseException | None:
        """The error of a poller thread that died (`run` itself never gives up)."""
        if self._errors:
            return self._errors[0]
        return None
