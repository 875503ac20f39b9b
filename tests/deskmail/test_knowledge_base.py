"""Editors' use cases on a real database (SQLite and PostgreSQL) with the real model: versions,
publishing and search, archive and restore, import and export, articles from tickets, and
what suggestions' outcomes change."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select

from deskmail.app import App
from deskmail.inject import inject_bytes
from deskmail.knowledge_base import (
    ArticleDraft,
    KnowledgeBaseError,
    add_attachment,
    archive_article,
    attachment_data,
    create_article,
    create_article_from_ticket,
    diff_versions,
    draft_from_ticket,
    edit_article,
    get_article,
    list_articles,
    publish_article,
    record_outcome,
    remove_attachment,
    restore_version,
)
from deskmail.knowledge_transfer import (
    embed_documents,
    export_documents,
    import_documents,
    write_export,
)
from deskmail.matching import KnowledgeServices, knowledge_version
from deskmail.ticket_actions import Actor
from knowledge.kb_io import ArticleDocument, KnowledgeFileError, read_path
from models import (
    ArticleExample,
    ArticleStatus,
    Audience,
    Blob,
    Embedding,
    Event,
    Passage,
    Suggestion,
    SuggestionOutcome,
    Ticket,
)
from tests.deskmail.kb_support import knowledge, mail, small_kb, worker

pytestmark = pytest.mark.model

EDITOR = Actor("editor@example.org")

BADGE = ArticleDraft(
    title="Door badge does not open the entrance",
    problem=(
        "Your staff badge beeps red at the reader of the main entrance or the car park gate, "
        "and the door stays closed. It worked yesterday."
    ),
    solution=(
        "1. Hold the badge flat against the reader for two seconds.\n"
        "2. Keep it away from phones and other cards in the same wallet.\n"
        "3. If it still beeps red, reception can re-activate it; bring photo ID."
    ),
    category="hardware/peripherals",
    tags=("badge", "door", "access card"),
)


@pytest.fixture
def kb(app: App) -> KnowledgeServices:
    return knowledge(app)


def _import(app: App, kb: KnowledgeServices, docs: list[ArticleDocument]) -> None:
    embed_documents(kb.store, docs)
    with app.sessions() as session, session.begin():
        import_documents(session, kb.store, docs, actor=EDITOR, source="test")


def _slugs(kb: KnowledgeServices, text: str, **options: object) -> list[str]:
    return [match.slug for match in kb.matching.search(text, **options)]  # type: ignore[arg-type]


def test_publish_makes_an_article_searchable_and_archive_removes_it(
    app: App, kb: KnowledgeServices
) -> None:
    _import(app, kb, small_kb())
    query = "my badge beeps red at the entrance and the door does not open"
    with app.sessions() as session, session.begin():
        article = create_article(session, BADGE, actor=EDITOR)
        assert article.slug == "door-badge-does-not-open-the-entrance"
        assert article.status == ArticleStatus.DRAFT
    assert article.slug not in _slugs(kb, query), "a draft is not searchable"

    with app.sessions() as session, session.begin():
        before = knowledge_version(session)
        publish_article(session, kb.store, article.slug, actor=EDITOR)
        assert knowledge_version(session) == before + 1
    result = kb.matching.search(query)
    assert result.matches[0].slug == article.slug
    assert "beeps red" in result.matches[0].passage
    assert result.fit_confidence > 0.5

    with app.sessions() as session, session.begin():
        archive_article(session, article.slug, actor=EDITOR)
        assert session.scalar(select(func.count()).where(Passage.article_id == article.id)) == 0
    assert article.slug not in _slugs(kb, query)
    with app.read_sessions() as session:
        kinds = session.scalars(
            select(Event.kind).where(Event.ticket_id.is_(None)).order_by(Event.id)
        ).all()
    assert kinds[-3:] == ["article_created", "article_published", "article_archived"]


def test_editing_a_published_article_reembeds_it_and_drops_the_old_passages(
    app: App, kb: KnowledgeServices
) -> None:
    with app.sessions() as session, session.begin():
        create_article(session, BADGE, actor=EDITOR)
        publish_article(session, kb.store, "door-badge-does-not-open-the-entrance", actor=EDITOR)
    with app.read_sessions() as session:
        old_texts = set(session.scalars(select(Passage.text)))
    new_solution = (
        "1. The turnstile firmware was replaced in March: badges issued before then must be "
        "re-encoded at the security desk on the ground floor.\n"
        "2. Bring the badge and photo ID; re-encoding takes a minute."
    )
    with app.sessions() as session, session.begin():
        version = edit_article(
            session,
            kb.store,
            "door-badge-does-not-open-the-entrance",
            replace(BADGE, solution=new_solution),
            actor=EDITOR,
            note="new turnstiles",
        )
        assert version.number == 2
    with app.read_sessions() as session:
        rows = session.execute(select(Passage.text, Passage.version_number, Passage.model)).all()
        stored = set(session.scalars(select(Embedding.content_sha256)))
        keys = set(session.scalars(select(Passage.content_sha256)))
    assert {row.version_number for row in rows} == {2}
    assert {row.model for row in rows} == {kb.store.model_key}
    assert any("re-encoded" in row.text for row in rows)
    assert old_texts - {row.text for row in rows}, "the old solution's passages are gone"
    assert keys <= stored, "every passage has its stored vector"
    top = kb.matching.search("turnstile firmware badge must be re-encoded at security desk")
    assert top.matches[0].slug == "door-badge-does-not-open-the-entrance"
    assert "re-encoded" in top.matches[0].passage


def test_restore_saves_an_old_text_as_the_newest_version(app: App, kb: KnowledgeServices) -> None:
    slug = "door-badge-does-not-open-the-entrance"
    with app.sessions() as session, session.begin():
        create_article(session, BADGE, actor=EDITOR)
        publish_article(session, kb.store, slug, actor=EDITOR)
        edit_article(
            session,
            kb.store,
            slug,
            replace(BADGE, title="Badge problems", tags=("badge",)),
            actor=Actor("other@example.org"),
        )
    with app.sessions() as session, session.begin():
        restored = restore_version(session, kb.store, slug, 1, actor=EDITOR)
        assert restored.number == 3
    with app.read_sessions() as session:
        detail = get_article(session, slug)
        diff = diff_versions(session, slug, 1, 2)
        assert diff_versions(session, slug, 1, 3) == ""
        titles = set(session.scalars(select(Passage.text).where(Passage.ordinal == 0)))
    assert [v.number for v in detail.versions] == [1, 2, 3]
    assert [v.created_by for v in detail.versions] == [
        "editor@example.org",
        "other@example.org",
        "editor@example.org",
    ]
    assert detail.versions[2].note == "restored version 1"
    assert detail.current.title == BADGE.title
    assert detail.current.tags == BADGE.tags
    assert detail.summary.published_version == 3
    assert titles == {BADGE.title}, "the published passages are the restored text's"
    assert "-title: Door badge does not open the entrance" in diff
    assert "+title: Badge problems" in diff
    with app.read_sessions() as session, pytest.raises(KnowledgeBaseError):
        diff_versions(session, slug, 1, 9)


def test_import_and_export_round_trip(app: App, kb: KnowledgeServices, tmp_path: Path) -> None:
    docs = sorted(small_kb(), key=lambda doc: doc.slug)
    _import(app, kb, docs)
    with app.read_sessions() as session:
        exported = export_documents(session)
    assert exported == docs
    for fmt, dest in (("md", tmp_path / "md"), ("jsonl", tmp_path / "kb.jsonl")):
        write_export(exported, dest, fmt)  # type: ignore[arg-type]
        assert sorted(read_path(dest), key=lambda doc: doc.slug) == docs

    # Importing the same files again changes nothing; a changed file is a new version.
    changed = replace(
        docs[0], solution=docs[0].solution + "\n\nIf nothing helps, call the help desk."
    )
    archived = replace(docs[1], status=ArticleStatus.ARCHIVED)
    embed_documents(kb.store, [changed])
    with app.sessions() as session, session.begin():
        report = import_documents(
            session, kb.store, [changed, archived, *docs[2:]], actor=EDITOR, source="again"
        )
    assert report.updated == (changed.slug,)
    assert report.archived == (archived.slug,)
    assert set(report.unchanged) == {doc.slug for doc in docs[1:]}
    assert report.created == ()
    assert report.published == ()
    with app.read_sessions() as session:
        versions = {s.slug: s.current_version for s in list_articles(session)}
        statuses = {s.slug: s.status for s in list_articles(session)}
    assert versions[changed.slug] == 2
    assert all(versions[doc.slug] == 1 for doc in docs[1:])
    assert statuses[archived.slug] == ArticleStatus.ARCHIVED
    with app.read_sessions() as session:
        vpn = [s.slug for s in list_articles(session, text="VPN")]
        printing = list_articles(session, category="hardware", status=ArticleStatus.PUBLISHED)
        assert list_articles(session, text="%") == []
    assert vpn == ["vpn-does-not-connect", "vpn-certificate-error"]
    assert {s.slug for s in printing} == {"printer-offline", "printer-paper-jam"}
    assert archived.slug not in _slugs(kb, "vpn does not connect gateway not reachable", k=8)


def test_import_checks_categories_against_the_tree(app: App, kb: KnowledgeServices) -> None:
    stray = ArticleDocument(
        slug="stray", title="Stray", problem="", solution="Do this.", category="nowhere/else"
    )
    with app.sessions() as session, session.begin(), pytest.raises(KnowledgeFileError):
        import_documents(session, kb.store, [stray], actor=EDITOR)
    with app.read_sessions() as session:
        assert list_articles(session) == []
    with app.sessions() as session, session.begin(), pytest.raises(KnowledgeBaseError):
        create_article(session, ArticleDraft("T", "", "S", category="nowhere"), actor=EDITOR)


def _ticket(app: App, kb: KnowledgeServices, subject: str, body: str) -> int:
    result = inject_bytes(app, worker(app, kb), mail(subject, body))
    assert result.ticket is not None, result
    return result.ticket


def test_an_article_drafted_from_a_resolved_ticket_is_prefilled(
    app: App, kb: KnowledgeServices
) -> None:
    number = _ticket(
        app,
        kb,
        "Re: [#77] Plotter on floor 2 prints blank pages",
        "Hi,\n\nthe big plotter on floor 2 feeds paper but every page comes out blank.\n\nKim",
    )
    with app.sessions() as session, session.begin():
        with pytest.raises(KnowledgeBaseError, match="no resolution"):
            draft_from_ticket(session, number)
        ticket = session.get(Ticket, number)
        assert ticket is not None
        ticket.resolution = "Replaced the empty ink cartridges\r\nand ran a head cleaning."
        ticket.category, ticket.subcategory = "hardware", "hardware/printer"
    with app.sessions() as session, session.begin():
        draft = draft_from_ticket(session, number)
        assert draft.title == "Plotter on floor 2 prints blank pages"
        assert "every page comes out blank" in draft.problem
        assert draft.solution == "Replaced the empty ink cartridges\nand ran a head cleaning."
        assert draft.category == "hardware/printer"
        assert draft.audience is Audience.INTERNAL
        article = create_article_from_ticket(session, number, actor=EDITOR)
        assert article.status == ArticleStatus.DRAFT
    with app.read_sessions() as session:
        detail = get_article(session, article.slug)
        event = session.scalars(
            select(Event).where(Event.ticket_id == number, Event.kind == "article_drafted")
        ).one()
    assert detail.current.problem == draft.problem
    assert detail.versions[0].note == f"from ticket #{number}"
    assert event.data["slug"] == article.slug


def test_outcomes_update_the_solve_rate_and_become_examples(
    app: App, kb: KnowledgeServices
) -> None:
    _import(app, kb, small_kb())
    number = _ticket(
        app,
        kb,
        "VPN certificate expired",
        "The VPN client says the certificate has expired and will not connect.",
    )
    with app.read_sessions() as session:
        rows = session.scalars(
            select(Suggestion).where(Suggestion.ticket_id == number).order_by(Suggestion.rank)
        ).all()
        version = knowledge_version(session)
    assert len(rows) == 5
    first, second = rows[0], rows[1]
    with app.sessions() as session, session.begin():
        record_outcome(session, first.id, SuggestionOutcome.ACCEPTED, EDITOR)
        record_outcome(session, second.id, "rejected", "agent@example.org")
        # The same verdict twice is one verdict.
        record_outcome(session, first.id, SuggestionOutcome.ACCEPTED, EDITOR)
    with app.read_sessions() as session:
        examples = session.scalars(select(ArticleExample).order_by(ArticleExample.id)).all()
        stats = {s.id: s.stats for s in list_articles(session)}
        assert knowledge_version(session) == version + 2
        vectors = session.scalar(
            select(func.count()).where(Embedding.content_sha256 == examples[0].content_sha256)
        )
    assert [(e.article_id, e.positive) for e in examples] == [
        (first.article_id, True),
        (second.article_id, False),
    ]
    assert examples[0].text.startswith("VPN certificate expired\n")
    assert vectors == 1, "the example reuses the vector stored when the ticket was searched"
    assert stats[first.article_id].solve_rate == 1.0
    assert stats[first.article_id].helped == 1
    assert stats[second.article_id].solve_rate == 0.0
    assert stats[rows[2].article_id].solve_rate is None
    assert stats[rows[2].article_id].suggested == 1

    # The ticket came back: the verdict is replaced, not added to.
    with app.sessions() as session, session.begin():
        record_outcome(session, first.id, SuggestionOutcome.REOPENED, "system")
        with pytest.raises(KnowledgeBaseError):
            record_outcome(session, first.id, SuggestionOutcome.PENDING, "system")
    with app.read_sessions() as session:
        kept = session.scalars(
            select(ArticleExample).where(ArticleExample.suggestion_id == first.id)
        ).all()
        stats = {s.id: s.stats for s in list_articles(session)}
    assert [e.positive for e in kept] == [False]
    assert stats[first.article_id].solve_rate == 0.0
    assert stats[first.article_id].reopened == 1


def test_attachments_are_stored_once_by_content(sqlite_app: App) -> None:
    app = sqlite_app
    png = b"\x89PNG\r\n\x1a\n" + b"screenshot" * 100
    with app.sessions() as session, session.begin():
        create_article(session, BADGE, actor=EDITOR)
        create_article(session, ArticleDraft("Second", "", "Steps."), actor=EDITOR)
        first = add_attachment(
            session,
            "door-badge-does-not-open-the-entrance",
            filename="C:\\Users\\kim\\reader\x07.png",
            content_type="image/PNG",
            data=png,
            actor=EDITOR,
        )
        add_attachment(
            session, "second", filename="x.png", content_type="bad type", data=png, actor=EDITOR
        )
        with pytest.raises(KnowledgeBaseError):
            add_attachment(session, "second", filename="e", content_type="", data=b"", actor=EDITOR)
    with app.sessions() as session, session.begin():
        assert session.scalar(select(func.count()).select_from(Blob)) == 1
        attachment, data = attachment_data(session, first.id)
        assert data == png
        assert attachment.filename == "reader.png"
        assert attachment.content_type == "image/png"
        detail = get_article(session, "second")
        assert detail.attachments[0].content_type == "application/octet-stream"
        remove_attachment(session, first.id, actor=EDITOR)
    with app.read_sessions() as session:
        assert get_article(session, "door-badge-does-not-open-the-entrance").attachments == ()
