"""The knowledge editors' pages over HTTP: list and filters, the editor with its preview,
drafts, versions with diff and restore, "new article from ticket", the knowledge gaps, and who
may do what (agents read, editors and admins change, CSRF always checked).

Publishing embeds passages; those tests share the session's model (`model` marker)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from sqlalchemy import select

from deskmail.db import transaction
from deskmail.knowledge_base import get_article
from deskmail.ticket_actions import Actor, change_status
from deskmail.web.kb_pages import use_knowledge
from knowledge.embeddings import vector_to_bytes
from models import (
    ArticleStatus,
    Category,
    Embedding,
    Event,
    Passage,
    SuggestionOutcome,
    Ticket,
    TicketStatus,
)
from models.suggestion import SuggestionRun
from tests.web.helpers import Desk, csrf_of
from tests.web.kb_fixtures import ADMIN, AGENT, EDITOR, accounts, article, offer

STEPS = "1. Open **Settings**.\n2. Choose *Reset*.\n\n<script>window.__xss=1</script>"


@pytest.fixture
def kb_desk(sqlite_desk: Desk) -> Desk:
    accounts(sqlite_desk)
    with transaction(sqlite_desk.app.sessions) as db:
        db.add_all(
            [
                Category(key="network", name="Network"),
                Category(key="network/vpn", name="VPN"),
                Category(key="printing", name="Printing"),
            ]
        )
    return sqlite_desk


def _form(csrf: str, **values: str) -> dict[str, str]:
    base = {
        "csrf_token": csrf,
        "title": "Reset the VPN client",
        "problem": "The VPN client hangs at *Connecting*.",
        "solution": STEPS,
        "category": "network/vpn",
        "tags": "vpn, Client , vpn",
        "audience": "public",
        "note": "",
        "action": "save",
    }
    base.update(values)
    return base


def _events(desk: Desk, kind: str) -> list[Event]:
    with desk.app.read_sessions() as db:
        return list(db.execute(select(Event).where(Event.kind == kind)).scalars())


def test_editor_previews_then_saves_a_draft(kb_desk: Desk) -> None:
    csrf = kb_desk.login(EDITOR)
    page = kb_desk.client.get("/kb/new")
    assert page.status_code == 200
    assert 'name="solution"' in page.text

    preview = kb_desk.client.post("/kb/new", data=_form(csrf, action="preview"))
    assert preview.status_code == 200
    # Rendered server-side: Markdown to HTML, raw HTML shown as text, nothing saved yet.
    assert "<ol>" in preview.text
    assert "<strong>Settings</strong>" in preview.text
    assert "<script>window.__xss" not in preview.text
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in preview.text
    assert _events(kb_desk, "article_created") == []

    saved = kb_desk.client.post("/kb/new", data=_form(csrf), follow_redirects=False)
    assert saved.status_code == 303
    assert saved.headers["location"] == "/kb/articles/reset-the-vpn-client"
    page = kb_desk.client.get("/kb/articles/reset-the-vpn-client")
    assert "Draft saved." in page.text
    assert "article-draft" in page.text
    assert "Publish version 1" in page.text
    assert "Not searchable" in page.text
    with kb_desk.app.read_sessions() as db:
        detail = get_article(db, "reset-the-vpn-client")
    assert detail.current.tags == ("vpn", "client")
    assert detail.summary.status is ArticleStatus.DRAFT
    [created] = _events(kb_desk, "article_created")
    assert created.actor == EDITOR


def test_a_refused_save_keeps_what_was_typed(kb_desk: Desk) -> None:
    csrf = kb_desk.login(EDITOR)
    refused = kb_desk.client.post("/kb/new", data=_form(csrf, solution="", title="Keep this title"))
    assert refused.status_code == 400
    assert "solution is empty" in refused.text
    assert 'value="Keep this title"' in refused.text
    unknown = kb_desk.client.post("/kb/new", data=_form(csrf, category="nope/never"))
    assert unknown.status_code == 400
    assert "unknown category" in unknown.text
    article(kb_desk, "Reset the VPN client")
    duplicate = kb_desk.client.post("/kb/new", data=_form(csrf, slug="reset-the-vpn-client"))
    assert duplicate.status_code == 400
    assert "exists already" in duplicate.text


def test_edit_history_diff_and_restore(kb_desk: Desk) -> None:
    slug = article(kb_desk, "Printer shows offline", solution="Turn it off and on.")
    csrf = kb_desk.login(EDITOR)
    form = kb_desk.client.get(f"/kb/articles/{slug}/edit")
    assert "Turn it off and on." in form.text
    preview = kb_desk.client.post(
        f"/kb/articles/{slug}/edit",
        data=_form(
            csrf, title="Printer shows offline", solution="Check the *cable*.", action="preview"
        ),
    )
    assert "<em>cable</em>" in preview.text
    saved = kb_desk.client.post(
        f"/kb/articles/{slug}/edit",
        data=_form(
            csrf,
            title="Printer shows offline",
            problem="It does not work.",
            solution="Check the cable.\nThen turn it off and on.",
            category="printing",
            note="cable first",
        ),
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert "Saved as version 2." in kb_desk.client.get(saved.headers["location"]).text

    history = kb_desk.client.get(f"/kb/articles/{slug}/versions")
    assert history.status_code == 200
    assert "Version 1 → version 2" in history.text
    assert '<span class="diff-del">- Turn it off and on.</span>' in history.text
    assert '<span class="diff-add">+ Check the cable.</span>' in history.text
    assert "cable first" in history.text

    old = kb_desk.client.get(f"/kb/articles/{slug}/versions/1")
    assert "This is version 1, not the current one" in old.text
    assert "Restore version 1" in old.text
    restored = kb_desk.client.post(
        f"/kb/articles/{slug}/versions/1/restore", data={"csrf_token": csrf}
    )
    assert "Version 1 restored as version 3." in restored.text
    with kb_desk.app.read_sessions() as db:
        detail = get_article(db, slug)
    assert detail.current.number == 3
    assert detail.current.solution == "Turn it off and on."
    same = kb_desk.client.get(f"/kb/articles/{slug}/versions", params={"old": 1, "new": 3})
    assert "These versions are the same." in same.text
    assert kb_desk.client.get(f"/kb/articles/{slug}/versions/9").status_code == 404
    assert [e.data["restored"] for e in _events(kb_desk, "article_restored")] == [1]
    assert [e.actor for e in _events(kb_desk, "article_edited")] == [EDITOR]


def test_list_shows_use_and_solve_rate_and_filters(kb_desk: Desk) -> None:
    vpn = article(kb_desk, "VPN certificate error", category="network/vpn")
    article(kb_desk, "Unlock an account", audience="internal")  # type: ignore[arg-type]
    paper = article(kb_desk, "Paper jam", category="printing")
    tickets = [kb_desk.ticket(subject=f"VPN problem {i}") for i in range(4)]
    outcomes = [
        SuggestionOutcome.ACCEPTED,
        SuggestionOutcome.SOLVED,
        SuggestionOutcome.REJECTED,
        SuggestionOutcome.PENDING,
    ]
    for number, outcome in zip(tickets, outcomes, strict=True):
        offer(kb_desk, number, vpn, outcome=outcome)
    with transaction(kb_desk.app.sessions) as db:
        from deskmail.knowledge_base import archive_article  # noqa: PLC0415

        archive_article(db, paper, actor=Actor(EDITOR))

    kb_desk.login(AGENT)
    listing = kb_desk.client.get("/kb")
    assert listing.status_code == 200
    row = re.search(
        r"<tr data-href=\"/kb/articles/vpn-certificate-error\">(.*?)</tr>", listing.text, re.S
    )
    assert row is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    # suggested 4, used 2 (accepted + solved), solve rate 2 of 3 judged.
    assert cells[5:8] == ["4", "2", "67 %"]
    assert "New article" not in listing.text  # agents read only

    def titles(**params: str) -> list[str]:
        page = kb_desk.client.get("/kb", params=params).text
        return re.findall(r'<td class="subject"><a href="[^"]+">([^<]+)</a>', page)

    assert titles() == ["Paper jam", "Unlock an account", "VPN certificate error"]
    assert titles(status="archived") == ["Paper jam"]
    assert titles(audience="internal") == ["Unlock an account"]
    assert titles(category="network") == ["VPN certificate error"]
    assert titles(q="jam") == ["Paper jam"]
    assert titles(status="bogus") == titles()


def test_new_article_from_a_resolved_ticket(kb_desk: Desk) -> None:
    number = kb_desk.ticket(
        subject="Re: [#12] Outlook keeps asking for my password",
        body="Outlook asks for my password every five minutes since Monday.",
    )
    with transaction(kb_desk.app.sessions) as db:
        ticket = db.get(Ticket, number)
        assert ticket is not None
        ticket.resolution = "Removed the stale credentials from the Windows Credential Manager."
        change_status(db, number, TicketStatus.RESOLVED, actor=Actor(AGENT))
    csrf = kb_desk.login(EDITOR)
    page = kb_desk.client.get("/kb/new", params={"from_ticket": number})
    assert page.status_code == 200
    assert f"Prefilled from ticket #{number}." in page.text
    assert 'value="Outlook keeps asking for my password"' in page.text
    assert "every five minutes since Monday" in page.text
    assert "Windows Credential Manager" in page.text
    assert '<option value="internal" selected>' in page.text
    assert f'name="from_ticket" value="{number}"' in page.text

    saved = kb_desk.client.post(
        "/kb/new",
        data=_form(
            csrf,
            title="Outlook keeps asking for the password",
            solution="Remove the stale credentials.",
            audience="internal",
            from_ticket=str(number),
        ),
        follow_redirects=False,
    )
    assert saved.status_code == 303
    [drafted] = _events(kb_desk, "article_drafted")
    assert drafted.ticket_id == number
    assert drafted.data["slug"] == "outlook-keeps-asking-for-the-password"
    with kb_desk.app.read_sessions() as db:
        version = get_article(db, "outlook-keeps-asking-for-the-password").current
    assert version.note == f"from ticket #{number}"

    # An open ticket prefills the problem and asks for the solution; none at all is a 404.
    other = kb_desk.ticket(subject="Teams has no sound")
    open_page = kb_desk.client.get("/kb/new", params={"from_ticket": other})
    assert "please write the solution" in open_page.text
    assert kb_desk.client.get("/kb/new", params={"from_ticket": 99999}).status_code == 404


def _searched(desk: Desk, number: int, vector: np.ndarray, fit: float) -> None:
    """What the suggest stage stores for a ticket: its run and the query's vector."""
    key = f"{number:064x}"
    with transaction(desk.app.sessions) as db:
        db.add(
            Embedding(
                content_sha256=key,
                model=desk.app.settings.knowledge.model_key,
                dim=int(vector.shape[0]),
                vector=vector_to_bytes(vector.astype(np.float32)),
            )
        )
        db.add(
            SuggestionRun(
                ticket_id=number,
                fit_confidence=fit,
                requester_fit_confidence=fit,
                threshold=0.85,
                model=desk.app.settings.knowledge.model_key,
                query_key=key,
            )
        )


