"""Cross-site scripting: hostile text in every place mail or people can put text stays inert.

About fifty payloads - classic filter evasions, event handlers, `javascript:` URLs in many
spellings, mutation-XSS tricks that rely on the parser re-reading serialised HTML, unclosed
tags, template and attribute breakouts - go in as subjects, body text, HTML bodies, display
names, attachment file names, category names and descriptions, account names, notes, token
names, reflected query parameters and knowledge-base articles (title, Markdown sections, tags,
version notes, the diff and the requesters' article page). Each payload would set
`window.__xss` or open a dialog.

Checked twice: every page's markup is parsed and must hold no script of ours but the static
file, no event-handler attribute, no `javascript:` URL and no unsandboxed frame; and headless
Chromium visits every page (and every mail frame) and must see no dialog and no `__xss`.
A last test shows the Content-Security-Policy would stop inline script even if escaping failed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import quote

import pytest
from playwright.sync_api import BrowserContext, Dialog, Frame, Page
from sqlalchemy import select

from deskmail.db import transaction
from deskmail.knowledge_base import ArticleDraft, create_article, edit_article
from deskmail.ticket_actions import Actor, add_note
from deskmail.web.status_links import make_status_token
from knowledge.kb_io import ArticleDocument, KnowledgeFileError, write_markdown
from models import Audience, Category, Message, Role
from tests.servers.browser import live_web
from tests.web.helpers import PASSWORD, Desk, csrf_of, fast_config, mail
from tests.web.kb_fixtures import offer, publish_without_model

PAYLOADS = [
    "<script>window.__xss=1</script>",
    "<ScRiPt>window.__xss=1</sCrIpT>",
    "<scr<script>ipt>window.__xss=1</scr</script>ipt>",
    '"><script>window.__xss=1</script>',
    "'><img src=x onerror=alert(1)>",
    "<img src=x onerror=window.__xss=1>",
    '<img/src="x"/onerror=window.__xss=1>',
    '<img src="x" onerror="&#119;indow.__xss=1">',
    "<img src=x:alert(1) onerror=eval(src)>",
    "<img src=x onerror\x0b=window.__xss=1>",
    "<img src=x onerror=window.__xss=1//",
    "<svg onload=window.__xss=1>",
    "<svg/onload=window.__xss=1",
    "<svg><script>window.__xss=1</script></svg>",
    "<svg><animate onbegin=window.__xss=1 attributeName=x dur=1s>",
    '<svg><a xlink:href="javascript:alert(1)"><text x="20" y="20">x</text></a></svg>',
    '<svg></p><style><a id="</style><img src=1 onerror=window.__xss=1>">',
    "<math><mtext><table><mglyph><style><img src=x onerror=window.__xss=1>",
    "<form><math><mtext></form><form><mglyph><style></math><img src onerror=window.__xss=1>",
    '<noscript><p title="</noscript><img src=x onerror=window.__xss=1>">',
    "<xmp><img src=x onerror=window.__xss=1></xmp>",
    "<template><script>window.__xss=1</script></template>",
    '<a href="javascript:window.__xss=1">click</a>',
    '<a href="jav&#x09;ascript:alert(1)">tab</a>',
    '<a href="&#106;avascript:alert(1)">entity</a>',
    '<a href=" JaVaScRiPt:alert(1)">case</a>',
    '<iframe src="javascript:alert(1)"></iframe>',
    '<iframe srcdoc="<script>parent.__xss=1</script>"></iframe>',
    '<object data="javascript:alert(1)"></object>',
    '<embed src="javascript:alert(1)">',
    '<form action="javascript:alert(1)"><button>go</button></form>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="javascript:alert(1)//">',
    "<style>@import 'javascript:alert(1)';</style>",
    '<div style="background:url(javascript:alert(1))">bg</div>',
    "<body onload=window.__xss=1>",
    "<details open ontoggle=window.__xss=1>",
    "<input autofocus onfocus=window.__xss=1>",
    "<select autofocus onfocus=window.__xss=1>",
    "<textarea autofocus onfocus=window.__xss=1>",
    "<video><source onerror=window.__xss=1></video>",
    "<marquee onstart=window.__xss=1>",
    "&lt;script&gt;window.__xss=1&lt;/script&gt;",
    "{{7*7}}<script>window.__xss=1</script>",
    "';alert(1)//",
    '"-alert(1)-"',
    "javascript:window.__xss=1",
    "</textarea><script>window.__xss=1</script>",
    "</title><script>window.__xss=1</script>",
]
GROUP = 5  # payloads per ticket: keeps the browser's tour short


def _one_line(payload: str) -> str:
    return payload.replace("\x0b", " ")


# Markup checks ----------------------------------------------------------------------------

_URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "xlink:href", "srcdoc"}
_NEVER = {"object", "embed", "svg", "math", "base", "template", "noscript", "xmp"}


class _Inspector(HTMLParser):
    def __init__(self, *, frame: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.frame = frame
        self.problems: list[str] = []
        self.styles = 0
        self.bases = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name.lower(): value or "" for name, value in attrs}
        for name, value in values.items():
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...>")
            cleaned = re.sub(r"[\x00-\x20]", "", value).lower()
            if name in _URL_ATTRIBUTES and cleaned.startswith(("javascript:", "vbscript:")):
                self.problems.append(f"<{tag} {name}={value!r}>")
        if tag == "script" and not values.get("src", "").startswith("/static/"):
            self.problems.append("<script> without our src")
        if tag in ("iframe", "frame") and "sandbox" not in values:
            self.problems.append(f"<{tag}> without sandbox")
        if tag in ("iframe", "frame") and "allow-scripts" in values.get("sandbox", ""):
            self.problems.append(f"<{tag}> allowing scripts")
        if tag == "meta" and values.get("http-equiv", "").lower() == "refresh":
            self.problems.append("<meta refresh>")
        if tag == "base" and self.frame and "href" not in values and not self.bases:
            self.bases += 1  # the frame's own <base target="_blank">
        elif tag in _NEVER or (tag == "form" and self.frame):
            self.problems.append(f"<{tag}>")
        if tag == "style":
            self.styles += 1
            if not self.frame or self.styles > 1:
                self.problems.append("<style> from the content")


def inert(html: str, *, frame: bool = False) -> list[str]:
    inspector = _Inspector(frame=frame)
    inspector.feed(html)
    inspector.close()
    return inspector.problems


def test_the_inspector_catches_what_it_should() -> None:
    assert inert("<p>fine</p><script src='/static/app.js'></script>") == []
    assert inert("<img src=x onerror=alert(1)>")
    assert inert('<a href=" java\tscript:alert(1)">')
    assert inert("<script>alert(1)</script>")
    assert inert('<iframe src="/x">')
    assert inert("<svg><animate onbegin=x>")


# The hostile help desk ---------------------------------------------------------------------


@dataclass
class Hostile:
    desk: Desk
    tickets: list[int]
    senders: dict[int, str]
    frames: list[str]
    articles: list[str] = field(default_factory=list)


def _hostile_desk(desk: Desk) -> Hostile:
    desk.add_user("admin@example.org", Role.ADMIN, name=_one_line(PAYLOADS[0])[:200])
    for index, payload in enumerate(PAYLOADS[1:8]):
        desk.add_user(f"agent{index}@example.org", Role.AGENT, name=_one_line(payload)[:200])
    tickets, senders = [], {}
    for start in range(0, len(PAYLOADS), GROUP):
        group = PAYLOADS[start : start + GROUP]
        sender = f"xss{start}@example.com"
        number = desk.ticket(
            raw=mail(
                subject=" ".join(_one_line(p) for p in group),
                sender=sender,
                sender_name=_one_line(group[0])[:150],
                body="\n".join(group),
                html="<p>" + "</p><p>".join(group) + "</p>",
                attachments=[(_one_line(p)[:120] + ".txt", "text/html", p.encode()) for p in group],
            )
        )
        tickets.append(number)
        senders[number] = sender
        with transaction(desk.app.sessions) as db:
            add_note(db, number, "\n".join(group), actor=Actor("agent0@example.org", name=group[1]))
    with transaction(desk.app.sessions) as db:
        for index, payload in enumerate(PAYLOADS):
            db.add(Category(key=f"xss-{index}", name=_one_line(payload)[:200], description=payload))
        frames = [
            f"/tickets/{m.ticket_id}/messages/{m.id}/body"
            for m in db.execute(
                select(Message).where(Message.html_sanitized.is_not(None))
            ).scalars()
        ]
    return Hostile(desk, tickets, senders, frames, _hostile_articles(desk, tickets))


def _storable(payload: str) -> bool:
    """False for a payload that opens a Markdown block it never closes (an article cannot hold
    it at the start of a line; inline, after a word, it can)."""
    try:
        write_markdown(ArticleDocument("x", "x", payload, payload))
    except KnowledgeFileError:
        return False
    return True


def _hostile_articles(desk: Desk, tickets: list[int]) -> list[str]:
    """Articles written with the payloads (title, Markdown sections, tags, a second version
    for the diff); the first is published and offered to the first ticket's requester."""
    slugs = []
    for start in range(0, len(PAYLOADS), GROUP):
        group = PAYLOADS[start : start + GROUP]
        lines = [p if _storable(p) else f"Try {p}" for p in group]
        text = "\n\n".join(lines) + "\n\n[a link](javascript:window.__xss=1) ![i](x:y)"
        with transaction(desk.app.sessions) as db:
            made = create_article(
                db,
                ArticleDraft(_one_line(group[0])[:200], text, text, None, ("x",), Audience.PUBLIC),
                actor=Actor("admin@example.org"),
            )
            edit_article(
                db,
                None,
                made.slug,
                ArticleDraft(
                    made.title,
                    text,
                    "\n".join(group),
                    None,
                    tuple(_one_line(p)[:50] for p in group),
                ),
                actor=Actor("admin@example.org", name=group[1]),
                note=_one_line(group[2]),
            )
            slugs.append(made.slug)
    publish_without_model(desk, slugs[0])
    offer(desk, tickets[0], slugs[0])
    return slugs


