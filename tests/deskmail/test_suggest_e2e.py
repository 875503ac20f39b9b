"""End to end: a mail about a known problem goes through the whole pipeline and its ticket gets
the right starter article suggested, with the passage that matched and the requester's
eligibility; `deskmail tickets show N --json` lists the suggestions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from deskmail.app import App
from deskmail.cli import cli
from deskmail.inject import inject_bytes
from deskmail.knowledge_transfer import import_documents
from deskmail.matching import KnowledgeServices
from deskmail.ticket_actions import Actor
from deskmail.views import ticket_detail
from deskmail.wiring import build_services, build_worker
from models import Outcome, Suggestion, Ticket
from models.suggestion import SuggestionRun
from tests.conftest import HELPDESK, make_settings
from tests.deskmail.kb_support import (
    copy_database,
    knowledge,
    mail,
    small_kb,
    starter_by_slug,
    starter_template,
    worker,
)

pytestmark = pytest.mark.model

VPN_MAIL = mail(
    "VPN broken since this morning",
    "Hi,\n\nwhen I try to connect to the VPN from home the client says "
    '"The certificate has expired or is not yet valid" and stops.\n'
    "What can I do?\n\nThanks,\nKim\n\n-- \nKim Lee | Finance",
)
PAPER_JAM_MAIL = mail(
    "printer stuck",
    "The printer next to the kitchen on the 2nd floor shows 'Paper jam in tray 2' and "
    "won't print anything. I opened the front door but can't see any paper.",
)


@pytest.fixture
def starter_app(sqlite_template: Path, tmp_path: Path) -> Iterator[App]:
    """An application on a copy of a database holding the whole starter knowledge base."""
    template = starter_template(sqlite_template, tmp_path.parent / "starter-template")
    url = copy_database(template, tmp_path / "db")
    application = App.open(make_settings(tmp_path / "data", url))
    yield application
    application.close()


def _suggestions(app: App, number: int) -> list[dict[str, Any]]:
    with app.read_sessions() as session:
        ticket = session.get(Ticket, number)
        assert ticket is not None
        detail = ticket_detail(session, ticket)
    return list(detail["suggestions"])


def test_a_vpn_certificate_mail_gets_the_vpn_certificate_article(starter_app: App) -> None:
    app = starter_app
    kb = knowledge(app)
    result = inject_bytes(app, worker(app, kb), VPN_MAIL)
    assert result.outcome is Outcome.TICKET_CREATED
    assert result.ticket is not None
    suggestions = _suggestions(app, result.ticket)
    assert len(suggestions) == 5
    first = suggestions[0]
    assert first["rank"] == 1
    assert first["article"] == {
        "slug": "vpn-certificate-error",
        "title": "VPN shows a certificate error",
        "audience": "public",
    }
    passage = str(first["passage"])
    article = starter_by_slug()["vpn-certificate-error"]
    assert passage
    assert "certificate" in passage.lower()
    # The passage is the article's own text (a part of it), not the ticket's.
    assert (
        passage.split("\n", maxsplit=1)[0]
        in f"{article.title}\n{article.problem}\n{article.solution}"
    )
    assert [s["rank"] for s in suggestions] == [1, 2, 3, 4, 5]
    assert all(s["outcome"] == "pending" for s in suggestions)
    # The acknowledgement (deskmail.acknowledge) offers exactly the eligible articles.
    assert all(s["sent_to_requester"] is s["eligible_for_requester"] for s in suggestions)
    summary = result.details["suggestions"]
    assert isinstance(summary, dict)
    assert summary["eligible"] == sum(1 for s in suggestions if s["eligible_for_requester"])
    with app.read_sessions() as session:
        run = session.scalars(select(SuggestionRun)).one()
        rows = session.scalars(select(Suggestion).order_by(Suggestion.rank)).all()
    assert run.ticket_id == result.ticket
    assert 0.0 < run.fit_confidence <= 1.0
    assert run.threshold == app.settings.knowledge.acknowledgement_threshold
    assert rows[0].explanation["slug"] == "vpn-certificate-error"
    assert rows[0].explanation["dense"] > 0.5
    assert rows[0].score >= rows[1].score


def test_a_paper_jam_mail_gets_the_paper_jam_article_and_a_confident_offer(
    starter_app: App,
) -> None:
    app = starter_app
    settings = app.settings.knowledge.model_copy(update={"acknowledgement_threshold": 0.5})
    base = knowledge(app)
    kb = KnowledgeServices(base.store, type(base.matching)(app, base.store, settings))
    result = inject_bytes(app, worker(app, kb), PAPER_JAM_MAIL)
    assert result.ticket is not None
    suggestions = _suggestions(app, result.ticket)
    assert suggestions[0]["article"]["slug"] == "printer-paper-jam"
    assert "jam" in str(suggestions[0]["passage"]).lower()
    eligible = [s for s in suggestions if s["eligible_for_requester"]]
    assert eligible[0] == suggestions[0]
    assert all(s["article"]["audience"] == "public" for s in eligible)


def test_a_follow_up_is_not_searched_again(starter_app: App) -> None:
    app = starter_app
    kb = knowledge(app)
    run = worker(app, kb)
    number = inject_bytes(app, run, PAPER_JAM_MAIL).ticket
    reply = mail(f"Re: [#{number}] printer stuck", "I found the paper, it works again. Thanks!")
    followup = inject_bytes(app, run, reply)
    assert followup.outcome is Outcome.FOLLOWUP
    assert followup.ticket == number
    with app.read_sessions() as session:
        assert session.scalar(select(func.count()).select_from(SuggestionRun)) == 1


def test_tickets_show_json_lists_the_suggestions(starter_app: App) -> None:
    app = starter_app
    number = inject_bytes(app, worker(app, knowledge(app)), VPN_MAIL).ticket
    runner = CliRunner()
    env = {
        "DESKMAIL_DATABASE_URL": app.settings.resolved_database_url,
        "DESKMAIL_ADDRESSES": HELPDESK,
        "DESKMAIL_SECRET_KEY": "test-secret-key-not-for-production",
    }
    shown = runner.invoke(
        cli,
        ["--data", str(app.settings.data_dir), "tickets", "show", str(number), "--json"],
        env=env,
    )
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    assert data["suggestions"][0]["article"]["slug"] == "vpn-certificate-error"
    assert set(data["suggestions"][0]) >= {
        "rank",
        "score",
        "confidence",
        "passage",
        "eligible_for_requester",
        "sent_to_requester",
    }


def test_a_help_desk_without_articles_never_loads_the_model(sqlite_app: App) -> None:
    services = build_services(sqlite_app)
    result = inject_bytes(sqlite_app, build_worker(sqlite_app, services=services), PAPER_JAM_MAIL)
    assert result.outcome is Outcome.TICKET_CREATED
    assert not services.encoder.loaded
    assert _suggestions(sqlite_app, result.ticket or 0) == []


def test_the_vpn_mail_on_both_databases(app: App) -> None:
    kb = knowledge(app)
    with app.sessions() as session, session.begin():
        import_documents(session, kb.store, small_kb(), actor=Actor("editor@example.org"))
    result = inject_bytes(app, worker(app, kb), VPN_MAIL)
    assert result.ticket is not None
    suggestions = _suggestions(app, result.ticket)
    assert suggestions[0]["article"]["slug"] == "vpn-certificate-error"