def _unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float64)
    return vector / np.linalg.norm(vector)


def test_knowledge_gaps_are_clustered_and_lead_to_a_draft(kb_desk: Desk) -> None:
    badge = [kb_desk.ticket(subject=f"Badge reader refuses my card ({i})") for i in range(3)]
    teams = [kb_desk.ticket(subject=f"Teams camera is black ({i})") for i in range(2)]
    covered = kb_desk.ticket(subject="Paper jam")
    helped = kb_desk.ticket(subject="Badge reader again")
    for index, number in enumerate(badge):
        _searched(kb_desk, number, _unit(1.0, 0.1 * index, 0.0), fit=0.2)
    for index, number in enumerate(teams):
        _searched(kb_desk, number, _unit(0.0, 0.1 * index, 1.0), fit=0.3)
    _searched(kb_desk, covered, _unit(0.0, 1.0, 0.0), fit=0.95)
    _searched(kb_desk, helped, _unit(1.0, 0.0, 0.0), fit=0.2)
    slug = article(kb_desk, "Badge")
    offer(kb_desk, helped, slug, outcome=SuggestionOutcome.ACCEPTED)
    never = kb_desk.ticket(subject="Nothing searched yet")

    kb_desk.login(EDITOR)
    page = kb_desk.client.get("/kb/gaps")
    assert page.status_code == 200
    clusters = re.findall(r'<section class="card gap-cluster" aria-label="([^"]+)">', page.text)
    assert len(clusters) == 3
    assert clusters[0].startswith("Badge reader refuses my card")
    assert clusters[1].startswith("Teams camera is black")
    assert clusters[2] == "Nothing searched yet"
    assert "Paper jam" not in page.text
    assert "Badge reader again" not in page.text
    links = re.findall(r'href="/kb/new\?gap=([0-9,]+)"', page.text)
    assert sorted(map(int, links[0].split(","))) == badge
    assert links[2] == str(never)

    draft = kb_desk.client.get("/kb/new", params={"gap": links[0]})
    assert "Also reported as:" in draft.text
    assert "Prefilled from 3 ticket(s)" in draft.text
    # Only tickets of the last days count.
    assert kb_desk.client.get("/kb/gaps", params={"days": 0}).status_code == 400

    agent = kb_desk.fresh_client()
    kb_desk.login(AGENT, client=agent)
    assert agent.get("/kb/gaps").status_code == 403


