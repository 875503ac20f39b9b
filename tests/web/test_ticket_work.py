"""The agents' ticket actions through HTTP: suggested articles (accept, reject, insert into
the reply), reply, resolve, merge, parent incident and classification correction.

Suggestions are stored rows here (the matcher itself is tested with the model in
tests/deskmail and in the browser test); each action goes through the real form with its CSRF
token, and what it queued is read back from the outbox.
"""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from sqlalchemy import select

from deskmail.admin_actions import create_category
from deskmail.db import transaction
from models import (
    Article,
    ArticleExample,
    ArticleStatus,
    ArticleVersion,
    Audience,
    Classification,
    Direction,
    Event,
    Message,
    OutboundMessage,
    Person,
    Role,
    Suggestion,
    SuggestionOutcome,
    SuggestionRun,
    Ticket,
    TicketParticipant,
    TicketStatus,
    TrainingExample,
)
from tests.conftest import HELPDESK
from tests.web.helpers import Desk, csrf_of, mail

AGENT = "agnes@example.org"
SOLUTION = "Switch the printer off and on, then choose **Printer 3** again in the print dialog."


def suggest(desk: Desk, number: int, *, title: str = "Printer offline after a power cut") -> int:
    """A published article suggested for ticket `number`; returns the suggestion's id."""
    with transaction(desk.app.sessions) as db:
        article = Article(
            slug=title.lower().replace(" ", "-")[:60],
            title=title,
            status=ArticleStatus.PUBLISHED,
            audience=Audience.PUBLIC,
            current_version=1,
            published_version=1,
        )
        db.add(article)
        db.flush()
        db.add(
            ArticleVersion(
                article_id=article.id,
                number=1,
                title=title,
                problem="The printer shows offline.",
                solution=SOLUTION,
            )
        )
        run = SuggestionRun(
            ticket_id=number, fit_confidence=0.83, requester_fit_confidence=0.8, threshold=0.6
        )
        db.add(run)
        db.flush()
        suggestion = Suggestion(
            ticket_id=number,
            article_id=article.id,
            run_id=run.id,
            rank=1,
            score=0.0312,
            confidence=0.77,
            passage="The printer shows offline after a power cut.",
        )
        db.add(suggestion)
        db.flush()
        return suggestion.id


@pytest.fixture
def agent(sqlite_desk: Desk) -> str:
    sqlite_desk.add_user(AGENT, Role.AGENT, name="Agnes Agent")
    return sqlite_desk.login(AGENT)


def _outbound(desk: Desk, number: int) -> list[OutboundMessage]:
    with desk.app.read_sessions() as db:
        return list(
            db.execute(
                select(OutboundMessage)
                .where(OutboundMessage.ticket_id == number)
                .order_by(OutboundMessage.id)
            ).scalars()
        )


def _kinds(desk: Desk, number: int) -> list[str]:
    with desk.app.read_sessions() as db:
        return list(
            db.execute(
                select(Event.kind).where(Event.ticket_id == number).order_by(Event.id)
            ).scalars()
        )


def _ticket(desk: Desk, number: int) -> Ticket:
    with desk.app.read_sessions() as db:
        ticket = db.get(Ticket, number)
        assert ticket is not None
        db.expunge(ticket)
        return ticket


def _parsed(raw: bytes) -> EmailMessage:
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_the_page_shows_the_suggestion_with_passage_and_scores(
    sqlite_desk: Desk, agent: str
) -> None:
    number = sqlite_desk.ticket()
    suggest(sqlite_desk, number)
    page = sqlite_desk.client.get(f"/tickets/{number}")
    assert page.status_code == 200
    assert "Printer offline after a power cut" in page.text
    assert "The printer shows offline after a power cut." in page.text
    assert "confidence 77 %" in page.text or "confidence 77%" in page.text
    assert "fit 83" in page.text
    assert f'href="/kb/new?from_ticket={number}"' in page.text
    assert "ticket.js" in page.text


