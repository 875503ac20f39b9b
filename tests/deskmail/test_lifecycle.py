"""Follow-ups drive the ticket: each mail goes through the whole pipeline (`inject`), and the
ticket's state, the queued mail and the timeline show what the reply did."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from deskmail.app import App
from deskmail.inject import inject_bytes
from deskmail.ticket_actions import Actor, change_status
from deskmail.wiring import build_worker
from deskmail.worker import Result, Worker
from models import (
    Article,
    ArticleExample,
    Outcome,
    Suggestion,
    SuggestionOutcome,
    TicketStatus,
    utcnow,
)
from tests.deskmail.lifecycle_support import (
    REQUESTER,
    desk_settings,
    kinds,
    opened,
    queued,
    requester_mail,
    ticket,
)

AGENT = Actor("alice@example.org", "Alice")


@pytest.fixture
def desk(db_url: str, tmp_path: Path) -> Iterator[tuple[App, Worker]]:
    with opened(desk_settings(tmp_path / "data", db_url)) as app:
        yield app, build_worker(app)


def _new_ticket(app: App, worker: Worker, subject: str = "Printer jams") -> tuple[int, bytes]:
    raw = requester_mail(subject, "The printer on floor 2 jams on every page.")
    result = inject_bytes(app, worker, raw)
    assert result.outcome is Outcome.TICKET_CREATED
    assert result.ticket is not None
    return result.ticket, raw


def _ack_raw(app: App, number: int) -> bytes:
    rows = queued(app, number, "acknowledgement")
    assert len(rows) == 1
    return rows[0].raw


def _followup(result: Result) -> dict[str, Any]:
    """What the follow-up did, from the mail's details."""
    details = result.details["followup"]
    assert isinstance(details, dict)
    return details


def _set_status(app: App, number: int, status: TicketStatus, *, days_ago: float = 0) -> None:
    with app.sessions() as session, session.begin():
        change_status(session, number, status, actor=AGENT, now=utcnow() - timedelta(days=days_ago))


def test_a_new_ticket_gets_clock_group_and_acknowledgement(desk: tuple[App, Worker]) -> None:
    app, worker = desk
    number, _ = _new_ticket(app, worker)
    found = ticket(app, number)
    assert found.group == "service-desk"
    assert found.first_response_due is not None
    assert found.resolution_due is not None
    assert found.first_response_due < found.resolution_due
    assert found.sla_priority == ""  # no classifier: the default policy, recorded as unknown
    assert found.first_responded_at is None  # an automatic answer is no first response
    assert [r.recipient for r in queued(app, number, "acknowledgement")] == [REQUESTER]
    timeline = kinds(app, number)
    for kind in ("ticket_created", "mail_in", "sla_started", "routed", "mail_queued"):
        assert kind in timeline


def test_a_follow_up_on_an_open_ticket_gets_a_note(desk: tuple[App, Worker]) -> None:
    app, worker = desk
    number, _ = _new_ticket(app, worker)
    reply = requester_mail("Re: printer", "It is the tray 2.", answers=_ack_raw(app, number))
    result = inject_bytes(app, worker, reply)
    assert result.outcome is Outcome.FOLLOWUP
    assert _followup(result)["action"] == "noted"
    assert len(queued(app, number, "followup_received")) == 1
    assert ticket(app, number).status == TicketStatus.NEW


def test_no_note_for_someone_we_just_mailed(db_url: str, tmp_path: Path) -> None:
    settings = desk_settings(tmp_path / "data", db_url, process={"followup_quiet_hours": 24})
    with opened(settings) as app:
        worker = build_worker(app)
        number, _ = _new_ticket(app, worker)
        reply = requester_mail("Re: printer", "More details.", answers=_ack_raw(app, number))
        result = inject_bytes(app, worker, reply)
        assert _followup(result)["note"].startswith("quiet")
        assert queued(app, number, "followup_received") == []


def test_the_requester_answering_a_pending_ticket_opens_it_and_ends_the_pause(
    desk: tuple[App, Worker],
) -> None:
    app, worker = desk
    number, _ = _new_ticket(app, worker)
    _set_status(app, number, TicketStatus.PENDING, days_ago=1)
    before = ticket(app, number)
    assert before.sla_paused_at is not None
    reply = requester_mail("Re: printer", "Here is the photo.", answers=_ack_raw(app, number))
    result = inject_bytes(app, worker, reply)
    assert _followup(result)["action"] == "answered"
    after = ticket(app, number)
    assert after.status == TicketStatus.OPEN
    assert after.sla_paused_at is None
    assert after.sla_paused_seconds > 0
    assert after.resolution_due is not None
    assert before.resolution_due is not None
    assert after.resolution_due > before.resolution_due