def _admin_pages(hostile: Hostile) -> list[str]:
    pages = [
        "/tickets",
        "/tickets?status=all",
        "/admin/users",
        "/admin/categories",
        "/admin/audit",
        "/account",
        "/admin/inbound",
        "/dashboard?days=365",
        "/admin/process",
        "/admin/templates",
        "/admin/templates/resolution/body.html",
        "/admin/mailboxes",
        "/admin/classifier",
    ]
    pages += [f"/tickets/{n}" for n in hostile.tickets]
    pages += [f"/tickets?q={quote(p)}" for p in PAYLOADS[:6]]
    pages += ["/kb", "/kb/gaps", f"/kb?q={quote(PAYLOADS[0])}"]
    for slug in hostile.articles:
        pages += [f"/kb/articles/{slug}", f"/kb/articles/{slug}/versions"]
    pages += [
        f"/kb/articles/{hostile.articles[0]}/edit",
        f"/kb/new?from_ticket={hostile.tickets[0]}",
    ]
    return pages


def _status_pages(hostile: Hostile) -> list[str]:
    secret = hostile.desk.web.state.web.config.secret
    pages = [f"/status/{make_status_token(secret, n, hostile.senders[n])}" for n in hostile.tickets]
    offered = f"{pages[0]}/articles/{hostile.articles[0]}"
    return [*pages, offered, f"{pages[0]}/solved?article={hostile.articles[0]}"]


