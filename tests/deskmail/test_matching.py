"""The per-process matcher service: processes sharing one database see each other's changes,
internal articles never reach a requester, learned examples lift articles, and vectors are
written inside the caller's transaction."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from sqlalchemy import func, select, text

from deskmail.app import App
from deskmail.inject import inject_bytes
from deskmail.knowledge_base import archive_article, publish_article, record_outcome
from deskmail.knowledge_transfer import embed_documents, import_documents
from deskmail.matching import KnowledgeServices, bump_knowledge_version, knowledge_version
from deskmail.suggest import requester_eligible
from deskmail.ticket_actions import Actor
from knowledge.kb_io import ArticleDocument
from models import ArticleStatus, Audience, Embedding, Suggestion, SuggestionOutcome
from tests.deskmail.kb_support import knowledge, mail, small_kb, worker

pytestmark = pytest.mark.model

EDITOR = Actor("editor@example.org")
VPN_QUERY = "VPN client says the certificate has expired, cannot connect from home"


def _import(app: App, kb: KnowledgeServices, docs: list[ArticleDocument]) -> None:
    embed_documents(kb.store, docs)
    with app.sessions() as session, session.begin():
        import_documents(session, kb.store, docs, actor=EDITOR, source="test")


def test_a_change_made_by_one_process_is_seen_by_another(app: App) -> None:
    """Two App objects on one database stand for two processes (or machines)."""
    other_app = App.open(app.settings)
    try:
        editor = knowledge(app)
        searcher = knowledge(other_app)
        assert len(searcher.matching.search(VPN_QUERY)) == 0
        docs = [replace(doc, status=ArticleStatus.DRAFT) for doc in small_kb()]
        _import(app, editor, docs)
        assert len(searcher.matching.search(VPN_QUERY)) == 0, "drafts are not searchable"

        with app.sessions() as session, session.begin():
            publish_article(session, editor.store, "vpn-certificate-error", actor=EDITOR)
        found = searcher.matching.search(VPN_QUERY)
        assert [m.slug for m in found] == ["vpn-certificate-error"]
        assert searcher.matching.version == editor.matching.refresh()

        with app.sessions() as session, session.begin():
            archive_article(session, "vpn-certificate-error", actor=EDITOR)
        assert len(searcher.matching.search(VPN_QUERY)) == 0
    finally:
        other_app.close()


def test_the_version_is_checked_at_most_once_per_interval(sqlite_app: App) -> None:
    app = sqlite_app
    now = [100.0]
    services = knowledge(app, reload_check_seconds=5.0)
    services.matching._clock = lambda: now[0]  # a fake clock: no sleeping in tests
    _import(app, knowledge(app), small_kb()[:2])
    loaded = services.matching.refresh()
    assert loaded == 2, "one bump per published article"
    with app.sessions() as session, session.begin():
        bump_knowledge_version(session)
    now[0] += 4.9
    assert services.matching.refresh() == loaded, "not asked again within the interval"
    now[0] += 0.2
    assert services.matching.refresh() == loaded + 1
    assert services.matching.refresh(force=True) == loaded + 1


def test_internal_articles_never_reach_a_requester(sqlite_app: App) -> None:
    app = sqlite_app
    kb = knowledge(app)
    _import(app, kb, small_kb())
    query = (
        "Agent procedure: unlock a user's locked account in the directory after "
        "verifying their identity"
    )
    everyone = kb.matching.search(query, k=8)
    assert everyone.matches[0].slug == "agent-unlock-account"
    public = kb.matching.search(query, k=8, audience=Audience.PUBLIC)
    assert public.matches
    assert all(m.audience is Audience.PUBLIC for m in public.matches)
    assert "agent-unlock-account" not in {m.slug for m in public.matches}
    # Even a certain match is never offered when it is internal.
    strict = kb.matching.settings.model_copy(update={"acknowledgement_threshold": 0.0})
    assert all(
        match.audience is Audience.PUBLIC for match in requester_eligible(public, strict).values()
    )

    result = inject_bytes(
        app,
        worker(app, kb),
        mail(
            "Account locked",
            "My account is locked after too many wrong passwords, please unlock it.",
        ),
    )
    with app.read_sessions() as session:
        rows = session.execute(
            select(Suggestion.eligible_for_requester, Suggestion.explanation).where(
                Suggestion.ticket_id == result.ticket
            )
        ).all()
    slugs = {row.explanation["slug"]: row.eligible_for_requester for row in rows}
    assert "account-locked" in slugs
    assert slugs.get("agent-unlock-account") in (None, False)


def test_an_accepted_suggestion_lifts_the_article_for_a_similar_ticket(sqlite_app: App) -> None:
    app = sqlite_app
    settings_kb = knowledge(app)
    kb = KnowledgeServices(
        settings_kb.store,
        type(settings_kb.matching)(
            app,
            settings_kb.store,
            settings_kb.matching.settings.model_copy(update={"top_k": 8}),
        ),
    )
    _import(app, kb, small_kb())
    # A ticket whose wording points at the wrong article: the fix turned out to be the
    # certificate, which the agent accepts.
    first = (
        "Since the laptop came back from repair I cannot get onto the company network from "
        "home, the VPN window closes right after I press connect."
    )
    similar = (
        "Since my laptop came back from the repair shop I cannot get onto the company network "
        "from home: the VPN window closes right after pressing connect."
    )
    unrelated = "The printer on floor 3 has a paper jam in tray 2"
    before = [m.slug for m in kb.matching.search(similar, k=8)]
    unrelated_before = [(m.slug, round(m.score, 6)) for m in kb.matching.search(unrelated, k=8)]
    assert before[0] != "vpn-certificate-error"

    number = inject_bytes(app, worker(app, kb), mail("VPN closes", first)).ticket
    with app.sessions() as session, session.begin():
        suggestion = session.scalars(select(Suggestion).where(Suggestion.ticket_id == number)).all()
        chosen = next(s for s in suggestion if s.explanation["slug"] == "vpn-certificate-error")
        record_outcome(session, chosen.id, SuggestionOutcome.ACCEPTED, "agent@example.org")

    after = kb.matching.search(similar, k=8)
    assert after.matches[0].slug == "vpn-certificate-error"
    assert float(after.matches[0].explanation["example_bonus"]) > 0  # type: ignore[arg-type]
    unrelated_after = [(m.slug, round(m.score, 6)) for m in kb.matching.search(unrelated, k=8)]
    assert unrelated_after == unrelated_before, "an unrelated ticket ranks exactly as before"


def test_vectors_are_written_in_the_callers_sqlite_transaction(sqlite_app: App) -> None:
    """Inside a pipeline transaction SQLite's write lock is taken: a second connection could
    not store a vector (it would wait for the busy timeout). The store uses the session."""
    app = sqlite_app
    kb = knowledge(app)
    texts = ["a text embedded inside an open write transaction"]
    with app.sessions() as session:
        session.begin()
        session.execute(text("UPDATE person SET name = name"))  # holds the write lock
        started = time.monotonic()
        vectors = kb.store.vectors(texts, session=session)
        assert time.monotonic() - started < 5.0
        assert vectors.shape == (1, 384)
        assert session.scalar(select(func.count()).select_from(Embedding)) == 1
        session.rollback()
    with app.read_sessions() as session:
        # The vector went with the transaction; the process memory still has it.
        assert session.scalar(select(func.count()).select_from(Embedding)) == 0
    again = kb.store.vectors(texts)
    assert (again == vectors).all()
    with app.read_sessions() as session:
        assert session.scalar(select(func.count()).select_from(Embedding)) == 1


def test_version_bumps_from_concurrent_editors_add_up(app: App) -> None:
    with app.sessions() as first, first.begin():
        assert bump_knowledge_version(first) == 1
    with app.sessions() as second, second.begin():
        assert bump_knowledge_version(second) == 2
    with app.read_sessions() as session:
        assert knowledge_version(session) == 2
