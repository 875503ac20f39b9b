"""What requesters see of the knowledge base on their status page: only the public, published
articles offered on their own ticket, readable there, and "this solved it", which closes the
ticket as solved by them and teaches the matcher."""

from __future__ import annotations

from sqlalchemy import select

from deskmail.db import transaction
from deskmail.ticket_actions import Actor, change_status
from deskmail.web.status_links import make_status_token
from models import (
    ArticleExample,
    Audience,
    Event,
    Suggestion,
    SuggestionOutcome,
    Ticket,
    TicketStatus,
)
from tests.web.helpers import Desk
from tests.web.kb_fixtures import article, offer, publish_without_model

ALICE = "alice@example.com"


def _status(desk: Desk, number: int, email: str = ALICE) -> str:
    return f"/status/{make_status_token(desk.web.state.web.config.secret, number, email)}"


def _setup(desk: Desk) -> tuple[int, int, dict[str, str]]:
    number = desk.ticket(subject="Printer offline")
    other = desk.ticket(subject="Someone else's VPN", sender="zed@example.com")
    slugs = {
        "public": article(desk, "Printer shows offline", solution="1. Check the **cable**."),
        "internal": article(desk, "Reset the print spooler", audience=Audience.INTERNAL),
        "draft": article(desk, "Replace the toner"),
        "unsent": article(desk, "Printer driver"),
        "other": article(desk, "VPN certificate error"),
    }
    for key in ("public", "internal", "unsent", "other"):
        publish_without_model(desk, slugs[key])
    offer(desk, number, slugs["public"], rank=1)
    offer(desk, number, slugs["internal"], rank=2)
    offer(desk, number, slugs["draft"], rank=3)
    offer(desk, number, slugs["unsent"], rank=4, sent=False)
    offer(desk, other, slugs["other"], rank=1)
    return number, other, slugs


def test_only_offered_public_published_articles_are_shown(sqlite_desk: Desk) -> None:
    desk = sqlite_desk
    number, other, slugs = _setup(desk)
    base = _status(desk, number)
    page = desk.client.get(base)
    assert page.status_code == 200
    assert "Articles that may help" in page.text
    assert f'href="{base}/articles/{slugs["public"]}"' in page.text
    for hidden in ("internal", "draft", "unsent", "other"):
        assert slugs[hidden] not in page.text, hidden
    assert "My problem is solved" in page.text

    shown = desk.client.get(f"{base}/articles/{slugs['public']}")
    assert shown.status_code == 200
    assert "<strong>cable</strong>" in shown.text
    # The token never leaves Deskmail in a referrer; the page's form may still post.
    assert shown.headers["referrer-policy"] == "same-origin"
    assert "noindex" in shown.headers["x-robots-tag"]
    for hidden in ("internal", "draft", "unsent", "other"):
        assert desk.client.get(f"{base}/articles/{slugs[hidden]}").status_code == 404, hidden
    # The other ticket's link does not open this ticket's articles, nor vice versa.
    other_base = _status(desk, other, "zed@example.com")
    assert desk.client.get(f"{other_base}/articles/{slugs['public']}").status_code == 404
    assert desk.client.get(f"{other_base}/articles/{slugs['other']}").status_code == 200


