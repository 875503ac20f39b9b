"""The requesters' status page: a signed link opens one ticket, for its requester or CCs only."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from deskmail.db import transaction
from deskmail.settings import Settings
from deskmail.ticket_actions import Actor, add_note
from deskmail.web.config import default_public_url, web_config
from deskmail.web.status_links import make_status_token, status_link, verify_status_token
from deskmail.web.web_settings import WebSettings
from models import Attachment, Message
from tests.conftest import HELPDESK, make_settings
from tests.web.helpers import Desk, mail

ALICE = "alice@example.com"


def _path(desk: Desk, number: int, email: str) -> str:
    return f"/status/{make_status_token(desk.web.state.web.config.secret, number, email)}"


def test_status_link_is_absolute_and_opens_the_ticket(desk: Desk) -> None:
    number = desk.ticket(
        raw=mail(
            subject="Laptop battery swells",
            body="The battery bulges.",
            html="<p>The battery <b>bulges</b>.</p>",
            attachments=[
                ("photo.png", "image/png", b"\x89PNG fake"),
                ("page.html", "text/html", b"<script>x</script>"),
            ],
            cc="carol@example.com",
        )
    )
    with transaction(desk.app.sessions) as db:
        add_note(
            db, number, "INTERNAL: requester is on the VIP list", actor=Actor("agent@example.org")
        )
    link = status_link(desk.app.settings, number, ALICE)
    config = web_config(desk.app.settings)
    assert link.startswith(config.public_url + "/status/")
    assert ALICE not in link
    assert "alice" not in link.lower()
    path = link.removeprefix(config.public_url)
    page = desk.client.get(path)
    assert page.status_code == 200
    assert "Laptop battery swells" in page.text
    assert "The battery bulges." in page.text
    assert "INTERNAL" not in page.text
    assert "Sign out" not in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "noindex" in page.headers["x-robots-tag"]
    assert page.headers["cache-control"] == "no-store"
    # The CC'd colleague's own link works too.
    assert desk.client.get(_path(desk, number, "carol@example.com")).status_code == 200
    # Attachments and the HTML body, through the same token.
    with desk.app.read_sessions() as db:
        message = db.execute(
            select(Message).where(Message.ticket_id == number, Message.direction == "inbound")
        ).scalar_one()
        files = {a.filename: a.id for a in message.attachments}
        note = db.execute(
            select(Message).where(Message.ticket_id == number, Message.direction == "note")
        ).scalar_one()
    image = desk.client.get(f"{path}/attachments/{files['photo.png']}")
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    assert image.headers["content-disposition"].startswith("attachment;")
    html_file = desk.client.get(f"{path}/attachments/{files['page.html']}")
    assert html_file.headers["content-type"] == "application/octet-stream"
    body = desk.client.get(f"{path}/messages/{message.id}/body")
    assert body.status_code == 200
    assert "<b>bulges</b>" in body.text
    assert "sandbox" in body.headers["content-security-policy"]
    assert desk.client.get(f"{path}/messages/{note.id}/body").status_code == 404


def test_a_link_opens_only_its_own_ticket(desk: Desk) -> None:
    mine = desk.ticket(subject="My VPN problem", body="VPN fails")
    theirs = desk.ticket(
        subject="Zed's salary question",
        body="Confidential",
        sender="zed@example.com",
        attachments=[("salary.pdf", "application/pdf", b"%PDF secret")],
    )
    path = _path(desk, mine, ALICE)
    with desk.app.read_sessions() as db:
        their_attachment = db.execute(select(Attachment.id)).scalar_one()
        their_message = db.execute(
            select(Message.id).where(Message.ticket_id == theirs)
        ).scalar_one()
    assert desk.client.get(f"{path}/attachments/{their_attachment}").status_code == 404
    assert desk.client.get(f"{path}/messages/{their_message}/body").status_code == 404
    # A token for somebody who is not on the ticket opens nothing.
    assert desk.client.get(_path(desk, theirs, ALICE)).status_code == 404
    # Nor does one signed with another secret, or one for a ticket that does not exist.
    forged = make_status_token(b"guessed secret", theirs, "zed@example.com")
    assert desk.client.get(f"/status/{forged}").status_code == 404
    assert desk.client.get(_path(desk, 4242, ALICE)).status_code == 404
    page = desk.client.get(path)
    assert "Zed" not in page.text
    assert "Confidential" not in page.text


def test_expired_links_open_nothing(desk: Desk) -> None:
    number = desk.ticket()
    short = Desk.open(desk.app, status_link_max_age=timedelta(seconds=-1))
    assert short.client.get(_path(desk, number, ALICE)).status_code == 404
    assert desk.client.get(_path(desk, number, ALICE)).status_code == 200


def test_token_binding() -> None:
    secret = b"s" * 32
    token = make_status_token(secret, 7, "Alice@Example.com")
    day = timedelta(days=1)
    assert (
        verify_status_token(secret, token, 7, ["bob@example.com", "alice@example.com"], max_age=day)
        == "alice@example.com"
    )
    assert verify_status_token(secret, token, 8, ["alice@example.com"], max_age=day) is None
    assert verify_status_token(secret, token, 7, ["bob@example.com"], max_age=day) is None
    assert verify_status_token(b"x" * 32, token, 7, ["alice@example.com"], max_age=day) is None
    assert (
        verify_status_token(secret, token + "=" * 300, 7, ["alice@example.com"], max_age=day)
        is None
    )


def test_default_public_url_follows_web_listen(tmp_path: Path) -> None:
    for listen, expected in (
        ("127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("0.0.0.0:9000", "http://127.0.0.1:9000"),
        ("[::1]:8081", "http://[::1]:8081"),
        ("help.example.org:80", "http://help.example.org:80"),
    ):
        settings = make_settings(tmp_path, "sqlite://", web_listen=listen)
        assert default_public_url(settings) == expected


def test_web_settings_reach_the_config_and_the_links(tmp_path: Path) -> None:
    class WithWeb(Settings):
        web: WebSettings = WebSettings(
            public_url="https://help.example.org/",
            trusted_proxies=["10.0.0.1"],
            cookie_secure="always",
            login_max_failures_per_account=7,
            status_link_days=30,
        )

    settings = WithWeb(
        data_dir=tmp_path, database_url="sqlite://", secret_key="k" * 32, addresses=[HELPDESK]
    )
    config = web_config(settings)
    assert config.public_url == "https://help.example.org"
    assert config.trusted_proxies == ("10.0.0.1",)
    assert config.cookie_secure == "always"
    assert config.throttle.max_failures_account == 7
    assert config.status_link_max_age == timedelta(days=30)
    link = status_link(settings, 12, "alice@example.com")
    assert link.startswith("https://help.example.org/status/")
