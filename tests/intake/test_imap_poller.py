"""The IMAP poller against a real Dovecot: exactly-once intake, crashes, UIDVALIDITY, limits.

Mail is put on the server the way it gets there in life (IMAP APPEND); the poller reads it into
the real database (SQLite and PostgreSQL via `db_url`) through `deskmail.imap_service`'s wiring.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from deskmail.app import App
from deskmail.imap_service import build_poller, cursor_loader, mail_store, poller_config
from intake.imap_poller import (
    TOO_LARGE_KEYWORD,
    AfterFetch,
    Cursor,
    FetchedMail,
    ImapPoller,
    server_folder,
)
from models import InboundStatus, Outcome, Ticket
from tests.conftest import REPO
from tests.intake.imap_helpers import (
    account,
    cursors,
    helpdesk_mail,
    inbound_count,
    inbound_rows,
    open_app,
)

if TYPE_CHECKING:
    from deskmail.worker import Result
    from tests.servers.dovecot import DovecotServer, ImapUser

pytestmark = pytest.mark.dovecot

SEEN = b"\\Seen"


def run_worker(app: App) -> list[Result]:
    """One round of the pipeline worker over the stored mail."""
    from deskmail.wiring import build_worker  # noqa: PLC0415 - loads every pipeline stage

    return build_worker(app).run_once()


def test_appended_mail_becomes_tickets_exactly_once(
    dovecot: DovecotServer, imap_user: ImapUser, db_url: str, tmp_path: Path
) -> None:
    mails = [helpdesk_mail(n) for n in range(3)]
    for raw in mails:
        dovecot.append(imap_user, raw)
    with closing(open_app(tmp_path, db_url, [account(dovecot, imap_user)])) as app:
        poller = build_poller(app, app.settings.imap_accounts[0], "INBOX")
        first = poller.sync_once()
        again = poller.sync_once()

        assert (first.fetched, first.stored, first.duplicates) == (3, 3, 0)
        assert (again.fetched, again.stored) == (0, 0)
        rows = inbound_rows(app)
        assert [row.raw for row in rows] == mails  # byte for byte, in UID order
        assert {row.source for row in rows} == {"imap:helpdesk/INBOX"}
        assert cursors(app) == {("helpdesk", "INBOX"): (first.uidvalidity, 3)}
        # Flagged on the server only after the commit; nothing left unread.
        assert all(SEEN in flags for flags in dovecot.messages(imap_user).values())

        results = run_worker(app)
        assert [r.outcome for r in results] == [Outcome.TICKET_CREATED] * 3
        assert run_worker(app) == []
        with app.read_sessions() as session:
            subjects = sorted(session.scalars(select(Ticket.subject)))
        assert subjects == [f"Printer problem {n}" for n in range(3)]


def test_mail_is_not_marked_read_when_storing_fails(
    dovecot: DovecotServer, imap_user: ImapUser, sqlite_url: str, tmp_path: Path
) -> None:
    dovecot.append(imap_user, helpdesk_mail(1))
    with closing(open_app(tmp_path, sqlite_url, [account(dovecot, imap_user)])) as app:
        settings = app.settings
        imap_account = settings.imap_accounts[0]

        def failing_store(mail: FetchedMail, cursor: Cursor) -> bool:
            raise RuntimeError("database unavailable")

        poller = ImapPoller(
            poller_config(settings, imap_account, "INBOX"),
            cursor_loader(app, imap_account.name, "INBOX"),
            failing_store,
        )
        with pytest.raises(RuntimeError, match="database unavailable"):
            poller.sync_once()
        # BODY.PEEK[] does not set \Seen, and no flag came before a commit.
        assert dovecot.messages(imap_user) == {1: ()}
        assert inbound_count(app) == 0
        assert cursors(app) == {}

        report = build_poller(app, imap_account, "INBOX").sync_once()
        assert report.stored == 1
        assert dovecot.messages(imap_user) == {1: (SEEN,)}


CRASHING_POLLER = """
import json, os, signal, sys
from deskmail.app import App
from deskmail.app import App
from deskmail.imap_service import cursor_loader, mail_store, poller_config
from deskmail.settings import load_settings
from intake.imap_poller import ImapPoller