@pytest.fixture
def hostile(sqlite_desk: Desk) -> Hostile:
    return _hostile_desk(sqlite_desk)


def test_markup_stays_inert(hostile: Hostile) -> None:
    desk = hostile.desk
    anonymous = desk.fresh_client()
    for payload in PAYLOADS[:6]:
        login = anonymous.get(f"/login?next={quote(payload)}")
        assert inert(login.text) == [], payload
    failed_login = anonymous.post(
        "/login",
        data={
            "email": PAYLOADS[3],
            "password": "x",
            "csrf_token": csrf_of(anonymous.get("/login").text),
        },
    )
    assert inert(failed_login.text) == []
    desk.login("admin@example.org")
    csrf = csrf_of(desk.client.get("/account").text)
    # Hostile text through the admins' forms too (flash messages repeat some of it).
    created = desk.client.post(
        "/admin/users",
        data={
            "csrf_token": csrf,
            "email": PAYLOADS[0],
            "name": "x",
            "role": "agent",
            "password": PASSWORD,
        },
    )
    assert inert(created.text) == []
    token = desk.client.post(
        "/admin/users/1/tokens", data={"csrf_token": csrf, "name": _one_line(PAYLOADS[5])}
    )
    assert inert(token.text) == []
    grouped = desk.client.post(
        f"/tickets/{hostile.tickets[0]}/assign",
        data={"csrf_token": csrf, "assignee": "", "group": _one_line(PAYLOADS[3])[:100]},
    )
    assert inert(grouped.text) == []
    for path in _admin_pages(hostile) + _status_pages(hostile):
        response = desk.client.get(path)
        assert response.status_code == 200, path
        assert inert(response.text) == [], path
    for path in hostile.frames:
        response = desk.client.get(path)
        assert inert(response.text, frame=True) == [], path
    # The payloads are shown as text, not dropped: an agent must see what the mail said.
    ticket_page = desk.client.get(f"/tickets/{hostile.tickets[0]}").text
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in ticket_page
    article_page = desk.client.get(f"/kb/articles/{hostile.articles[0]}").text
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in article_page