def test_agents_read_editors_change(kb_desk: Desk) -> None:
    slug = article(kb_desk, "Printer shows offline")
    agent = kb_desk.fresh_client(follow_redirects=False)
    csrf = kb_desk.login(AGENT, client=agent)
    assert agent.get("/kb").status_code == 200
    assert agent.get(f"/kb/articles/{slug}").status_code == 200
    assert "Edit</a>" not in agent.get(f"/kb/articles/{slug}").text
    assert agent.get(f"/kb/articles/{slug}/versions").status_code == 200
    for path in ("/kb/new", f"/kb/articles/{slug}/edit", "/kb/gaps"):
        assert agent.get(path).status_code == 403, path
    for path in (
        "/kb/new",
        f"/kb/articles/{slug}/edit",
        f"/kb/articles/{slug}/publish",
        f"/kb/articles/{slug}/archive",
        f"/kb/articles/{slug}/unpublish",
        f"/kb/articles/{slug}/versions/1/restore",
    ):
        assert agent.post(path, data=_form(csrf)).status_code == 403, path

    admin = kb_desk.fresh_client(follow_redirects=False)
    admin_csrf = kb_desk.login(ADMIN, client=admin)
    archived = admin.post(f"/kb/articles/{slug}/archive", data={"csrf_token": admin_csrf})
    assert archived.status_code == 303
    # Without the session's CSRF token, or from another site, nothing changes.
    editor = kb_desk.fresh_client(follow_redirects=False)
    editor_csrf = kb_desk.login(EDITOR, client=editor)
    assert editor.post(f"/kb/articles/{slug}/unpublish", data={}).status_code == 403
    foreign = editor.post(
        f"/kb/articles/{slug}/unpublish",
        data={"csrf_token": editor_csrf},
        headers={"Origin": "https://evil.example"},
    )
    assert foreign.status_code == 403
    anonymous = kb_desk.fresh_client(follow_redirects=False)
    assert anonymous.get("/kb").headers["location"] == "/login?next=%2Fkb"
    assert [e.actor for e in _events(kb_desk, "article_archived")] == [ADMIN]
    assert _events(kb_desk, "article_unpublished") == []
    assert csrf_of(editor.get("/kb/new").text) == editor_csrf


