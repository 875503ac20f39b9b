"""The agents' and admins' pages, their actions, and the headers every response carries."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.testclient import TestClient

from deskmail.db import transaction
from deskmail.web.app import create_app
from deskmail.web.auth import Access, CurrentUser
from deskmail.web.downloads import clean_filename, content_disposition, safe_content_type
from deskmail.web.extensions import default_extensions
from deskmail.web.mail_html import MAX_INLINE_IMAGE_BYTES, embed_images, frame_document
from deskmail.web.rendering import render
from deskmail.web.routing import Area, NavEntry, TicketPanel, WebExtension
from deskmail.web.security import MAIL_FRAME_CSP, PAGE_CSP
from intake.store import Envelope, store_raw
from models import (
    Category,
    Classification,
    Event,
    InboundMessage,
    InboundStatus,
    LabelSource,
    Message,
    Role,
)
from tests.web.helpers import Desk, csrf_of, fast_config, mail

ADMIN = "admin@example.org"
AGENT = "agent@example.org"


def _signed_in(desk: Desk, role: Role = Role.AGENT) -> str:
    email = ADMIN if role is Role.ADMIN else AGENT
    desk.add_user(email, role, name="Ada" if role is Role.ADMIN else "Sam")
    return desk.login(email)


def test_security_headers_on_pages(sqlite_desk: Desk) -> None:
    for path in ("/login", "/no/such/page", "/status/garbage"):
        response = sqlite_desk.client.get(path)
        assert response.headers["content-security-policy"] == PAGE_CSP, path
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] in ("same-origin", "no-referrer")
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store"
        assert "strict-transport-security" not in response.headers  # plain http
    assert "'unsafe-inline'" not in PAGE_CSP
    for directive in (
        "default-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "script-src 'self'",
    ):
        assert directive in PAGE_CSP
    static = sqlite_desk.client.get("/static/app.js")
    assert static.status_code == 200
    assert static.headers["cache-control"] == "no-cache"
    assert static.headers["x-content-type-options"] == "nosniff"
    api = sqlite_desk.client.get("/api/v1/me")
    assert api.status_code == 401
    assert api.headers["cache-control"] == "no-store"


def test_pages_use_no_inline_script_or_style(sqlite_desk: Desk) -> None:
    _signed_in(sqlite_desk, Role.ADMIN)
    number = sqlite_desk.ticket(html="<p style='color:red'>styled</p>")
    for path in (
        "/tickets",
        f"/tickets/{number}",
        "/admin/users",
        "/admin/categories",
        "/admin/inbound",
        "/admin/audit",
        "/account",
    ):
        html = sqlite_desk.client.get(path).text
        assert re.search(r"<script(?![^>]*\bsrc=)", html) is None, path
        assert re.search(r"\son[a-z]+\s*=", html) is None, path
        assert " style=" not in html, path


def test_queue_page(desk: Desk) -> None:
    _signed_in(desk)
    numbers = [desk.ticket(subject=f"Ticket {i}", body=f"body {i} unique-{i}") for i in range(3)]
    page = desk.client.get("/tickets")
    assert page.status_code == 200
    for number in numbers:
        assert f'data-href="/tickets/{number}"' in page.text
    found = desk.client.get("/tickets", params={"q": "unique-1"})
    assert f"/tickets/{numbers[1]}" in found.text
    assert f'/tickets/{numbers[0]}"' not in found.text
    # Odd values fall back to defaults instead of failing.
    odd = desk.client.get(
        "/tickets", params={"status": "bogus", "sort": "sideways", "sla": "x", "page": 99}
    )
    assert odd.status_code == 200
    assert desk.client.get("/tickets", params={"page": 0}).status_code == 400


def test_queue_paging(sqlite_desk: Desk) -> None:
    _signed_in(sqlite_desk)
    paged = Desk.open(sqlite_desk.app, page_size=10)
    paged.client.cookies = sqlite_desk.client.cookies
    for i in range(12):
        sqlite_desk.ticket(subject=f"Paged {i}", body=f"text {i}", sender=f"p{i}@example.com")
    first = paged.client.get("/tickets")
    assert "Page 1 of 2" in first.text
    assert first.text.count("data-href=") == 10
    second = paged.client.get("/tickets", params={"page": 2})
    assert second.text.count("data-href=") == 2


def test_ticket_page_and_actions(desk: Desk) -> None:
    csrf = _signed_in(desk)
    desk.add_user("other@example.org", Role.AGENT, name="Olga Other")
    number = desk.ticket(
        raw=mail(
            subject="Monitor flickers",
            body="It flickers.\n\n-- \nAlice, Marketing",
            html="<p>It <b>flickers</b>.</p>",
            attachments=[('scan "1".pdf', "application/pdf", b"%PDF")],
        )
    )
    with transaction(desk.app.sessions) as db:
        db.add(
            Classification(
                ticket_id=number,
                category="hardware",
                subcategory="hardware/peripherals",
                priority="P3",
                confidences={"category": 0.87, "subcategory": 0.42},
                abstained=False,
                model_version="test-1",
                source=LabelSource.MODEL,
            )
        )
    page = desk.client.get(f"/tickets/{number}")
    assert page.status_code == 200
    text = page.text
    assert "Monitor flickers" in text
    assert "It flickers." in text
    assert f"/tickets/{number}/messages/" in text
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in text
    assert "scan &#34;1&#34;.pdf" in text
    assert "hardware/peripherals" in text
    assert "87 %" in text
    assert "42 %" in text
    assert "Ticket created" in text

    note = desk.client.post(
        f"/tickets/{number}/notes", data={"csrf_token": csrf, "text": "Asked for a photo."}
    )
    assert "Note added." in note.text
    assert "Asked for a photo." in note.text
    assert "Internal note added" in note.text
    status = desk.client.post(
        f"/tickets/{number}/status", data={"csrf_token": csrf, "status": "pending"}
    )
    assert "Status is now pending." in status.text
    assert "Status new → pending" in status.text
    assigned = desk.client.post(
        f"/tickets/{number}/assign", data={"csrf_token": csrf, "assignee": "me", "group": "Desk"}
    )
    assert f"Assigned to {AGENT}." in assigned.text
    other = desk.client.post(
        f"/tickets/{number}/assign", data={"csrf_token": csrf, "assignee": "other@example.org"}
    )
    assert "Assigned to other@example.org" in other.text
    refused = desk.client.post(
        f"/tickets/{number}/assign", data={"csrf_token": csrf, "assignee": "alice@example.com"}
    )
    assert "Not assigned" in refused.text
    bad_status = desk.client.post(
        f"/tickets/{number}/status", data={"csrf_token": csrf, "status": "new"}
    )
    assert "Status not changed" in bad_status.text
    empty = desk.client.post(f"/tickets/{number}/notes", data={"csrf_token": csrf, "text": "  "})
    assert "Note not added" in empty.text
    with desk.app.read_sessions() as db:
        kinds = [
            e.kind for e in db.execute(select(Event).where(Event.ticket_id == number)).scalars()
        ]
    assert kinds.count("assigned") == 2
    assert kinds.count("note_added") == 1
    assert kinds.count("status_changed") == 1

    missing = desk.client.get("/tickets/99999")
    assert missing.status_code == 404
    assert "No ticket #99999" in missing.text


def test_mail_body_frame(sqlite_desk: Desk) -> None:
    _signed_in(sqlite_desk)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 20
    number = sqlite_desk.ticket(
        raw=mail(
            html='<p>Logo: <img src="cid:logo@x"> <img src="https://tracker.example/p.gif"> <a href="https://example.org/">site</a></p>',
            inline_images=[("logo@x", "image/png", png)],
        )
    )
    with sqlite_desk.app.read_sessions() as db:
        message_id = db.execute(select(Message.id).where(Message.ticket_id == number)).scalar_one()
    frame = sqlite_desk.client.get(f"/tickets/{number}/messages/{message_id}/body")
    assert frame.status_code == 200
    assert frame.headers["content-security-policy"] == MAIL_FRAME_CSP
    assert "x-frame-options" not in frame.headers
    assert frame.headers["referrer-policy"] == "no-referrer"
    assert 'src="data:image/png;base64,' in frame.text
    assert "cid:" not in frame.text
    assert '<base target="_blank">' in frame.text
    # Remote images stay in the markup but the frame's CSP (img-src data:) blocks them.
    assert "img-src data:;" in MAIL_FRAME_CSP
    assert (
        sqlite_desk.client.get(f"/tickets/{number + 1}/messages/{message_id}/body").status_code
        == 404
    )


def test_frame_document_resanitises_and_embeds() -> None:
    stored = (
        '<p onclick="x()">hi</p><script>alert(1)</script><img src="cid:A%40b">'
        '<img src="cid:none"><a href="cid:A%40b">x</a>'
    )
    document = frame_document(stored, {"a@b": ("image/gif", b"GIF89a")})
    assert "onclick" not in document
    assert "<script" not in document
    assert document.count('src="data:image/gif;base64,R0lGODlh"') == 1
    assert "cid:" not in document
    big = embed_images(
        '<img src="cid:big">', {"big": ("image/png", b"0" * (MAX_INLINE_IMAGE_BYTES + 1))}
    )
    assert big == "<img>"


@pytest.mark.parametrize(
    ("name", "ascii_part", "encoded_part"),
    [
        ("report.pdf", 'filename="report.pdf"', "filename*=UTF-8''report.pdf"),
        (
            "Über “quotes”.txt",
            'filename="_ber _quotes_.txt"',
            "filename*=UTF-8''%C3%9Cber%20%E2%80%9Cquotes%E2%80%9D.txt",
        ),
        ('a"b\\c.txt', 'filename="a_b_c.txt"', "filename*=UTF-8''a%22b_c.txt"),
        (
            "evil\r\nSet-Cookie: x=1.txt",
            'filename="evil Set-Cookie_ x=1.txt"',
            "filename*=UTF-8''evil%20Set-Cookie%3A%20x%3D1.txt",
        ),
        ("../../etc/passwd", 'filename="_.._etc_passwd"', "filename*=UTF-8''_.._etc_passwd"),
        ("", 'filename="attachment"', "filename*=UTF-8''attachment"),
        ("\u202egnp.exe", 'filename="gnp.exe"', "filename*=UTF-8''gnp.exe"),
    ],
)
def test_content_disposition(name: str, ascii_part: str, encoded_part: str) -> None:
    header = content_disposition(name)
    assert header.startswith("attachment; ")
    assert ascii_part in header
    assert encoded_part in header
    assert "\r" not in header
    assert "\n" not in header
    assert all(32 <= ord(c) < 127 for c in header)
    assert "/" not in clean_filename(name)


def test_safe_content_types() -> None:
    assert safe_content_type("image/png") == "image/png"
    assert safe_content_type("IMAGE/JPEG; name=x") == "image/jpeg"
    for risky in (
        "image/svg+xml",
        "text/html",
        "application/xhtml+xml",
        "text/xml",
        "application/pdf",
        "text/plain",
        "application/javascript",
        "",
    ):
        assert safe_content_type(risky) == "application/octet-stream"


def test_attachment_downloads(sqlite_desk: Desk) -> None:
    _signed_in(sqlite_desk)
    number = sqlite_desk.ticket(
        raw=mail(
            attachments=[
                ("pic.svg", "image/svg+xml", b"<svg onload='alert(1)'/>"),
                ("page.html", "text/html", b"<script>alert(1)</script>"),
                ("photo.jpg", "image/jpeg", b"\xff\xd8\xff"),
            ]
        )
    )
    with sqlite_desk.app.read_sessions() as db:
        message = db.execute(select(Message).where(Message.ticket_id == number)).scalar_one()
        ids = {a.filename: a.id for a in message.attachments}
    for name, expected_type in (
        ("pic.svg", "application/octet-stream"),
        ("page.html", "application/octet-stream"),
        ("photo.jpg", "image/jpeg"),
    ):
        response = sqlite_desk.client.get(f"/attachments/{ids[name]}")
        assert response.status_code == 200
        assert response.headers["content-type"] == expected_type
        assert response.headers["content-disposition"].startswith("attachment;")
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in response.headers["content-security-policy"]
    assert sqlite_desk.client.get("/attachments/99999").status_code == 404


def test_admin_accounts_page(desk: Desk) -> None:
    csrf = _signed_in(desk, Role.ADMIN)
    created = desk.client.post(
        "/admin/users",
        data={
            "csrf_token": csrf,
            "email": "new@example.org",
            "name": "Nina New",
            "role": "editor",
            "group": "KB",
            "password": "a long enough password",
        },
    )
    assert "Account new@example.org created." in created.text
    assert "Nina New" in created.text
    duplicate = desk.client.post(
        "/admin/users",
        data={
            "csrf_token": csrf,
            "email": "NEW@example.org",
            "role": "agent",
            "password": "a long enough password",
        },
    )
    assert "Not created" in duplicate.text
    bad_role = desk.client.post(
        "/admin/users",
        data={
            "csrf_token": csrf,
            "email": "x@example.org",
            "role": "root",
            "password": "a long enough password",
        },
    )
    assert "Not created" in bad_role.text
    with desk.app.read_sessions() as db:
        from deskmail.accounts import find_user  # noqa: PLC0415

        new = find_user(db, "new@example.org")
        me = find_user(db, ADMIN)
        assert new is not None
        assert me is not None
    saved = desk.client.post(
        f"/admin/users/{new.id}",
        data={"csrf_token": csrf, "role": "agent", "group": "Desk", "name": "Nina", "active": "on"},
    )
    assert "Account new@example.org saved." in saved.text
    demote_self = desk.client.post(
        f"/admin/users/{me.id}", data={"csrf_token": csrf, "role": "agent", "active": "on"}
    )
    assert "last active admin" in demote_self.text
    password = desk.client.post(
        f"/admin/users/{new.id}/password",
        data={"csrf_token": csrf, "password": "another long password"},
    )
    assert "Password of new@example.org set." in password.text
    token_page = desk.client.post(
        f"/admin/users/{new.id}/tokens", data={"csrf_token": csrf, "name": "zabbix"}
    )
    secret = re.search(r"dmt_[A-Za-z0-9_-]+", token_page.text)
    assert secret is not None
    api = desk.fresh_client().get(
        "/api/v1/me", headers={"Authorization": f"Bearer {secret.group(0)}"}
    )
    assert api.json()["email"] == "new@example.org"
    listing = desk.client.get("/admin/users")
    assert secret.group(0) not in listing.text
    assert secret.group(0)[:10] in listing.text
    token_id = re.search(r"/admin/tokens/(\d+)/revoke", listing.text)
    assert token_id is not None
    revoked = desk.client.post(
        f"/admin/tokens/{token_id.group(1)}/revoke", data={"csrf_token": csrf}
    )
    assert "revoked" in revoked.text
    assert (
        desk.fresh_client()
        .get("/api/v1/me", headers={"Authorization": f"Bearer {secret.group(0)}"})
        .status_code
        == 401
    )
    audit = desk.client.get("/admin/audit")
    for label in (
        "Account created",
        "Account changed",
        "Password changed",
        "API token created",
        "API token revoked",
        "Signed in",
    ):
        assert label in audit.text


def test_admin_failed_mail_page(desk: Desk) -> None:
    csrf = _signed_in(desk, Role.ADMIN)
    with transaction(desk.app.sessions) as db:
        dead = store_raw(
            db,
            mail(subject="Broken one"),
            Envelope(source="smtp", mail_from="x@example.com", rcpt_to=("help@example.org",)),
        )
        row = db.get(InboundMessage, dead.inbound_id)
        assert row is not None
        row.status = InboundStatus.DEAD
        row.attempts = 5
        row.last_error = "RuntimeError: <script>boom</script>"
    page = desk.client.get("/admin/inbound")
    assert "x@example.com" in page.text
    assert "RuntimeError: &lt;script&gt;boom&lt;/script&gt;" in page.text
    raw = desk.client.get(f"/admin/inbound/{dead.inbound_id}/raw")
    assert raw.headers["content-type"] == "application/octet-stream"
    assert b"Subject: Broken one" in raw.content
    replayed = desk.client.post(
        f"/admin/inbound/{dead.inbound_id}/retry", data={"csrf_token": csrf}
    )
    assert f"Mail {dead.inbound_id} queued again." in replayed.text
    again = desk.client.post(f"/admin/inbound/{dead.inbound_id}/retry", data={"csrf_token": csrf})
    assert "not dead-lettered or quarantined" in again.text
    with desk.app.read_sessions() as db:
        row = db.get(InboundMessage, dead.inbound_id)
        assert row is not None
        assert row.status == InboundStatus.RECEIVED
        events = [e.kind for e in db.execute(select(Event)).scalars()]
    assert "inbound_retried" in events


def test_admin_categories_page(desk: Desk) -> None:
    csrf = _signed_in(desk, Role.ADMIN)
    created = desk.client.post(
        "/admin/categories",
        data={
            "csrf_token": csrf,
            "key": "printing",
            "name": "Printing",
            "description": "Printers and scanners",
        },
    )
    assert "Category printing created." in created.text
    sub = desk.client.post(
        "/admin/categories", data={"csrf_token": csrf, "key": "printing/toner", "name": "Toner"}
    )
    assert "Category printing/toner created." in sub.text
    bad = desk.client.post(
        "/admin/categories", data={"csrf_token": csrf, "key": "Bad Key!", "name": "x"}
    )
    assert "Not created" in bad.text
    with desk.app.read_sessions() as db:
        category_id = db.execute(select(Category.id).where(Category.key == "printing")).scalar_one()
    saved = desk.client.post(
        f"/admin/categories/{category_id}",
        data={
            "csrf_token": csrf,
            "name": "Printing & scanning",
            "description": "All of it",
            "position": "3",
        },
    )
    assert "Category printing saved." in saved.text
    assert "Printing &amp; scanning" in saved.text
    with desk.app.read_sessions() as db:
        category = db.get(Category, category_id)
        assert category is not None
        assert (category.name, category.description, category.active, category.position) == (
            "Printing & scanning",
            "All of it",
            False,
            3,
        )


def test_agents_see_no_admin_navigation(sqlite_desk: Desk) -> None:
    _signed_in(sqlite_desk)
    page = sqlite_desk.client.get("/tickets")
    assert "/admin/users" not in page.text
    assert 'href="/tickets"' in page.text


def test_error_pages_do_not_leak(sqlite_desk: Desk) -> None:
    _signed_in(sqlite_desk)
    response = sqlite_desk.client.get("/tickets/not-a-number")
    assert response.status_code == 400
    assert "Traceback" not in response.text
    assert "not-a-number" not in response.text
    assert sqlite_desk.client.post("/tickets").status_code == 405


def test_csrf_field_present_in_every_form(sqlite_desk: Desk) -> None:
    _signed_in(sqlite_desk, Role.ADMIN)
    number = sqlite_desk.ticket()
    with transaction(sqlite_desk.app.sessions) as db:
        db.add(Category(key="general", name="General"))
    for path in ("/tickets", f"/tickets/{number}", "/admin/users", "/admin/categories", "/account"):
        html = sqlite_desk.client.get(path).text
        for form in re.findall(r"<form\b[^>]*>.*?</form>", html, flags=re.S):
            if 'method="post"' in form:
                assert csrf_of(form), path


def test_an_extension_adds_a_page_a_nav_entry_and_a_panel(
    sqlite_desk: Desk, tmp_path: Path
) -> None:
    (tmp_path / "sla_page.html").write_text(
        '{% extends "base.html" %}{% block content %}<h1>SLA board</h1>'
        "<p>{{ breached }} breached</p>{% endblock %}"
    )
    (tmp_path / "panel_sla.html").write_text(
        '<h2>SLA</h2><p class="sla">{{ panel.values.due }}</p>'
    )
    area = Area(name="sla", prefix="/sla")

    @area.get("", access=Access.EDITOR, name="sla_board")
    def sla_board(request: Request, user: CurrentUser) -> Response:
        return render(request, "sla_page.html", {"title": "SLA", "breached": 3})

    @area.get("/boom", access=Access.AGENT, name="sla_boom")
    def sla_boom() -> Response:
        raise RuntimeError("internal detail that must not leak")

    extension = WebExtension(
        areas=(area,),
        nav=(NavEntry("SLA", "sla_board", Access.EDITOR, order=40),),
        ticket_panels=(
            TicketPanel(
                "sla", "panel_sla.html", lambda db, ticket, user: {"due": f"#{ticket.id} tomorrow"}
            ),
        ),
        template_dirs=(tmp_path,),
    )
    web = create_app(
        sqlite_desk.app,
        fast_config(sqlite_desk.app),
        extensions=[*default_extensions(), extension],
    )
    number = sqlite_desk.ticket()
    sqlite_desk.add_user(AGENT, Role.AGENT)
    sqlite_desk.add_user("editor@example.org", Role.EDITOR)
    agent = TestClient(web, base_url="http://testserver")
    editor = TestClient(web, base_url="http://testserver")
    sqlite_desk.login(AGENT, client=agent)
    sqlite_desk.login("editor@example.org", client=editor)
    assert 'href="/sla"' not in agent.get("/tickets").text
    assert agent.get("/sla").status_code == 403
    assert 'href="/sla"' in editor.get("/tickets").text
    board = editor.get("/sla")
    assert "3 breached" in board.text
    assert 'aria-current="page">SLA' in board.text
    assert f'<p class="sla">#{number} tomorrow</p>' in agent.get(f"/tickets/{number}").text
    boom = agent.get("/sla/boom")
    assert boom.status_code == 500
    assert "internal detail" not in boom.text
    assert boom.headers["content-security-policy"] == PAGE_CSP
