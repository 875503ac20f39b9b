"""The relay outgoing mail goes through: `DESKMAIL_RELAY_URL` parsed into a frozen config.

    smtp://relay.example.org                    port 25, no TLS
    smtp://relay.example.org:587?starttls=1     STARTTLS (RFC 3207) before anything else
    smtps://user:p%40ss@relay.example.org       implicit TLS (RFC 8314), port 465, AUTH
    smtp://relay:2525?timeout=10&data_timeout=300&helo=desk.example.org

User name and password are percent-decoded (a password with `@`, `:` or `/` is written
`%40`, `%3A`, `%2F`). Every mistake is an error naming the part that is wrong, never echoing
the password; the config's repr and `describe()` never show it either. An empty URL means no
relay: the embedded default delivers to a maildir instead (responder.transport).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import parse_qsl, unquote, urlsplit

from responder.errors import RelayUrlError

DEFAULT_TIMEOUT = 30.0
# RFC 5321 §4.5.3.2.6 asks a client to wait 10 minutes for the reply to the final dot: the
# server may be doing its delivery work, and giving up early is how duplicates happen.
DEFAULT_DATA_TIMEOUT = 600.0
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_OPTIONS = {"starttls", "timeout", "data_timeout", "helo", "verify"}


class TlsMode(StrEnum):
    """How the connection to the relay is protected."""

    NONE = "none"
    STARTTLS = "starttls"
    IMPLICIT = "tls"


@dataclass(frozen=True)
class RelayConfig:
    """Where and how to hand mail to the relay."""

    host: str
    port: int
    tls: TlsMode = TlsMode.NONE
    username: str = ""
    password: str = field(default="", repr=False)
    timeout: float = DEFAULT_TIMEOUT
    data_timeout: float = DEFAULT_DATA_TIMEOUT
    helo: str | None = None
    verify_tls: bool = True

    @property
    def authenticated(self) -> bool:
        """True when the relay wants AUTH."""
        return bool(self.username)

    @property
    def cleartext_auth(self) -> bool:
        """True when a password would cross the network unencrypted (warned about at start)."""
        return self.authenticated and self.tls is TlsMode.NONE and not _is_loopback(self.host)

    def describe(self) -> str:
        """One line for the operator, without the password."""
        scheme = "smtps" if self.tls is TlsMode.IMPLICIT else "smtp"
        host = f"[{self.host}]" if ":" in self.host else self.host
        notes = []
        if self.tls is TlsMode.STARTTLS:
            notes.append("STARTTLS")
        if self.tls is not TlsMode.NONE and not self.verify_tls:
            notes.append("certificate NOT verified")
        if self.authenticated:
            notes.append(f"as {self.username}")
        suffix = f" ({', '.join(notes)})" if notes else ""
        return f"{scheme}://{host}:{self.port}{suffix}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _flag(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise RelayUrlError(f"relay URL option {name} must be 1 or 0, not {value!r}")


def _seconds(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise RelayUrlError(f"relay URL option {name} must be a number of seconds") from None
    if not 0 < number <= 3600:
        raise RelayUrlError(f"relay URL option {name} must be between 0 and 3600 seconds")
    return number


def _credentials(username: str | None, password: str | None) -> tuple[str, str]:
    user, secret = unquote(username or ""), unquote(password or "")
    if secret and not user:
        raise RelayUrlError("the relay URL has a password but no user name")
    if user and not secret:
        raise RelayUrlError("the relay URL has a user name but no password")
    return user, secret


def _options(query: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise RelayUrlError("the relay URL's options are not name=value pairs") from None
    options: dict[str, str] = {}
    for name, value in pairs:
        if name not in _OPTIONS:
            raise RelayUrlError(
                f"unknown relay URL option {name!r} (known: {', '.join(sorted(_OPTIONS))})"
            )
        if name in options:
            raise RelayUrlError(f"relay URL option {name} is given twice")
        options[name] = value
    return options


def parse_relay_url(url: str) -> RelayConfig:
    """The relay configuration of `url`; RelayUrlError says what is wrong."""
    text = url.strip()
    if not text:
        raise RelayUrlError("the relay URL is empty")
    if any(ord(c) < 33 or ord(c) == 127 for c in text):
        raise RelayUrlError("the relay URL contains spaces or control characters")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        # The message of urllib can quote the netloc, and with it a password: not repeated.
        raise RelayUrlError("the relay URL has an invalid host or port") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("smtp", "smtps"):
        raise RelayUrlError(
            f"the relay URL must start with smtp:// or smtps://, not {scheme or 'nothing'}"
        )
    if not parts.hostname:
        raise RelayUrlError("the relay URL names no host")
    if parts.path not in ("", "/") or parts.fragment:
        raise RelayUrlError("the relay URL must not have a path or a fragment")
    if port == 0:
        raise RelayUrlError("the relay URL's port must be between 1 and 65535")
    username, password = _credentials(parts.username, parts.password)
    options = _options(parts.query)
    tls = TlsMode.IMPLICIT if scheme == "smtps" else TlsMode.NONE
    if "starttls" in options and _flag("starttls", options["starttls"]):
        if tls is TlsMode.IMPLICIT:
            raise RelayUrlError("starttls makes no sense with smtps:// (already TLS)")
        tls = TlsMode.STARTTLS
    helo = options.get("helo")
    if helo is not None and (not helo or any(c in helo for c in " \t\r\n")):
        raise RelayUrlError("relay URL option helo must be a host name")
    timeout = options.get("timeout")
    data_timeout = options.get("data_timeout")
    return RelayConfig(
        host=parts.hostname,
        port=port or (465 if tls is TlsMode.IMPLICIT else 25),
        tls=tls,
        username=username,
        password=password,
        timeout=_seconds("timeout", timeout) if timeout is not None else DEFAULT_TIMEOUT,
        data_timeout=(
            _seconds("data_timeout", data_timeout)
            if data_timeout is not None
            else DEFAULT_DATA_TIMEOUT
        ),
        helo=helo,
        verify_tls=_flag("verify", options["verify"]) if "verify" in options else True,
    )