@pytest.mark.model
def test_publish_archive_and_back_to_draft(kb_desk: Desk) -> None:
    from tests.deskmail.kb_support import knowledge  # noqa: PLC0415 - loads the model helpers

    use_knowledge(kb_desk.web, knowledge(kb_desk.app))
    slug = article(
        kb_desk,
        "Badge reader at gate B rejects badges",
        problem="The badge reader at gate B blinks red.",
        solution="Hold the badge flat on the reader for two seconds.",
    )
    csrf = kb_desk.login(EDITOR)
    published = kb_desk.client.post(f"/kb/articles/{slug}/publish", data={"csrf_token": csrf})
    assert "Version 1 is published." in published.text
    assert "article-published" in published.text
    assert "Hold the badge flat" in published.text  # among the indexed passages
    with kb_desk.app.read_sessions() as db:
        passages = db.execute(select(Passage.id)).all()
    assert passages

    edited = kb_desk.client.post(
        f"/kb/articles/{slug}/edit",
        data=_form(
            csrf,
            title="Badge reader at gate B rejects badges",
            problem="The badge reader at gate B blinks red.",
            solution="Hold the badge flat on the reader for three seconds.",
            category="",
        ),
    )
    assert "Saved as version 2. The new text is live." in edited.text
    assert "three seconds" in edited.text

    back = kb_desk.client.post(f"/kb/articles/{slug}/unpublish", data={"csrf_token": csrf})
    assert "Back to draft" in back.text
    archived = kb_desk.client.post(f"/kb/articles/{slug}/archive", data={"csrf_token": csrf})
    assert "Archived" in archived.text
    with kb_desk.app.read_sessions() as db:
        assert db.execute(select(Passage.id)).all() == []
    kinds = [
        e.kind for e in _events(kb_desk, "article_published") + _events(kb_desk, "article_archived")
    ]
    assert kinds == ["article_published", "article_archived"]
    assert {e.actor for e in _events(kb_desk, "article_published")} == {EDITOR}
