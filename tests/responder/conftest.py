"""Fixtures of the responder tests: the plain SMTP sink, and a TLS relay with AUTH.

The TLS relay is aiosmtpd behind a self-signed certificate made with the `openssl` command
once per session (the tests that need it are skipped where `openssl` is missing).
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.servers.smtp import ReceivedMail

RELAY_USER = "desk@example.org"
RELAY_PASSWORD = "p@ss:w/rd %&?#é"  # every character that needs percent-encoding in a URL


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return Certificate(cert, key)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Collector:
    def __init__(self) -> None:
        self.mails: list[ReceivedMail] = []
        self.logins: list[str] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.mails.append(
                ReceivedMail(
                    envelope.mail_from, tuple(envelope.rcpt_tos), envelope.original_content
                )
            )
        return "250 2.0.0 Ok: queued as TLS1"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword):
            login, password = data.login.decode(), data.password.decode()
            if login == RELAY_USER and password == RELAY_PASSWORD:
                self.logins.append(login)
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


@dataclass
class TlsRelay:
    scheme: str  # "starttls" or "smtps"
    port: int
    collector: _Collector

    @property
    def mails(self) -> list[ReceivedMail]:
        with self.collector.lock:
            return list(self.collector.mails)


@pytest.fixture(params=["starttls", "smtps"])
def tls_relay(request: pytest.FixtureRequest, certificate: Certificate) -> Iterator[TlsRelay]:
    """A relay that wants TLS (STARTTLS or implicit) and AUTH before it takes mail."""
    collector = _Collector()
    port = free_port()
    options: dict[str, Any] = {
        "authenticator": collector.authenticate,
        "auth_required": True,
        "auth_require_tls": True,
    }
    if request.param == "starttls":
        options.update(tls_context=certificate.server_context(), require_starttls=True)
    else:
        # aiosmtpd only counts STARTTLS as TLS for `auth_require_tls`; implicit TLS is TLS.
        options.update(ssl_context=certificate.server_context(), auth_require_tls=False)
    controller = Controller(collector, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield TlsRelay(request.param, port, collector)
    finally:
        controller.stop()