def test_this_solved_it_closes_the_ticket_and_records_the_outcome(sqlite_desk: Desk) -> None:
    desk = sqlite_desk
    number, _other, slugs = _setup(desk)
    base = _status(desk, number)
    refused = desk.client.post(f"{base}/solved", data={"article": slugs["internal"]})
    assert refused.status_code == 400
    assert "was not offered" in refused.text
    foreign = desk.client.post(
        f"{base}/solved",
        data={"article": slugs["public"]},
        headers={"Origin": "https://evil.example"},
    )
    assert foreign.status_code == 403

    # The status page's button asks first; nothing changes until the requester confirms.
    link = f'href="{base}/solved?article={slugs["public"]}"'
    assert link in desk.client.get(base).text
    confirm = desk.client.get(f"{base}/solved", params={"article": slugs["public"]})
    assert "Yes, close it as solved" in confirm.text
    assert f'name="article" value="{slugs["public"]}"' in confirm.text
    assert desk.client.get(f"{base}/solved", params={"article": slugs["draft"]}).status_code == 404

    solved = desk.client.post(f"{base}/solved", data={"article": slugs["public"]})
    assert solved.status_code == 200
    assert f"Request #{number} is closed as solved." in solved.text
    with desk.app.read_sessions() as db:
        ticket = db.get(Ticket, number)
        assert ticket is not None
        assert ticket.status == TicketStatus.CLOSED
        assert ticket.closed_by_solved is True
        assert ticket.closed_at is not None
        outcomes = {
            s.rank: (s.outcome, s.outcome_by)
            for s in db.execute(select(Suggestion).where(Suggestion.ticket_id == number)).scalars()
        }
        example = db.execute(select(ArticleExample)).scalar_one()
        kinds = [
            (e.kind, e.actor)
            for e in db.execute(select(Event).where(Event.ticket_id == number)).scalars()
        ]
    assert outcomes[1] == (SuggestionOutcome.SOLVED, ALICE)
    assert outcomes[2][0] == SuggestionOutcome.PENDING
    assert example.positive is True
    assert example.ticket_id == number
    assert ("suggestion_outcome", ALICE) in kinds
    assert ("status_changed", ALICE) in kinds
    assert kinds[-1] == ("closed_by_requester", ALICE)

    page = desk.client.get(base)
    assert "You told us this request is solved." in page.text
    assert "This solved it" not in page.text
    assert "closed already" in desk.client.get(f"{base}/solved").text
    again = desk.client.post(f"{base}/solved")
    assert again.status_code == 400
    assert "closed already" in again.text


def test_solved_without_an_article_credits_every_offered_one(sqlite_desk: Desk) -> None:
    desk = sqlite_desk
    number, _other, slugs = _setup(desk)
    lone = desk.ticket(subject="Nothing offered here", sender="bo@example.com")
    assert desk.client.post(f"{_status(desk, number)}/solved").status_code == 200
    assert desk.client.post(f"{_status(desk, lone, 'bo@example.com')}/solved").status_code == 200
    with desk.app.read_sessions() as db:
        solved = db.execute(
            select(Suggestion.ticket_id, Suggestion.rank).where(
                Suggestion.outcome == SuggestionOutcome.SOLVED
            )
        ).all()
        closed = db.execute(
            select(Ticket.id).where(Ticket.closed_by_solved.is_(True)).order_by(Ticket.id)
        ).scalars()
        assert list(closed) == [number, lone]
    # Like a "solved" reply: every article offered (and still pending) helped.
    assert solved == [(number, 1)]
    assert slugs["public"] in desk.client.get(_status(desk, number)).text


def test_solved_after_an_agent_resolved_it_is_no_deflection(sqlite_desk: Desk) -> None:
    desk = sqlite_desk
    number, _other, _slugs = _setup(desk)
    with transaction(desk.app.sessions) as db:
        ticket = db.get(Ticket, number)
        assert ticket is not None
        ticket.resolution = "Replaced the network cable."
        change_status(db, number, TicketStatus.RESOLVED, actor=Actor("agent@example.org"))
    assert desk.client.post(f"{_status(desk, number)}/solved").status_code == 200
    with desk.app.read_sessions() as db:
        ticket = db.get(Ticket, number)
        assert ticket is not None
        assert ticket.status == TicketStatus.CLOSED
        assert ticket.closed_by_solved is False
        assert ticket.resolution == "Replaced the network cable."
        outcomes = set(
            db.execute(select(Suggestion.outcome).where(Suggestion.ticket_id == number)).scalars()
        )
    assert outcomes == {SuggestionOutcome.PENDING}
