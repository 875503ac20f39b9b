"""The knowledge base in headless Chromium, against a running help desk: SMTP intake, a
pipeline worker with the suggest stage and the web UI in one process, as `deskmail serve` runs
them, sharing the session's model.

An editor writes an article (with the preview), publishes it, and the next mail about that
problem - sent over SMTP - gets it suggested; the editor then revises it, compares versions
and finds the next unanswered mail among the knowledge gaps. A requester opens the status link
of their ticket, reads the offered article and clicks "This solved it": the ticket closes as
solved by them. Screenshots of the pages go where `tests/servers/browser.py` says.
"""

from __future__ import annotations

import re
import smtplib
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect
from sqlalchemy import select

import deskmail.web.app as web_app
from deskmail.app import App
from deskmail.db import transaction
from deskmail.knowledge_base import ArticleDraft, create_article, publish_article
from deskmail.matching import KnowledgeServices
from deskmail.serve import WorkerService
from deskmail.settings import WorkerSettings
from deskmail.smtp_service import SmtpService
from deskmail.ticket_actions import Actor
from deskmail.web.kb_pages import use_knowledge
from deskmail.web.status_links import make_status_token
from deskmail.web_service import WebService
from deskmail.wiring import ProcessServices, build_worker
from models import (
    Article,
    Category,
    InboundMessage,
    InboundStatus,
    Message,
    Role,
    Suggestion,
    SuggestionOutcome,
    Ticket,
    TicketStatus,
)
from tests.conftest import HELPDESK, make_settings
from tests.deskmail.kb_support import knowledge
from tests.servers.browser import Screenshot, live_web
from tests.web.helpers import PASSWORD, Desk, fast_config

pytestmark = [pytest.mark.browser, pytest.mark.model]

EDITOR = "eve.editor@example.org"
KIM = "kim.lee@example.com"


@dataclass
class RunningDesk:
    """The running help desk: the app, its knowledge services, SMTP and the web UI."""

    app: App
    kb: KnowledgeServices
    smtp_port: int
    web: WebService

    def send(self, subject: str, body: str, sender: str = KIM) -> int:
        """Mail to the help desk over SMTP; returns the ticket it became, once processed."""
        message = EmailMessage()
        message["From"] = f"Kim Lee <{sender}>"
        message["To"] = HELPDESK
        message["Subject"] = subject
        message["Message-ID"] = make_msgid(domain="example.com")
        message.set_content(body)
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=30) as smtp:
            smtp.send_message(message)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with self.app.read_sessions() as db:
                row = db.execute(
                    select(InboundMessage).order_by(InboundMessage.id.desc()).limit(1)
                ).scalar_one_or_none()
                if row is not None and row.status == InboundStatus.PROCESSED:
                    ticket = db.execute(
                        select(Message.ticket_id).where(Message.inbound_id == row.id)
                    ).scalar_one()
                    return int(ticket)
                assert row is None or row.status != InboundStatus.DEAD, row.last_error
            time.sleep(0.05)
        pytest.fail("the mail was not processed in time")

    def suggestions(self, number: int) -> list[tuple[str, int, bool]]:
        with self.app.read_sessions() as db:
            rows = db.execute(
                select(Article.slug, Suggestion.rank, Suggestion.eligible_for_requester)
                .join(Article, Article.id == Suggestion.article_id)
                .where(Suggestion.ticket_id == number)
                .order_by(Suggestion.rank)
            ).all()
        return [(slug, rank, eligible) for slug, rank, eligible in rows]


def _live_web_with_knowledge(
    monkeypatch: pytest.MonkeyPatch, app: App, kb: KnowledgeServices
) -> AbstractContextManager[WebService]:
    """`live_web`, whose app publishes through the test's knowledge services (the session's
    model) as `deskmail serve` hands its own to the web UI."""
    original: Callable[..., Any] = web_app.create_app

    def create_app(*args: Any, **kwargs: Any) -> Any:
        web = original(*args, **kwargs)
        use_knowledge(web, kb)
        return web

    monkeypatch.setattr(web_app, "create_app", create_app)
    return live_web(app, fast_config(app))