def test_accept_resolves_with_the_article_and_queues_the_resolution_mail(
    sqlite_desk: Desk, agent: str
) -> None:
    number = sqlite_desk.ticket()
    suggestion_id = suggest(sqlite_desk, number)
    response = sqlite_desk.client.post(
        f"/tickets/{number}/suggestions/{suggestion_id}/accept",
        data={"csrf_token": agent},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/tickets/{number}"
    ticket = _ticket(sqlite_desk, number)
    assert ticket.status == TicketStatus.RESOLVED
    assert ticket.resolution == SOLUTION
    assert ticket.resolved_at is not None
    assert ticket.first_responded_at is not None
    with sqlite_desk.app.read_sessions() as db:
        suggestion = db.get(Suggestion, suggestion_id)
        assert suggestion is not None
        assert suggestion.outcome == SuggestionOutcome.ACCEPTED
        assert suggestion.outcome_by == AGENT
        example = db.execute(select(ArticleExample)).scalar_one()
        assert example.positive
        assert example.ticket_id == number
    [outbound] = _outbound(sqlite_desk, number)
    assert outbound.kind == "resolution"
    assert outbound.rcpt_to == ["alice@example.com"]
    assert not outbound.automatic
    sent = _parsed(outbound.raw)
    assert sent["Auto-Submitted"] in (None, "no")  # RFC 3834: absent means "no"
    assert str(sent["Reply-To"]).startswith("help+t")
    assert f"[#{number}]" in str(sent["Subject"])
    body = sent.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "Switch the printer off and on" in text
    assert "Printer offline after a power cut" in text
    assert "/status/" in text
    kinds = _kinds(sqlite_desk, number)
    assert {"status_changed", "mail_queued", "resolved", "suggestion_outcome"} <= set(kinds)
    page = sqlite_desk.client.get(f"/tickets/{number}")
    assert "Resolved with the article" in page.text
    # A resolved ticket offers no second accept.
    again = sqlite_desk.client.post(
        f"/tickets/{number}/suggestions/{suggestion_id}/accept",
        data={"csrf_token": agent},
    )
    assert "Not resolved: the ticket is resolved already." in again.text
    assert len(_outbound(sqlite_desk, number)) == 1


def test_reject_records_the_outcome_and_a_negative_example(sqlite_desk: Desk, agent: str) -> None:
    number = sqlite_desk.ticket()
    suggestion_id = suggest(sqlite_desk, number)
    page = sqlite_desk.client.post(
        f"/tickets/{number}/suggestions/{suggestion_id}/reject", data={"csrf_token": agent}
    )
    assert "Suggestion marked as not fitting." in page.text
    with sqlite_desk.app.read_sessions() as db:
        suggestion = db.get(Suggestion, suggestion_id)
        assert suggestion is not None
        assert suggestion.outcome == SuggestionOutcome.REJECTED
        assert db.execute(select(ArticleExample.positive)).scalar_one() is False
    assert _ticket(sqlite_desk, number).status == TicketStatus.NEW
    assert _outbound(sqlite_desk, number) == []


def test_another_tickets_suggestion_is_refused(sqlite_desk: Desk, agent: str) -> None:
    number = sqlite_desk.ticket()
    other = sqlite_desk.ticket(subject="VPN drops", sender="bob@example.com")
    foreign = suggest(sqlite_desk, other)
    page = sqlite_desk.client.post(
        f"/tickets/{number}/suggestions/{foreign}/accept", data={"csrf_token": agent}
    )
    assert f"ticket #{number} has no suggestion {foreign}" in page.text
    assert _ticket(sqlite_desk, number).status == TicketStatus.NEW
    inserted = sqlite_desk.client.get(f"/tickets/{number}?insert={foreign}")
    assert "Switch the printer" not in inserted.text


def test_insert_into_reply_without_javascript(sqlite_desk: Desk, agent: str) -> None:
    number = sqlite_desk.ticket()
    suggestion_id = suggest(sqlite_desk, number)
    page = sqlite_desk.client.get(f"/tickets/{number}?insert={suggestion_id}")
    reply_box = page.text.split('id="reply"', 1)[1].split("</textarea>", 1)[0]
    assert "Switch the printer off and on, then choose **Printer 3**" in reply_box


def test_reply_mails_the_requester_and_opens_the_ticket(sqlite_desk: Desk, agent: str) -> None:
    number = sqlite_desk.ticket(cc="carol@example.com")
    page = sqlite_desk.client.post(
        f"/tickets/{number}/reply",
        data={"csrf_token": agent, "text": "Hello Alice,\r\nis the printer on?"},
    )
    assert "Reply queued for sending." in page.text
    [outbound] = _outbound(sqlite_desk, number)
    assert outbound.kind == "agent_reply"
    assert outbound.rcpt_to == ["alice@example.com", "carol@example.com"]
    sent = _parsed(outbound.raw)
    assert "Agnes Agent" in str(sent["From"])
    assert sent["In-Reply-To"] is not None
    body = sent.get_body(("plain",))
    assert body is not None
    assert "is the printer on?" in body.get_content()
    ticket = _ticket(sqlite_desk, number)
    assert ticket.status == TicketStatus.OPEN
    assert ticket.first_responded_at is not None
    assert "agent_replied" in _kinds(sqlite_desk, number)
    with sqlite_desk.app.read_sessions() as db:
        directions = list(
            db.execute(select(Message.direction).where(Message.ticket_id == number)).scalars()
        )
    assert directions.count(Direction.OUTBOUND) == 1
    empty = sqlite_desk.client.post(
        f"/tickets/{number}/reply", data={"csrf_token": agent, "text": "  "}
    )
    assert "Reply not sent: the reply is empty." in empty.text


def test_resolve_with_a_text(sqlite_desk: Desk, agent: str) -> None:
    number = sqlite_desk.ticket()
    page = sqlite_desk.client.post(
        f"/tickets/{number}/resolve",
        data={"csrf_token": agent, "text": "Replaced the toner."},
    )
    assert "Resolved; the resolution mail is queued." in page.text
    [outbound] = _outbound(sqlite_desk, number)
    assert outbound.kind == "resolution"
    assert _ticket(sqlite_desk, number).resolution == "Replaced the toner."


def test_merge_closes_the_duplicate_with_a_link_and_replies_follow(
    sqlite_desk: Desk, agent: str
) -> None:
    target = sqlite_desk.ticket(subject="Printer on floor 3 offline")
    first_id = make_msgid(domain="example.com")
    raw = mail(subject="Printer 3 broken?", sender="dave@example.com", sender_name="Dave")
    parsed = _parsed(raw)
    parsed.replace_header("Message-ID", first_id)
    duplicate = sqlite_desk.ticket(raw=bytes(parsed))
    response = sqlite_desk.client.post(
        f"/tickets/{duplicate}/merge",
        data={"csrf_token": agent, "target": f"#{target}"},
        follow_redirects=False,
    )
    assert response.headers["location"] == f"/tickets/{target}"
    closed = _ticket(sqlite_desk, duplicate)
    assert (closed.status, closed.merged_into_id) == (TicketStatus.CLOSED, target)
    assert "merged_into" in _kinds(sqlite_desk, duplicate)
    assert "merged_from" in _kinds(sqlite_desk, target)
    with sqlite_desk.app.read_sessions() as db:
        people = set(
            db.execute(
                select(Person.email)
                .join(TicketParticipant, TicketParticipant.person_id == Person.id)
                .where(TicketParticipant.ticket_id == target)
            ).scalars()
        )
    assert "dave@example.com" in people
    page = sqlite_desk.client.get(f"/tickets/{target}")
    assert f'href="/tickets/{duplicate}"' in page.text
    # Dave answers his own thread: the mail lands on the target ticket.
    answer = EmailMessage()
    answer["From"] = "Dave <dave@example.com>"
    answer["To"] = HELPDESK
    answer["Subject"] = "Re: Printer 3 broken?"
    answer["Message-ID"] = make_msgid(domain="example.com")
    answer["In-Reply-To"] = first_id
    answer["References"] = first_id
    answer.set_content("Still broken this morning.")
    assert sqlite_desk.ticket(raw=bytes(answer)) == target
    # Merging again, into itself, or into a closed ticket is refused.
    again = sqlite_desk.client.post(
        f"/tickets/{duplicate}/merge", data={"csrf_token": agent, "target": str(target)}
    )
    assert "is merged into" in again.text
    itself = sqlite_desk.client.post(
        f"/tickets/{target}/merge", data={"csrf_token": agent, "target": str(target)}
    )
    assert "cannot be merged into itself" in itself.text
    nonsense = sqlite_desk.client.post(
        f"/tickets/{target}/merge", data={"csrf_token": agent, "target": "abc"}
    )
    assert "give the number of the other ticket" in nonsense.text


def test_parent_incident_link_and_loops_refused(sqlite_desk: Desk, agent: str) -> None:
    parent = sqlite_desk.ticket(subject="Mail server down")
    child = sqlite_desk.ticket(subject="Cannot send mail", sender="erin@example.com")
    page = sqlite_desk.client.post(
        f"/tickets/{child}/parent", data={"csrf_token": agent, "parent": str(parent)}
    )
    assert f"Linked to #{parent}." in page.text
    assert _ticket(sqlite_desk, child).parent_id == parent
    assert "child_linked" in _kinds(sqlite_desk, parent)
    assert "Cannot send mail" in sqlite_desk.client.get(f"/tickets/{parent}").text
    loop = sqlite_desk.client.post(
        f"/tickets/{parent}/parent", data={"csrf_token": agent, "parent": str(child)}
    )
    assert "is below" in loop.text
    assert _ticket(sqlite_desk, parent).parent_id is None
    removed = sqlite_desk.client.post(
        f"/tickets/{child}/parent", data={"csrf_token": agent, "parent": ""}
    )
    assert "Parent link removed." in removed.text
    assert _ticket(sqlite_desk, child).parent_id is None
    assert "child_unlinked" in _kinds(sqlite_desk, parent)


def test_classification_correction_is_a_training_example(sqlite_desk: Desk, agent: str) -> None:
    with transaction(sqlite_desk.app.sessions) as db:
        create_category(db, "printing", name="Printing", actor="test")
    number = sqlite_desk.ticket()
    page = sqlite_desk.client.post(
        f"/tickets/{number}/classification",
        data={"csrf_token": agent, "category": "printing", "urgency": "high", "impact": "team"},
    )
    assert "Classification corrected." in page.text
    ticket = _ticket(sqlite_desk, number)
    assert ticket.category == "printing"
    assert ticket.priority is not None
    with sqlite_desk.app.read_sessions() as db:
        row = db.execute(
            select(Classification).where(Classification.ticket_id == number)
        ).scalar_one()
        assert row.source == "agent"
        example = db.execute(select(TrainingExample)).scalar_one()
        assert example.category == "printing"
        assert example.created_by == AGENT
    bad = sqlite_desk.client.post(
        f"/tickets/{number}/classification", data={"csrf_token": agent, "category": "nope"}
    )
    assert "Classification not changed" in bad.text


def test_editors_may_act_but_requesters_tokens_do_not_open_actions(sqlite_desk: Desk) -> None:
    number = sqlite_desk.ticket()
    suggestion_id = suggest(sqlite_desk, number)
    anonymous = sqlite_desk.fresh_client(follow_redirects=False)
    page = anonymous.get("/login")
    response = anonymous.post(
        f"/tickets/{number}/suggestions/{suggestion_id}/accept",
        data={"csrf_token": csrf_of(page.text)},
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
    assert _ticket(sqlite_desk, number).status == TicketStatus.NEW
