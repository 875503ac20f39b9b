"""A real Dovecot IMAP server for the IMAP intake tests, started without systemd.

One Dovecot per test session (per xdist worker): a generated configuration in a private folder
under /tmp (its own base_dir, state_dir, log and maildirs, so parallel sessions never clash),
listening on a free loopback port with plain-text login and no TLS. Each test gets a fresh user
(any user name logs in with the session's password; Dovecot creates the maildir at the first
login), so tests never see each other's mail.

Why /tmp and not pytest's tmp_path: Dovecot stores mail as the unprivileged `dovecot` user (it
refuses uid 0 for mail access), and that user must be able to traverse every parent of the mail
folder; pytest's tmp_path lives under a 0700 folder.

Register the fixtures with `pytest_plugins = ["tests.servers.dovecot"]`; tests that use them
carry the `dovecot` marker.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient

HOST = "127.0.0.1"
MAIL_SYSTEM_USER = "dovecot"  # the package's own unprivileged user owns the mail files
START_SECONDS = 15.0

_CONFIG = """\
# Generated for one Deskmail test session; see tests/servers/dovecot.py.
protocols = imap
listen = {host}
base_dir = {root}/run
state_dir = {root}/state
instance_name = deskmail-test-{tag}
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
shutdown_clients = yes

# Loopback only, no TLS: plain-text login must be allowed explicitly (Dovecot 2.3 names it
# disable_plaintext_auth; 2.4 calls it auth_allow_cleartext).
ssl = no
{cleartext}
auth_mechanisms = plain login

# Any user name with this session's password: a fresh user per test needs no file change
# (Dovecot re-reads a passwd-file at most once a second, which made new users flaky).
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}

mail_location = maildir:~/Maildir
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = {gid}
last_valid_gid = {gid}
default_internal_user = {user}

# IDLE tests want new mail noticed at once (the default re-check is 30 s).
mailbox_idle_check_interval = 1 secs
mail_max_userip_connections = 50

service imap-login {{
  inet_listener imap {{
    address = {host}
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


@dataclass(frozen=True)
class ImapUser:
    """One mail user of the test server."""

    name: str
    password: str


class DovecotServer:
    """A running Dovecot: its address, its users and helpers to put mail in over IMAP."""

    def __init__(self, root: Path, port: int, password: str) -> None:
        self.root = root
        self.host = HOST
        self.port = port
        self.password = password
        self.config = root / "dovecot.conf"

    # Users --------------------------------------------------------------------------------

    def add_user(self, prefix: str = "u") -> ImapUser:
        """A new user with an empty mailbox (Dovecot creates it at the first login)."""
        return ImapUser(f"{prefix}{secrets.token_hex(6)}", self.password)

    def home(self, user: ImapUser) -> Path:
        """The user's home folder (the maildir is `Maildir` inside it)."""
        return self.root / "home" / user.name

    def maildir(self, user: ImapUser, mailbox: str = "INBOX") -> Path:
        """The folder of one mailbox (Dovecot's default Maildir++ layout)."""
        base = self.home(user) / "Maildir"
        return base if mailbox.upper() == "INBOX" else base / f".{mailbox.replace('/', '.')}"

    def kick(self, user: ImapUser) -> None:
        """Disconnect every session of `user`, as a server restart or a network cut would."""
        subprocess.run(
            ["doveadm", "-c", str(self.config), "kick", user.name],
            capture_output=True,
            check=True,
            timeout=10,
        )

    # IMAP helpers -------------------------------------------------------------------------

    @contextlib.contextmanager
    def client(self, user: ImapUser) -> Iterator[IMAPClient]:
        """A logged-in IMAP connection for the test's own actions (append, inspect)."""
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        try:
            client.login(user.name, user.password)
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    def append(
        self, user: ImapUser, raw: bytes, mailbox: str = "INBOX", flags: Sequence[str] = ()
    ) -> None:
        """Append one mail over IMAP (as a mail client or an MTA's IMAP delivery would)."""
        with self.client(user) as client:
            if mailbox.upper() != "INBOX" and not client.folder_exists(mailbox):
                client.create_folder(mailbox)
            client.append(mailbox, raw, flags=tuple(flags))

    def messages(self, user: ImapUser, mailbox: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
        """UID -> flags of every message in a mailbox (read-only: marks nothing)."""
        with self.client(user) as client:
            if not client.folder_exists(mailbox):
                return {}
            client.select_folder(mailbox, readonly=True)
            uids = client.search("ALL")
            if not uids:
                return {}
            found: dict[int, dict[bytes, Any]] = client.fetch(uids, ["FLAGS"])
            return {
                int(uid): tuple(f for f in data[b"FLAGS"] if f != b"\\Recent")
                for uid, data in found.items()
            }

    def log_text(self) -> str:
        """Dovecot's log so far (for a failing test's report)."""
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _cleartext_setting(binary: str) -> str:
    # Dovecot 2.4 renamed the setting; Debian 12 and Ubuntu 24.04 ship 2.3.
    version = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, check=True, timeout=10
    ).stdout.strip()
    major, minor = (int(part) for part in version.split()[0].split(".")[:2])
    if (major, minor) >= (2, 4):
        return "auth_allow_cleartext = yes"
    return "disable_plaintext_auth = no"


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            text = log.read_text(errors="replace") if log.exists() else ""
            raise RuntimeError(f"dovecot exited with {process.returncode}:\n{text}")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1):
            return
        time.sleep(0.05)
    raise RuntimeError(f"dovecot did not listen on {HOST}:{port} within {START_SECONDS} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def running_dovecot() -> Iterator[DovecotServer]:
    """Start a private Dovecot in the foreground; stop it and remove its folder afterwards."""
    binary = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin")
    if binary is None:
        raise RuntimeError(
            "dovecot is not installed (apt-get install dovecot-imapd); "
            "deselect these tests with -m 'not dovecot'"
        )
    mail_owner = pwd.getpwnam(MAIL_SYSTEM_USER)
    root = Path(tempfile.mkdtemp(prefix="deskmail-dovecot-", dir="/tmp"))
    process: subprocess.Popen[bytes] | None = None
    try:
        root.chmod(0o755)
        for name in ("run", "state", "home"):
            (root / name).mkdir(mode=0o755)
        os.chown(root / "home", mail_owner.pw_uid, mail_owner.pw_gid)
        port = _free_port()
        password = secrets.token_urlsafe(12)
        config = root / "dovecot.conf"
        config.write_text(
            _CONFIG.format(
                host=HOST,
                root=root,
                tag=root.name.rsplit("-", 1)[-1],
                cleartext=_cleartext_setting(binary),
                password=password,
                uid=mail_owner.pw_uid,
                gid=mail_owner.pw_gid,
                user=MAIL_SYSTEM_USER,
                port=port,
            )
        )
        with (root / "stderr.log").open("wb") as stderr:
            process = subprocess.Popen(
                [binary, "-F", "-c", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        _wait_for_port(port, process, root / "dovecot.log")
        yield DovecotServer(root, port, password)
    finally:
        if process is not None:
            _stop(process)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    """This session's Dovecot."""
    with running_dovecot() as server:
        yield server


@pytest.fixture
def imap_user(dovecot: DovecotServer) -> ImapUser:
    """A fresh mail user with an empty INBOX."""
    return dovecot.add_user()
