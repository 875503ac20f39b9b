"""The IMAP service against a real Dovecot: pollers in threads, IDLE, polling, many accounts.

These run the pollers the way `deskmail serve` does (`ImapService.start()` / `stop()`), append
mail while they run, and wait for it to be stored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from deskmail.app import App
from deskmail.imap_service import ImapService, cursor_loader, mail_store, poller_config
from deskmail.settings import SettingsError
from intake.imap_poller import ImapPoller
from tests.intake.imap_helpers import (
    account,
    cursors,
    helpdesk_mail,
    inbound_count,
    inbound_rows,
    open_app,
)

if TYPE_CHECKING:
    from tests.servers.dovecot import DovecotServer, ImapUser

pytestmark = pytest.mark.dovecot


def wait_for(condition: Callable[[], bool], seconds: float) -> float:
    """Seconds until `condition` held; fails the test after `seconds`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > seconds:
            pytest.fail(f"not reached within {seconds} s")
        time.sleep(0.02)
    return time.monotonic() - started


def started(service: ImapService) -> ImapService:
    service.start()
    return service


def test_idle_picks_up_mail_appended_while_waiting(
    dovecot: DovecotServer, imap_user: ImapUser, sqlite_url: str, tmp_path: Path
) -> None:
    dovecot.append(imap_user, helpdesk_mail(1))
    # Polling would take ten minutes: only IDLE can be this quick.
    accounts = [account(dovecot, imap_user, use_idle=True, poll_seconds=600)]
    with closing(open_app(tmp_path, sqlite_url, accounts)) as app:
        service = started(ImapService(app))
        try:
            wait_for(lambda: inbound_count(app) == 1, 10)
            time.sleep(0.3)  # the poller is in IDLE now
            for expected in (2, 3):
                dovecot.append(imap_user, helpdesk_mail(expected))

                def arrived(expected: int = expected) -> bool:
                    return inbound_count(app) == expected

                assert wait_for(arrived, 5) < 3
        finally:
            service.stop(5)
        assert service.failure() is None
        assert len(inbound_rows(app)) == 3


def test_idle_is_reissued_and_still_hears_new_mail(
    dovecot: DovecotServer, imap_user: ImapUser, sqlite_url: str, tmp_path: Path
) -> None:
    # RFC 2177: IDLE must be renewed before 29 minutes; here every 0.3 s, many times over.
    accounts = [account(dovecot, imap_user, poll_seconds=600)]
    with closing(open_app(tmp_path, sqlite_url, accounts)) as app:
        imap_account = app.settings.imap_accounts[0]
        config = replace(poller_config(app.settings, imap_account, "INBOX"), idle_seconds=0.3)
        poller = ImapPoller(
            config,
            cursor_loader(app, imap_account.name, "INBOX"),
            mail_store(app, imap_account.name, "INBOX"),
        )
        service = started(ImapService(app, [poller]))
        try:
            time.sleep(1.5)
            dovecot.append(imap_user, helpdesk_mail(1))
            assert wait_for(lambda: inbound_count(app) == 1, 5) < 3
        finally:
            service.stop(5)
        assert service.failure() is None


def test_polling_mode_finds_new_mail(
    dovecot: DovecotServer, imap_user: ImapUser, sqlite_url: str, tmp_path: Path
) -> None:
    accounts = [account(dovecot, imap_user, use_idle=False, poll_seconds=0.5)]
    with closing(open_app(tmp_path, sqlite_url, accounts)) as app:
        service = started(ImapService(app))
        try:
            time.sleep(0.3)
            dovecot.append(imap_user, helpdesk_mail(1))
            wait_for(lambda: inbound_count(app) == 1, 5)
            dovecot.append(imap_user, helpdesk_mail(2))
            wait_for(lambda: inbound_count(app) == 2, 5)
        finally:
            service.stop(5)
        assert service.failure() is None
        assert all(b"\\Seen" in flags for flags in dovecot.messages(imap_user).values())