def test_solved_closes_the_ticket_and_credits_the_articles_sent(
    desk: tuple[App, Worker],
) -> None:
    app, worker = desk
    number, _ = _new_ticket(app, worker)
    with app.sessions() as session, session.begin():
        article = Article(slug="printer-paper-jam", title="Paper jam")
        session.add(article)
        session.flush()
        for rank, sent in ((1, True), (2, False)):
            session.add(
                Suggestion(
                    ticket_id=number,
                    article_id=article.id,
                    rank=rank,
                    score=0.9,
                    confidence=0.9,
                    sent_to_requester=sent,
                )
            )
    ack = _ack_raw(app, number)
    reply = requester_mail("Re: printer", "SOLVED\n\nThanks!\n\n> reply SOLVED", answers=ack)
    result = inject_bytes(app, worker, reply)
    assert _followup(result)["action"] == "closed"
    closed = ticket(app, number)
    assert closed.status == TicketStatus.CLOSED
    assert closed.closed_by_solved is True
    assert closed.closed_at is not None
    with app.read_sessions() as session:
        outcomes = session.execute(
            select(Suggestion.rank, Suggestion.outcome).order_by(Suggestion.rank)
        ).all()
        examples = session.scalars(select(ArticleExample)).all()
    assert [tuple(row) for row in outcomes] == [
        (1, SuggestionOutcome.SOLVED),
        (2, SuggestionOutcome.PENDING),
    ]
    assert [e.positive for e in examples] == [True]
    assert len(queued(app, number, "closure")) == 1
    timeline = kinds(app, number)
    assert "closed_by_requester" in timeline
    assert "status_changed" in timeline
    assert "suggestion_outcome" in timeline


def test_not_solved_does_not_close(desk: tuple[App, Worker]) -> None:
    app, worker = desk
    number, _ = _new_ticket(app, worker)
    reply = requester_mail(
        "Re: printer", "Not solved, it still jams.", answers=_ack_raw(app, number)
    )
    inject_bytes(app, worker, reply)
    assert ticket(app, number).status == TicketStatus.NEW
    assert queued(app, number, "closure") == []


def test_someone_in_copy_cannot_close_with_solved(desk: tuple[App, Worker]) -> None:
    app, worker = desk
    raw = requester_mail("Printer jams", "It jams.", cc="Sam <sam@example.com>")
    number = inject_bytes(app, worker, raw).ticket
    assert number is not None
    reply = requester_mail(
        f"Re: [#{number}] Printer jams", "Solved!", sender="sam@example.com", name="Sam"
    )
    result = inject_bytes(app, worker, reply)
    assert _followup(result)["action"] == "noted"
    assert ticket(app, number).status == TicketStatus.NEW


def test_a_reply_to_a_resolved_ticket_reopens_it_within_the_window(
    desk: tuple[App, Worker],
) -> None:
    app, worker = desk
    number, _ = _new_ticket(app, worker)
    _set_status(app, number, TicketStatus.RESOLVED, days_ago=2)
    reply = requester_mail("Re: printer", "It jams again.", answers=_ack_raw(app, number))
    result = inject_bytes(app, worker, reply)
    assert _followup(result)["action"] == "reopened"
    reopened = ticket(app, number)
    assert reopened.status == TicketStatus.OPEN
    assert reopened.resolved_at is None
    assert "reopened" in kinds(app, number)
    assert len(queued(app, number, "followup_received")) == 1


def test_solved_on_a_resolved_ticket_closes_it_without_counting_a_deflection(
    desk: tuple[App, Worker],
) -> None:
    app, worker = desk
    number, _ = _new_ticket(app, worker)
    _set_status(app, number, TicketStatus.RESOLVED)
    reply = requester_mail("Re: printer", "Works now, thank you!", answers=_ack_raw(app, number))
    inject_bytes(app, worker, reply)
    closed = ticket(app, number)
    assert closed.status == TicketStatus.CLOSED
    assert closed.closed_by_solved is False


@pytest.mark.parametrize(
    ("status", "days_ago"), [(TicketStatus.RESOLVED, 30), (TicketStatus.CLOSED, 1)]
)
def test_after_the_window_or_on_a_closed_ticket_a_new_ticket_follows_the_old_one(
    desk: tuple[App, Worker], status: TicketStatus, days_ago: float
) -> None:
    app, worker = desk
    number, _ = _new_ticket(app, worker)
    _set_status(app, number, status, days_ago=days_ago)
    ack = _ack_raw(app, number)
    reply = requester_mail("Re: printer", "The printer jams again.", answers=ack)
    result = inject_bytes(app, worker, reply)
    assert result.outcome is Outcome.TICKET_CREATED
    assert result.ticket is not None
    assert result.ticket != number
    new = ticket(app, result.ticket)
    assert new.follows_id == number
    assert ticket(app, number).status == status
    assert "followed_by" in kinds(app, number)
    new_timeline = kinds(app, result.ticket)
    assert {"ticket_created", "follows", "mail_in", "mail_queued"} <= set(new_timeline)
    # The new ticket is acknowledged like any other, and a reply to that lands on it.
    new_ack = _ack_raw(app, result.ticket)
    again = inject_bytes(app, worker, requester_mail("Re: x", "More.", answers=new_ack))
    assert (again.outcome, again.ticket) == (Outcome.FOLLOWUP, result.ticket)


def test_a_late_thanks_on_a_closed_ticket_opens_nothing(desk: tuple[App, Worker]) -> None:
    app, worker = desk
    number, _ = _new_ticket(app, worker)
    _set_status(app, number, TicketStatus.CLOSED)
    reply = requester_mail("Re: printer", "Solved, thanks!", answers=_ack_raw(app, number))
    result = inject_bytes(app, worker, reply)
    assert (result.outcome, result.ticket) == (Outcome.FOLLOWUP, number)
    assert "late_thanks" in kinds(app, number)
