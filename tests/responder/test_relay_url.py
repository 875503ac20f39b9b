"""`DESKMAIL_RELAY_URL`: what it may say, and that a mistake is named without the password."""

from __future__ import annotations

import pytest

from responder.errors import RelayUrlError
from responder.relay import DEFAULT_DATA_TIMEOUT, DEFAULT_TIMEOUT, TlsMode, parse_relay_url


def test_plain_smtp_with_defaults() -> None:
    config = parse_relay_url("smtp://relay.example.org")
    assert (config.host, config.port, config.tls) == ("relay.example.org", 25, TlsMode.NONE)
    assert config.timeout == DEFAULT_TIMEOUT
    assert config.data_timeout == DEFAULT_DATA_TIMEOUT
    assert not config.authenticated
    assert config.verify_tls


def test_smtps_is_implicit_tls_on_465() -> None:
    config = parse_relay_url("SMTPS://relay.example.org")
    assert (config.port, config.tls) == (465, TlsMode.IMPLICIT)
    assert config.describe() == "smtps://relay.example.org:465"


def test_starttls_port_and_options() -> None:
    config = parse_relay_url(
        "smtp://relay.example.org:587/?starttls=1&timeout=10&data_timeout=120&helo=desk.example.org"
    )
    assert (config.port, config.tls) == (587, TlsMode.STARTTLS)
    assert (config.timeout, config.data_timeout, config.helo) == (10.0, 120.0, "desk.example.org")
    assert parse_relay_url("smtp://relay?starttls=no").tls is TlsMode.NONE


def test_credentials_are_percent_decoded_and_never_shown() -> None:
    secret = "p@ss:w/rd %&?#é"
    encoded = "p%40ss%3Aw%2Frd%20%25%26%3F%23%C3%A9"
    config = parse_relay_url(f"smtps://alice%40example.org:{encoded}@relay.example.org:2465")
    assert config.username == "alice@example.org"
    assert config.password == secret
    assert config.port == 2465
    assert encoded not in repr(config)
    assert secret not in repr(config)
    assert "pass" not in config.describe()
    assert "alice@example.org" in config.describe()


def test_unencoded_at_in_password_still_parses() -> None:
    config = parse_relay_url("smtp://bob:se@cret@relay.example.org?starttls=1")
    assert (config.username, config.password, config.host) == (
        "bob",
        "se@cret",
        "relay.example.org",
    )


def test_ipv6_host() -> None:
    config = parse_relay_url("smtp://[::1]:2525")
    assert (config.host, config.port) == ("::1", 2525)
    assert config.describe() == "smtp://[::1]:2525"


def test_cleartext_password_over_the_network_is_flagged() -> None:
    assert parse_relay_url("smtp://u:p@relay.example.org").cleartext_auth
    assert not parse_relay_url("smtp://u:p@relay.example.org?starttls=1").cleartext_auth
    assert not parse_relay_url("smtp://u:p@127.0.0.1").cleartext_auth
    assert not parse_relay_url("smtps://u:p@relay.example.org").cleartext_auth


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "empty"),
        ("http://relay.example.org", "smtp:// or smtps://"),
        ("relay.example.org:25", "smtp:// or smtps://"),
        ("smtp://", "no host"),
        ("smtp://:25", "no host"),
        ("smtp://relay:99999", "invalid host or port"),
        ("smtp://relay:abc", "invalid host or port"),
        ("smtp://relay:0", "port"),
        ("smtp://relay/path", "path"),
        ("smtp://relay#frag", "fragment"),
        ("smtps://relay?starttls=1", "starttls"),
        ("smtp://relay?starttls=maybe", "1 or 0"),
        ("smtp://relay?timeout=-1", "between"),
        ("smtp://relay?timeout=soon", "number"),
        ("smtp://relay?tls=1", "unknown relay URL option 'tls'"),
        ("smtp://relay?timeout=1&timeout=2", "twice"),
        ("smtp://relay?helo=", "host name"),
        ("smtp://user@relay", "no password"),
        ("smtp://:secret@relay", "no user name"),
        ("smtp://re lay", "spaces"),
        ("smtp://re\x00lay", "control"),
    ],
)
def test_bad_urls_are_named(url: str, message: str) -> None:
    with pytest.raises(RelayUrlError, match=message):
        parse_relay_url(url)


def test_errors_never_repeat_the_password() -> None:
    for url in (
        "smtp://alice:Sup3rS3cret@relay:99999",
        "smtp://alice:Sup3rS3cret@relay?bogus=1",
        "smtps://alice:Sup3rS3cret@relay?starttls=1",
        "ftp://alice:Sup3rS3cret@relay",
    ):
        with pytest.raises(RelayUrlError) as caught:
            parse_relay_url(url)
        assert "Sup3rS3cret" not in str(caught.value)
        assert caught.value.__cause__ is None or "Sup3rS3cret" not in str(caught.value)