def test_several_accounts_and_mailboxes_at_once(
    dovecot: DovecotServer, db_url: str, tmp_path: Path
) -> None:
    first, second = dovecot.add_user("first"), dovecot.add_user("second")
    dovecot.append(first, helpdesk_mail(1))
    dovecot.append(first, helpdesk_mail(2), mailbox="Support")
    dovecot.append(second, helpdesk_mail(3, sender="bob@example.com"))
    accounts = [
        account(dovecot, first, name="first", mailboxes=["INBOX", "Support"]),
        account(dovecot, second, name="second", after_fetch="move", move_to="Archive/Deskmail"),
    ]
    with closing(open_app(tmp_path, db_url, accounts)) as app:
        service = ImapService(app)
        assert service.start() == "3 mailbox(es) of 2 account(s)"
        try:
            wait_for(lambda: inbound_count(app) == 3, 10)
            time.sleep(0.3)
            dovecot.append(second, helpdesk_mail(4, sender="bob@example.com"))
            dovecot.append(first, helpdesk_mail(5), mailbox="Support")
            wait_for(lambda: inbound_count(app) == 5, 5)
        finally:
            service.stop(5)
        assert service.failure() is None

        sources = sorted(row.source for row in inbound_rows(app))
        assert sources == [
            "imap:first/INBOX",
            "imap:first/Support",
            "imap:first/Support",
            "imap:second/INBOX",
            "imap:second/INBOX",
        ]
        assert {key: last for key, (_validity, last) in cursors(app).items()} == {
            ("first", "INBOX"): 1,
            ("first", "Support"): 2,
            ("second", "INBOX"): 2,
        }
        assert dovecot.messages(second, "INBOX") == {}
        assert len(dovecot.messages(second, "Archive.Deskmail")) == 2
        assert len(dovecot.messages(first, "INBOX")) == 1


def test_reconnects_after_the_server_drops_the_connection(
    dovecot: DovecotServer,
    imap_user: ImapUser,
    sqlite_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    accounts = [account(dovecot, imap_user, poll_seconds=600)]
    with closing(open_app(tmp_path, sqlite_url, accounts)) as app:
        service = started(ImapService(app))
        try:
            dovecot.append(imap_user, helpdesk_mail(1))
            wait_for(lambda: inbound_count(app) == 1, 5)
            time.sleep(0.3)
            with caplog.at_level(logging.WARNING, logger="intake.imap_poller"):
                dovecot.kick(imap_user)  # BYE, then the connection closes
                time.sleep(0.2)
                dovecot.append(imap_user, helpdesk_mail(2))
                wait_for(lambda: inbound_count(app) == 2, 10)
        finally:
            service.stop(5)
        assert service.failure() is None
        assert any("connection failed" in r.getMessage() for r in caplog.records)


def test_stop_ends_idle_promptly(
    dovecot: DovecotServer, imap_user: ImapUser, sqlite_url: str, tmp_path: Path
) -> None:
    accounts = [account(dovecot, imap_user, poll_seconds=600)]
    with closing(open_app(tmp_path, sqlite_url, accounts)) as app:
        service = started(ImapService(app))
        dovecot.append(imap_user, helpdesk_mail(1))
        wait_for(lambda: inbound_count(app) == 1, 5)
        time.sleep(0.3)
        began = time.monotonic()
        service.stop(5)
        assert time.monotonic() - began < 2
        assert service.failure() is None


def test_no_accounts_means_nothing_to_run(sqlite_app: App) -> None:
    service = ImapService(sqlite_app)
    assert service.start() == "no IMAP accounts configured"
    service.stop(1)
    assert service.failure() is None


def test_a_mailbox_configured_twice_is_refused(sqlite_url: str, tmp_path: Path) -> None:
    twice = {"host": "127.0.0.1", "username": "u", "password": "p", "mailboxes": ["INBOX"]}
    accounts: list[dict[str, Any]] = [{"name": "a", **twice}, {"name": "a", **twice, "port": 143}]
    with (
        closing(open_app(tmp_path, sqlite_url, accounts)) as app,
        pytest.raises(SettingsError, match="configured twice"),
    ):
        ImapService(app).start()
