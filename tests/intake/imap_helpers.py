"""Shared pieces of the IMAP intake tests: test mail, account settings, database look-ups."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from deskmail.app import App
from models import InboundMessage, MailboxCursor
from tests.conftest import make_settings

if TYPE_CHECKING:
    from tests.servers.dovecot import DovecotServer, ImapUser


def helpdesk_mail(number: int, *, sender: str = "alice@example.com", body: str = "") -> bytes:
    """A small, distinct mail to the help desk."""
    text = body or f"My printer number {number} does not print any more.\r\n"
    return (
        f"From: Alice Example <{sender}>\r\n"
        "To: help@example.org\r\n"
        f"Subject: Printer problem {number}\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@example.com>\r\n"
        "Date: Mon, 06 Jan 2025 09:00:00 +0000\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        f"{text}"
    ).encode()


def account(
    dovecot: DovecotServer, user: ImapUser, name: str = "helpdesk", **overrides: Any
) -> dict[str, Any]:
    """The settings of one IMAP account on the test server (plain text on loopback)."""
    values: dict[str, Any] = {
        "name": name,
        "host": dovecot.host,
        "port": dovecot.port,
        "security": "none",
        "username": user.name,
        "password": user.password,
        "timeout_seconds": 5.0,
    }
    values.update(overrides)
    return values


def open_app(tmp_path: Path, db_url: str, accounts: list[dict[str, Any]], **overrides: Any) -> App:
    """The application with the given IMAP accounts."""
    return App.open(make_settings(tmp_path / "data", db_url, imap_accounts=accounts, **overrides))


def inbound_rows(app: App) -> list[InboundMessage]:
    """Every stored mail, oldest first."""
    with app.read_sessions() as session:
        return list(session.scalars(select(InboundMessage).order_by(InboundMessage.id)))


def inbound_count(app: App) -> int:
    """How many mails are stored."""
    with app.read_sessions() as session:
        return int(session.scalar(select(func.count()).select_from(InboundMessage)) or 0)


def cursors(app: App) -> dict[tuple[str, str], tuple[int, int]]:
    """(account, mailbox) -> (UIDVALIDITY, last UID)."""
    with app.read_sessions() as session:
        return {
            (c.account, c.mailbox): (c.uidvalidity, c.last_uid)
            for c in session.scalars(select(MailboxCursor))
        }