@pytest.fixture
def running(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[RunningDesk]:
    settings = make_settings(
        tmp_path / "data",
        sqlite_url,
        worker=WorkerSettings(poll_seconds=0.05, backoff_seconds=0.1),
        # Every suggestion may go to the requester: the test is about what they do with it.
        knowledge={"acknowledgement_threshold": 0.0},
    )
    app = App.open(settings)
    desk = Desk.open(app)
    desk.add_user(EDITOR, Role.EDITOR, name="Eve Editor")
    with transaction(app.sessions) as db:
        db.add_all(
            [
                Category(key="access", name="Access and accounts"),
                Category(key="access/badges", name="Badges and doors"),
            ]
        )
    kb = knowledge(app)
    services = ProcessServices(kb.store.encoder, kb)
    workers = WorkerService(app, 1, build=lambda a, name: build_worker(a, name, services))
    smtp = SmtpService(app)
    workers.start()
    smtp.start()
    try:
        with _live_web_with_knowledge(monkeypatch, app, kb) as web:
            yield RunningDesk(app, kb, smtp.port, web)
    finally:
        smtp.stop(10)
        workers.stop(10)
        desk.client.close()
        app.close()


def _watch(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return errors


def test_editor_publishes_and_the_next_mail_gets_the_article(
    running: RunningDesk, browser_context: BrowserContext, screenshot: Screenshot
) -> None:
    page = browser_context.new_page()
    errors = _watch(page)
    url = running.web.url
    page.goto(url + "/login")
    page.fill("#email", EDITOR)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.click("nav.mainnav >> text=Knowledge")
    expect(page).to_have_url(re.compile(r"/kb$"))
    expect(page.locator(".empty")).to_have_text("No articles match.")

    page.click("nav.kb-tabs >> text=New article")
    page.fill("#kb-title", "Badge does not open the gate B turnstile")
    page.fill(
        "#kb-problem",
        "The badge reader at the **gate B turnstile** blinks red and the gate stays shut, "
        "although the badge works at other doors.",
    )
    page.fill(
        "#kb-solution",
        "1. Hold the badge *flat* on the reader for two seconds.\n"
        "2. If it still blinks red, the badge's access to gate B has expired: ask your manager "
        "to renew it in the access portal.\n"
        "3. Meanwhile reception opens the side door.",
    )
    page.select_option("#kb-category", "access/badges")
    page.fill("#kb-tags", "badge, turnstile, access")
    page.click("button[value=preview]")
    preview = page.locator("section.kb-preview")
    expect(preview.locator("ol li")).to_have_count(3)
    expect(preview.locator("strong")).to_have_text("gate B turnstile")
    expect(page.locator("#kb-title")).to_have_value("Badge does not open the gate B turnstile")
    screenshot(page, "kb-editor")

    page.click("button[value=save]")
    expect(page.locator(".flash")).to_have_text("Draft saved.")
    expect(page.locator("h1")).to_have_text("Badge does not open the gate B turnstile")
    page.click("text=Publish version 1")
    expect(page.locator(".flash")).to_have_text("Version 1 is published.")
    expect(page.locator("ol.passages li").first).to_contain_text("gate B")
    slug = "badge-does-not-open-the-gate-b-turnstile"

    # The next mail about the problem, over SMTP, gets the article suggested first.
    number = running.send(
        "cannot get through the turnstile",
        "Hi, since Monday my badge doesn't open the gate B turnstile anymore - the reader "
        "just blinks red. It works on the 3rd floor door. Kim",
    )
    assert running.suggestions(number)[0][:2] == (slug, 1)
    page.reload()
    expect(page.locator("dd.suggested")).to_have_text("1")
    screenshot(page, "kb-article")

    # A revision, then the history with the difference.
    page.click("a.button:text-is('Edit')")
    page.fill(
        "#kb-solution",
        "1. Hold the badge *flat* on the reader for three seconds.\n"
        "2. If it still blinks red, ask your manager to renew gate B access in the access "
        "portal.\n3. Meanwhile reception opens the side door.",
    )
    page.fill("#kb-note", "three seconds; shorter step 2")
    page.click("button[value=save]")
    expect(page.locator(".flash")).to_have_text("Saved as version 2. The new text is live.")
    page.click("text=History and differences")
    expect(page.locator("pre.kb-diff .diff-add").first).to_contain_text("three seconds")
    expect(page.locator("pre.kb-diff .diff-del").first).to_contain_text("two seconds")
    screenshot(page, "kb-history")

    # An unanswered mail shows up among the gaps, with a way to write its article.
    running.send(
        "Coffee machine error E42",
        "The coffee machine in the 2nd floor kitchen shows E42 and won't brew.",
    )
    running.send(
        "coffee machine on floor 2 broken",
        "Error E42 on the coffee maker in the kitchen on the second floor again.",
    )
    page.click("nav.mainnav >> text=Knowledge")
    expect(page.locator("table.kb-articles tbody tr")).to_have_count(1)
    expect(page.locator("td.num.used")).to_have_text("0")
    screenshot(page, "kb-list")
    page.click("nav.kb-tabs >> text=Knowledge gaps")
    cluster = page.locator("section.gap-cluster").filter(has_text="offee")
    expect(cluster).to_have_count(1)
    expect(cluster.locator("tbody tr")).to_have_count(2)
    screenshot(page, "kb-gaps")
    cluster.locator("a.write-article").click()
    expect(page.locator("#kb-problem")).to_contain_text("E42")
    expect(page.locator("#kb-problem")).to_contain_text("Also reported as:")
    assert errors == []


def test_requester_reads_the_article_and_says_it_solved_it(
    running: RunningDesk, browser_context: BrowserContext, screenshot: Screenshot
) -> None:
    with transaction(running.app.sessions) as db:
        create_article(
            db,
            ArticleDraft(
                "Badge does not open the gate B turnstile",
                "The badge reader at gate B blinks red and the gate stays shut.",
                "1. Hold the badge **flat** on the reader for two seconds.\n"
                "2. Ask your manager to renew gate B access in the access portal.",
                "access/badges",
            ),
            actor=Actor(EDITOR),
        )
        publish_article(
            db,
            running.kb.store,
            "badge-does-not-open-the-gate-b-turnstile",
            actor=Actor(EDITOR),
        )
    number = running.send(
        "turnstile gate B",
        "My badge stopped working at the gate B turnstile, the reader blinks red.",
    )
    token = make_status_token(running.web.app.settings.secret(), number, KIM)
    page = browser_context.new_page()
    errors = _watch(page)
    page.goto(f"{running.web.url}/status/{token}")
    offered = page.locator("ul.offered-articles li")
    expect(offered.first).to_contain_text("Badge does not open the gate B turnstile")
    screenshot(page, "kb-status")
    offered.first.locator("a").first.click()
    expect(page.locator("article.article strong")).to_have_text("flat")
    screenshot(page, "kb-status-article")
    page.click("#solved")
    expect(page.locator("h1")).to_have_text("Thank you!")
    with running.app.read_sessions() as db:
        ticket = db.get(Ticket, number)
        assert ticket is not None
        assert ticket.status == TicketStatus.CLOSED
        assert ticket.closed_by_solved is True
        outcome = db.execute(
            select(Suggestion.outcome).where(Suggestion.ticket_id == number, Suggestion.rank == 1)
        ).scalar_one()
    assert outcome == SuggestionOutcome.SOLVED
    page.click("text=Back to your request")
    expect(page.locator(".solved-note")).to_contain_text("You told us this request is solved.")
    expect(page.locator("#solved")).to_have_count(0)
    assert errors == []