# In the browser ----------------------------------------------------------------------------


def _flags(page: Page) -> list[str]:
    found = []
    for frame in page.frames:
        try:
            value = frame.evaluate("() => window.__xss")
        except Exception:
            continue
        if value is not None:
            found.append(f"{frame.url}: {value!r}")
    return found


def _open_everything(page: Page) -> None:
    # Open every <details> so that the mail frames inside load and render.
    page.evaluate("() => document.querySelectorAll('details').forEach(d => { d.open = true; })")
    for frame in page.frames:
        if frame is not page.main_frame:
            _wait(frame)


def _wait(frame: Frame) -> None:
    try:
        frame.wait_for_load_state("load", timeout=5000)
    except Exception:
        return


@pytest.mark.browser
def test_no_script_runs_in_the_browser(hostile: Hostile, browser_context: BrowserContext) -> None:
    desk = hostile.desk
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    with live_web(desk.app, fast_config(desk.app)) as web:
        page = browser_context.new_page()
        page.on("dialog", record)
        page.goto(f"{web.url}/login?next={quote(PAYLOADS[3])}")
        page.fill("#email", "admin@example.org")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state("load")
        visited = 0
        for path in _admin_pages(hostile) + hostile.frames:
            page.goto(web.url + path)
            _open_everything(page)
            page.wait_for_timeout(50)
            assert _flags(page) == [], path
            visited += 1
        requester = browser_context.browser.new_context()  # type: ignore[union-attr]
        status = requester.new_page()
        status.on("dialog", record)
        for path in _status_pages(hostile):
            status.goto(web.url + path)
            _open_everything(status)
            status.wait_for_timeout(50)
            assert _flags(status) == [], path
            visited += 1
        requester.close()
    assert dialogs == []
    assert visited > 25


@pytest.mark.browser
def test_csp_blocks_inline_script_even_if_escaping_failed(
    sqlite_desk: Desk, browser_context: BrowserContext
) -> None:
    with live_web(sqlite_desk.app, fast_config(sqlite_desk.app)) as web:
        page = browser_context.new_page()
        page.goto(f"{web.url}/login")
        violated = page.evaluate(
            """() => new Promise(resolve => {
                const seen = [];
                document.addEventListener(
                    'securitypolicyviolation', e => seen.push(e.effectiveDirective));
                const script = document.createElement('script');
                script.textContent = 'window.__xss = "inline script"';
                document.body.appendChild(script);
                document.body.insertAdjacentHTML(
                    'beforeend', '<img src="data:," onerror="window.__xss=\\'handler\\'">');
                setTimeout(() => resolve(seen), 500);
            })"""
        )
        assert page.evaluate("() => window.__xss") is None
        assert "script-src-elem" in violated
        assert "script-src-attr" in violated
