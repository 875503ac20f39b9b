"""The UI in headless Chromium, end to end: an agent works a ticket that came in by mail, an
admin looks after accounts, categories and failed mail, a requester follows their status link.

The pages' screenshots are written as the test goes (`scripts/screenshots` refreshes
docs/screenshots/ from them).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import BrowserContext, expect
from sqlalchemy import select

from deskmail.db import transaction
from deskmail.web.status_links import make_status_token
from intake.store import Envelope, store_raw
from models import InboundMessage, InboundStatus, Message
from tests.servers.browser import Screenshot, live_web
from tests.servers.painted import wait_until_painted
from tests.web import demo
from tests.web.helpers import PASSWORD, Desk, fast_config, mail

pytestmark = pytest.mark.browser


def _sign_in(page: object, url: str, email: str) -> None:
    from playwright.sync_api import Page  # noqa: PLC0415 - typing only

    assert isinstance(page, Page)
    page.goto(url + "/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/tickets$"))


def test_agent_works_a_ticket(
    sqlite_desk: Desk, browser_context: BrowserContext, screenshot: Screenshot
) -> None:
    built = demo.build(sqlite_desk)
    with live_web(sqlite_desk.app, fast_config(sqlite_desk.app)) as web:
        page = browser_context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

        page.goto(web.url + "/tickets")
        expect(page).to_have_url(re.compile(r"/login\?next=%2Ftickets$"))
        screenshot(page, "login")
        page.fill("#email", demo.AGENT)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        expect(page).to_have_url(re.compile(r"/tickets$"))

        rows = page.locator("table.queue tbody tr")
        expect(rows).to_have_count(len(built.tickets))
        expect(page.locator("td.due.overdue")).to_have_count(1)
        screenshot(page, "queue")

        # Keyboard: j moves to the first row, k stays there, Enter opens it.
        page.keyboard.press("j")
        page.keyboard.press("j")
        page.keyboard.press("k")
        expect(rows.nth(0)).to_have_class(re.compile("is-current"))
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(rf"/tickets/{built.tickets[-1]}$"))

        # "/" searches from the queue.
        page.goto(web.url + "/tickets")
        page.keyboard.press("/")
        page.keyboard.type("VPN disconnects")
        page.keyboard.press("Enter")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("VPN disconnects")

        # A filter select submits itself (the search stays until reset).
        page.click('a.button:text-is("Reset")')
        page.select_option("select[name=priority]", "P2")
        expect(page).to_have_url(re.compile(r"priority=P2"))
        expect(rows).to_have_count(2)

        # The ticket from mail: conversation, HTML in the sandboxed frame, attachment.
        page.goto(f"{web.url}/tickets/{built.html_ticket}")
        expect(page.locator("h1")).to_contain_text("Screen flickers on the new docking station")
        page.locator("details.html-body summary").click()
        frame = page.frame_locator("iframe.mail-frame")
        expect(frame.locator("b")).to_have_text("external screen")
        expect(page.locator("ul.attachments a")).to_have_text("flicker photo.jpg")

        page.keyboard.press("n")
        page.keyboard.type("Asked Kim to try another cable; replacing the dock if that fails.")
        page.click("form.note-form button[type=submit]")
        expect(page.locator(".flash")).to_have_text("Note added.")
        expect(page.locator("article.dir-note")).to_contain_text("Asked Kim to try another cable")

        page.select_option("#status", "open")
        page.click("form.stack:has(#status) button")
        expect(page.locator(".flash")).to_have_text("Status is now open.")
        page.click("text=Assign to me")
        expect(page.locator(".flash")).to_contain_text(f"Assigned to {demo.AGENT}")
        expect(page.locator("ol.timeline")).to_contain_text("Status new → open")
        expect(page.locator("ol.timeline")).to_contain_text(f"Assigned to {demo.AGENT}")
        page.locator("details.html-body summary").click()
        expect(frame.locator("b")).to_have_text("external screen")
        # The sandboxed frame paints in its own process: wait for it (tests/servers/painted.py).
        wait_until_painted(page.locator("iframe.mail-frame"))
        screenshot(page, "ticket")

        # Signing out ends the session.
        page.click("text=Sign out")
        expect(page).to_have_url(re.compile(r"/login$"))
        expect(page.locator(".flash")).to_have_text("You are signed out.")
        page.goto(web.url + "/tickets")
        expect(page).to_have_url(re.compile(r"/login"))
        assert errors == []


def test_admin_pages(
    sqlite_desk: Desk, browser_context: BrowserContext, screenshot: Screenshot
) -> None:
    demo.build(sqlite_desk)
    with transaction(sqlite_desk.app.sessions) as db:
        stored = store_raw(
            db,
            mail(subject="Re: your parcel", sender="mailer@shipping.example"),
            Envelope(
                source="smtp", mail_from="mailer@shipping.example", rcpt_to=("help@example.org",)
            ),
        )
        row = db.get(InboundMessage, stored.inbound_id)
        assert row is not None
        row.status = InboundStatus.DEAD
        row.attempts = 5
        row.last_error = "OperationalError: database is locked"
    with live_web(sqlite_desk.app, fast_config(sqlite_desk.app)) as web:
        page = browser_context.new_page()
        _sign_in(page, web.url, demo.ADMIN)
        page.click("nav.mainnav >> text=Accounts")
        expect(page.locator("table.grid tbody tr")).to_have_count(3)
        page.fill("#new-email", "nico.new@example.org")
        page.fill("#new-name", "Nico New")
        page.select_option("#new-role", "agent")
        page.fill("#new-password", "a long initial password")
        page.click("text=Create account")
        expect(page.locator(".flash")).to_have_text("Account nico.new@example.org created.")
        screenshot(page, "admin-accounts")

        page.click("nav.mainnav >> text=Categories")
        page.locator("details.subcategories").first.click()
        screenshot(page, "admin-categories")

        page.click("nav.mainnav >> text=Failed mail")
        expect(page.locator("table.grid")).to_contain_text("database is locked")
        screenshot(page, "admin-failed-mail")
        page.click("text=Replay")
        expect(page.locator(".flash")).to_have_text(f"Mail {stored.inbound_id} queued again.")

        page.click("nav.mainnav >> text=Audit")
        expect(page.locator("table.grid")).to_contain_text("Failed mail replayed")
        screenshot(page, "admin-audit")


def test_requester_sees_only_their_ticket(
    sqlite_desk: Desk, browser_context: BrowserContext, screenshot: Screenshot
) -> None:
    built = demo.build(sqlite_desk)
    with transaction(sqlite_desk.app.sessions) as db:
        from deskmail.ticket_actions import Actor, add_note  # noqa: PLC0415

        add_note(db, built.html_ticket, "Kim's dock is out of warranty.", actor=Actor(demo.AGENT))
        sender = (
            db.execute(select(Message.from_email).where(Message.ticket_id == built.html_ticket))
            .scalars()
            .first()
        )
    assert sender is not None
    secret = sqlite_desk.web.state.web.config.secret
    token = make_status_token(secret, built.html_ticket, sender)
    with live_web(sqlite_desk.app, fast_config(sqlite_desk.app)) as web:
        page = browser_context.new_page()
        page.goto(f"{web.url}/status/{token}")
        expect(page.locator("h1")).to_contain_text(f"Request #{built.html_ticket}")
        expect(page.locator("h1")).to_contain_text("Screen flickers")
        expect(page.locator("article.message")).to_have_count(1)
        expect(page.locator("body")).not_to_contain_text("out of warranty")
        expect(page.locator("nav.mainnav")).to_have_count(0)
        page.locator("details.html-body summary").click()
        expect(page.frame_locator("iframe.mail-frame").locator("b")).to_have_text("external screen")
        wait_until_painted(page.locator("iframe.mail-frame"))
        screenshot(page, "status")
        # Another ticket's number under this person's signature opens nothing.
        other = make_status_token(secret, built.tickets[0], sender)
        response = page.goto(f"{web.url}/status/{other}")
        assert response is not None
        assert response.status == 404
        expect(page.locator("body")).not_to_contain_text("VPN")
        # Nor does the agents' UI open for the requester.
        page.goto(f"{web.url}/tickets/{built.html_ticket}")
        expect(page).to_have_url(re.compile(r"/login"))