values = json.loads(sys.argv[1])
kill_after = int(sys.argv[2])
settings = load_settings(**values)
app = App.open(settings)
imap_account = settings.imap_accounts[0]
store = mail_store(app, imap_account.name, "INBOX")
stored = []

def store_then_die(mail, cursor):
    created = store(mail, cursor)  # committed here
    stored.append(mail.uid)
    if len(stored) == kill_after:
        # Between the commit and the flag: the process dies as in a power cut.
        os.kill(os.getpid(), signal.SIGKILL)
    return created

poller = ImapPoller(
    poller_config(settings, imap_account, "INBOX"),
    cursor_loader(app, imap_account.name, "INBOX"),
    store_then_die,
)
poller.sync_once()
"""


def test_poller_killed_between_commit_and_flag_loses_nothing_and_stores_nothing_twice(
    dovecot: DovecotServer, imap_user: ImapUser, db_url: str, tmp_path: Path
) -> None:
    mails = [helpdesk_mail(n) for n in range(4)]
    for raw in mails:
        dovecot.append(imap_user, raw)
    values = {
        "data_dir": str(tmp_path / "data"),
        "database_url": db_url,
        "addresses": ["help@example.org"],
        "secret_key": "test-secret-key-not-for-production",
        "imap_accounts": [account(dovecot, imap_user)],
    }
    script = tmp_path / "crashing_poller.py"
    script.write_text(CRASHING_POLLER)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.run(
        [sys.executable, str(script), json.dumps(values), "2"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert process.returncode == -signal.SIGKILL, process.stderr

    with closing(open_app(tmp_path, db_url, [account(dovecot, imap_user)])) as app:
        # Killed after committing UID 2 and before flagging it.
        assert [row.raw for row in inbound_rows(app)] == mails[:2]
        assert dovecot.messages(imap_user) == {1: (SEEN,), 2: (), 3: (), 4: ()}
        uidvalidity = cursors(app)[("helpdesk", "INBOX")][0]
        assert cursors(app) == {("helpdesk", "INBOX"): (uidvalidity, 2)}

        report = build_poller(app, app.settings.imap_accounts[0], "INBOX").sync_once()

        assert (report.fetched, report.stored, report.duplicates) == (2, 2, 0)
        rows = inbound_rows(app)
        assert [row.raw for row in rows] == mails  # none lost, none twice
        assert len({row.raw_sha256 for row in rows}) == 4
        # The fresh poller flagged what the crash left unflagged.
        assert all(SEEN in flags for flags in dovecot.messages(imap_user).values())
        assert cursors(app) == {("helpdesk", "INBOX"): (uidvalidity, 4)}


def _rebuild_mailbox_index(dovecot: DovecotServer, user: ImapUser) -> None:
    """What an administrator's index rebuild (or a restore from a file backup) does: Dovecot
    loses its UID list and index, keeps the mail files, and gives the mailbox a new
    UIDVALIDITY with UIDs from 1 again."""
    maildir = dovecot.maildir(user)
    for path in [maildir / "dovecot-uidlist", *maildir.glob("dovecot.index*")]:
        path.unlink()


def test_uidvalidity_change_rescans_everything_without_duplicates(
    dovecot: DovecotServer, imap_user: ImapUser, db_url: str, tmp_path: Path
) -> None:
    mails = [helpdesk_mail(n) for n in range(3)]
    for raw in mails:
        dovecot.append(imap_user, raw)
    with closing(open_app(tmp_path, db_url, [account(dovecot, imap_user)])) as app:
        poller = build_poller(app, app.settings.imap_accounts[0], "INBOX")
        before = poller.sync_once()
        _rebuild_mailbox_index(dovecot, imap_user)
        late = helpdesk_mail(99)
        dovecot.append(imap_user, late)

        after = poller.sync_once()

        assert after.uidvalidity != before.uidvalidity
        assert after.rescanned
        # Every mail read again; only the new one stored.
        assert (after.fetched, after.stored, after.duplicates) == (4, 1, 3)
        assert [row.raw for row in inbound_rows(app)] == [*mails, late]
        assert cursors(app) == {("helpdesk", "INBOX"): (after.uidvalidity, 4)}
        assert poller.sync_once().fetched == 0


def test_lost_uid_list_renumbers_mail_and_dedupe_keeps_it_single(
    dovecot: DovecotServer, imap_user: ImapUser, sqlite_url: str, tmp_path: Path
) -> None:
    # Without dovecot-uidlist but with its index, Dovecot keeps UIDVALIDITY and gives the same
    # mail new, higher UIDs: the cursor cannot tell, only the raw-bytes dedupe can.
    mails = [helpdesk_mail(n) for n in range(3)]
    for raw in mails:
        dovecot.append(imap_user, raw)
    with closing(open_app(tmp_path, sqlite_url, [account(dovecot, imap_user)])) as app:
        poller = build_poller(app, app.settings.imap_accounts[0], "INBOX")
        before = poller.sync_once()
        (dovecot.maildir(imap_user) / "dovecot-uidlist").unlink()

        after = poller.sync_once()

        assert after.uidvalidity == before.uidvalidity
        assert not after.rescanned
        assert (after.fetched, after.stored, after.duplicates) == (3, 0, 3)
        assert [row.raw for row in inbound_rows(app)] == mails
        assert cursors(app)[("helpdesk", "INBOX")] == (before.uidvalidity, 6)


def test_too_large_mail_is_recorded_with_its_headers_and_does_not_block(
    dovecot: DovecotServer, imap_user: ImapUser, sqlite_url: str, tmp_path: Path
) -> None:
    big = helpdesk_mail(2, body=("y" * 76 + "\r\n") * 200)  # about 16 KiB
    mails = [helpdesk_mail(1), big, helpdesk_mail(3)]
    for raw in mails:
        dovecot.append(imap_user, raw)
    limits = {"max_message_bytes": 8 * 1024}
    accounts = [account(dovecot, imap_user)]
    with closing(open_app(tmp_path, sqlite_url, accounts, limits=limits)) as app:
        report = build_poller(app, app.settings.imap_accounts[0], "INBOX").sync_once()

        assert (report.fetched, report.stored, report.too_large) == (3, 3, 1)
        small_one, too_large, small_two = inbound_rows(app)
        header_section = big.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
        assert too_large.raw == header_section
        assert too_large.status == InboundStatus.QUARANTINED
        assert too_large.outcome == Outcome.QUARANTINED
        assert too_large.details["reason"] == "too_large"
        assert too_large.details["size"] == len(big)
        assert too_large.details["imap"]["uid"] == 2
        assert [small_one.raw, small_two.raw] == [mails[0], mails[2]]
        # The mail stays on the server, marked, and later mail was not held up.
        flags = dovecot.messages(imap_user)
        assert TOO_LARGE_KEYWORD.encode() in flags[2]
        assert SEEN in flags[2]
        assert TOO_LARGE_KEYWORD.encode() not in flags[1]

        results = run_worker(app)
        assert sorted(r.inbound_id for r in results) == [small_one.id, small_two.id]


def test_move_after_fetch_moves_only_after_commit(
    dovecot: DovecotServer, imap_user: ImapUser, db_url: str, tmp_path: Path
) -> None:
    mails = [helpdesk_mail(n) for n in range(3)]
    for raw in mails:
        dovecot.append(imap_user, raw)
    accounts = [account(dovecot, imap_user, after_fetch="move", move_to="Deskmail/Done")]
    with closing(open_app(tmp_path, db_url, accounts)) as app:
        poller = build_poller(app, app.settings.imap_accounts[0], "INBOX")
        report = poller.sync_once()

        assert report.stored == 3
        assert dovecot.messages(imap_user, "INBOX") == {}
        # "/" in the setting is the hierarchy; Dovecot's Maildir++ spells it with ".".
        moved = dovecot.messages(imap_user, "Deskmail.Done")
        assert len(moved) == 3
        assert all(SEEN in flags for flags in moved.values())
        assert [row.raw for row in inbound_rows(app)] == mails

        dovecot.append(imap_user, helpdesk_mail(3))
        assert poller.sync_once().stored == 1
        assert len(dovecot.messages(imap_user, "Deskmail.Done")) == 4


def test_keyword_flag_and_reconcile_after_a_lost_flag(
    dovecot: DovecotServer, imap_user: ImapUser, sqlite_url: str, tmp_path: Path
) -> None:
    for n in range(2):
        dovecot.append(imap_user, helpdesk_mail(n))
    with closing(open_app(tmp_path, sqlite_url, [account(dovecot, imap_user)])) as app:
        imap_account = app.settings.imap_accounts[0]
        config = replace(poller_config(app.settings, imap_account, "INBOX"), flag="$Deskmail")
        poller = ImapPoller(
            config,
            cursor_loader(app, imap_account.name, "INBOX"),
            mail_store(app, imap_account.name, "INBOX"),
        )
        poller.sync_once()
        assert dovecot.messages(imap_user) == {1: (b"$Deskmail",), 2: (b"$Deskmail",)}

        # A flag lost (removed by a person, or never set after a crash) is set again for the
        # tail of the stored UIDs, without fetching the mail again.
        with dovecot.client(imap_user) as client:
            client.select_folder("INBOX")
            client.remove_flags([2], ["$Deskmail"])
        report = poller.sync_once()
        assert report.fetched == 0
        assert dovecot.messages(imap_user) == {1: (b"$Deskmail",), 2: (b"$Deskmail",)}
        assert inbound_count(app) == 2


def test_config_refuses_unusable_flags_and_idle_periods(
    dovecot: DovecotServer, imap_user: ImapUser, sqlite_url: str, tmp_path: Path
) -> None:
    with closing(open_app(tmp_path, sqlite_url, [account(dovecot, imap_user)])) as app:
        config = poller_config(app.settings, app.settings.imap_accounts[0], "INBOX")
    for flag in ("\\Deleted", "two words", "bad)", ""):
        with pytest.raises(ValueError, match="flag"):
            replace(config, flag=flag)
    with pytest.raises(ValueError, match="RFC 2177"):
        replace(config, idle_seconds=30 * 60)
    with pytest.raises(ValueError, match="move_to"):
        replace(config, after_fetch=AfterFetch.MOVE, move_to="inbox")


@pytest.mark.parametrize(
    ("name", "prefix", "delimiter", "expected"),
    [
        ("Deskmail/Processed", "", ".", "Deskmail.Processed"),
        ("Deskmail/Processed", "", "/", "Deskmail/Processed"),
        ("Deskmail/Processed", "INBOX.", ".", "INBOX.Deskmail.Processed"),
        ("INBOX.Done", "INBOX.", ".", "INBOX.Done"),
        ("inbox", "INBOX.", ".", "INBOX"),
        ("Support", "", None, "Support"),
    ],
)
def test_folder_names_follow_the_servers_hierarchy(
    name: str, prefix: str, delimiter: str | None, expected: str
) -> None:
    assert server_folder(name, prefix, delimiter) == expected


def test_small_search_windows_and_batches_still_read_every_mail(
    dovecot: DovecotServer, imap_user: ImapUser, sqlite_url: str, tmp_path: Path
) -> None:
    # Windows bound each SEARCH response however large the mailbox; gaps left by deleted
    # mail (UIDs 2 and 3 here) must not end the scan early.
    mails = [helpdesk_mail(n) for n in range(7)]
    for raw in mails:
        dovecot.append(imap_user, raw)
    with dovecot.client(imap_user) as client:
        client.select_folder("INBOX")
        client.delete_messages([2, 3])
        client.expunge()
    with closing(open_app(tmp_path, sqlite_url, [account(dovecot, imap_user)])) as app:
        imap_account = app.settings.imap_accounts[0]
        config = replace(
            poller_config(app.settings, imap_account, "INBOX"), uid_window=2, fetch_batch=1
        )
        poller = ImapPoller(
            config,
            cursor_loader(app, imap_account.name, "INBOX"),
            mail_store(app, imap_account.name, "INBOX"),
        )
        report = poller.sync_once()
        assert (report.fetched, report.last_uid) == (5, 7)
        assert [row.raw for row in inbound_rows(app)] == [mails[0], *mails[3:]]
