"""The admins' pages for service levels and routing, mail templates, mailboxes and the
classifier's versions, through HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from deskmail.app import App
from deskmail.db import transaction
from deskmail.sender_service import build_outbox
from models import ClassifierModel, Event, ModelStatus, Role, utcnow
from models.mailbox import MailboxCursor
from responder.rendering import Helpdesk
from responder.samples import sample_mails
from tests.conftest import make_settings
from tests.web.helpers import Desk

ADMIN = "root@example.org"


@pytest.fixture
def admin_desk(sqlite_url: str, tmp_path: Path) -> Iterator[Desk]:
    """A help desk with its own process settings and an IMAP account, an admin signed in."""
    settings = make_settings(
        tmp_path / "data",
        sqlite_url,
        process={
            "sla": {"P1": {"first_response": "30m", "resolution": "2h", "around_the_clock": True}},
            "category_groups": {"network/vpn": "Network team", "printing": "Site support"},
            "default_group": "Service desk",
            "calendar": {"working_days": "mon,tue,wed,thu", "holiday_country": "DE"},
        },
        imap_accounts=[
            {
                "name": "main",
                "host": "imap.example.org",
                "username": "help",
                "password": "imap-secret-password",
                "mailboxes": ["INBOX", "Support"],
            }
        ],
    )
    app = App.open(settings)
    desk = Desk.open(app)
    desk.add_user(ADMIN, Role.ADMIN, name="Root")
    desk.login(ADMIN)
    yield desk
    desk.client.close()
    app.close()


def _csrf(desk: Desk) -> str:
    from tests.web.helpers import csrf_of  # noqa: PLC0415

    return csrf_of(desk.client.get("/account").text)


def test_process_settings_are_shown_read_only(admin_desk: Desk) -> None:
    page = admin_desk.client.get("/admin/process")
    assert page.status_code == 200
    assert "set in the settings file" in page.text
    assert "30m" in page.text
    assert "around the clock" in page.text
    assert "network/vpn" in page.text
    assert "Network team" in page.text
    assert "Service desk" in page.text
    assert "mon, tue, wed, thu" in page.text
    assert "DE" in page.text
    assert page.text.count("<form") == 1  # signing out is the only form: nothing to edit


def test_mailboxes_show_accounts_and_cursors_without_passwords(admin_desk: Desk) -> None:
    with transaction(admin_desk.app.sessions) as db:
        db.add(MailboxCursor(account="main", mailbox="INBOX", uidvalidity=1234, last_uid=42))
        db.add(MailboxCursor(account="old", mailbox="INBOX", uidvalidity=9, last_uid=7))
    page = admin_desk.client.get("/admin/mailboxes")
    assert page.status_code == 200
    assert "help@imap.example.org:993" in page.text
    assert "1234" in page.text
    assert ">42<" in page.text
    assert "Support" in page.text
    assert "not read yet" in page.text
    assert "no longer in the settings" in page.text
    assert "imap-secret-password" not in page.text


def test_template_override_is_checked_saved_used_and_reset(admin_desk: Desk) -> None:
    settings = admin_desk.app.settings
    listing = admin_desk.client.get("/admin/templates")
    assert "/admin/templates/resolution/body.txt" in listing.text
    assert "overridden" not in listing.text.split("<table", 1)[1]
    shown = admin_desk.client.get("/admin/templates/resolution/body.txt")
    assert "resolution_text" in shown.text
    csrf = _csrf(admin_desk)
    broken = {
        "syntax": "{% if %}",
        "undefined": "{{ no_such_variable }}",
        "sandbox": "{{ ticket.__class__.__mro__ }}",
    }
    override = settings.data_dir / "templates" / "resolution" / "body.txt"
    for source in broken.values():
        refused = admin_desk.client.post(
            "/admin/templates/resolution/body.txt", data={"csrf_token": csrf, "source": source}
        )
        assert refused.status_code == 422, source
        assert "Not saved:" in refused.text
        assert not override.exists()
    good = "Dear {{ requester.display }}, done: {{ resolution_text }} ({{ ticket.tag }})\n"
    saved = admin_desk.client.post(
        "/admin/templates/resolution/body.txt", data={"csrf_token": csrf, "source": good}
    )
    assert "Template saved." in saved.text
    assert override.read_text(encoding="utf-8") == good
    assert "overridden" in admin_desk.client.get("/admin/templates").text
    # The responder now renders the override.
    mail = next(m for m in sample_mails(full=True) if m.kind == "resolution")
    rendered = build_outbox(settings).renderer.render(mail, Helpdesk("Desk", "help@example.org"))
    assert rendered.text.startswith("Dear ")
    reset = admin_desk.client.post(
        "/admin/templates/resolution/body.txt/reset", data={"csrf_token": csrf}
    )
    assert "The packaged template is used again." in reset.text
    assert not override.exists()
    with admin_desk.app.read_sessions() as db:
        kinds = list(db.execute(select(Event.kind).where(Event.ticket_id.is_(None))).scalars())
    assert "template_saved" in kinds
    assert "template_reset" in kinds
    assert admin_desk.client.get("/admin/templates/resolution/evil.txt").status_code == 404
    assert admin_desk.client.get("/admin/templates/..%2F..%2Fetc/body.txt").status_code == 404


def test_classifier_versions_and_rollback(admin_desk: Desk) -> None:
    with transaction(admin_desk.app.sessions) as db:
        db.add(
            ClassifierModel(
                version="m-2026-03-01",
                status=ModelStatus.ACTIVE,
                blob=b"",
                metrics={"heldout.category.macro_f1": 0.812, "heldout.priority.accuracy": 0.7},
                n_examples=420,
                promoted_at=utcnow(),
            )
        )
    page = admin_desk.client.get("/admin/classifier")
    assert "m-2026-03-01" in page.text
    assert "0.812" in page.text
    assert "420" in page.text
    assert "category.macro_f1" in page.text
    csrf = _csrf(admin_desk)
    unknown = admin_desk.client.post(
        "/admin/classifier/rollback", data={"csrf_token": csrf, "version": "nope"}
    )
    assert "Not rolled back: no stored model" in unknown.text
    done = admin_desk.client.post("/admin/classifier/rollback", data={"csrf_token": csrf})
    assert "The classifier now uses the zero-shot model." in done.text
    with admin_desk.app.read_sessions() as db:
        model = db.execute(select(ClassifierModel)).scalar_one()
        assert model.status == ModelStatus.RETIRED
        event = db.execute(select(Event).where(Event.kind == "classifier_rolled_back")).scalar_one()
        assert event.actor == ADMIN


def test_agents_cannot_open_admin_pages(admin_desk: Desk) -> None:
    admin_desk.add_user("agent@example.org", Role.AGENT)
    client = admin_desk.fresh_client(follow_redirects=False)
    admin_desk.login("agent@example.org", client=client)
    for path in ("/admin/process", "/admin/templates", "/admin/mailboxes", "/admin/classifier"):
        assert client.get(path).status_code == 403, path
