"""The dashboards: figures from aggregate queries, the SVG charts, the page, speed at 10,000."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select

from deskmail.dashboard import build_dashboard
from deskmail.db import transaction
from deskmail.web.routes_dashboard import period
from deskmail.web.svg_charts import Bar, bar_chart, column_chart, share_chart, svg_of
from models import Classification, Person, Role, Suggestion, Ticket, TicketStatus
from models.article import Article
from models.classification import LabelSource
from models.suggestion import SuggestionOutcome
from tests.web.helpers import Desk

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _person(desk: Desk) -> int:
    with transaction(desk.app.sessions) as db:
        person = Person(email="req@example.com", name="Req")
        db.add(person)
        db.flush()
        return person.id


def _ticket(desk: Desk, requester: int, **values: object) -> int:
    with transaction(desk.app.sessions) as db:
        ticket = Ticket(requester_id=requester, subject="s", **values)
        db.add(ticket)
        db.flush()
        return ticket.id


def _seed(desk: Desk) -> None:
    who = _person(desk)
    day1, day2 = NOW - timedelta(days=2), NOW - timedelta(days=1)
    # Met first response and resolution, solved by the requester.
    a = _ticket(
        desk,
        who,
        created_at=day1,
        category="printing",
        priority="P3",
        status=TicketStatus.CLOSED,
        closed_by_solved=True,
        first_response_due=day1 + 4 * HOUR,
        first_responded_at=day1 + HOUR,
        resolution_due=day1 + 20 * HOUR,
        resolved_at=day1 + 2 * HOUR,
    )
    # Missed first response, resolution still running.
    b = _ticket(
        desk,
        who,
        created_at=day2,
        category="printing",
        priority="P2",
        status=TicketStatus.OPEN,
        first_response_due=day2 + HOUR,
        first_responded_at=day2 + 3 * HOUR,
        resolution_due=NOW + 5 * HOUR,
    )
    # Waiting for triage; first response overdue and never given; resolved by an agent.
    c = _ticket(
        desk,
        who,
        created_at=day2,
        needs_triage=True,
        status=TicketStatus.RESOLVED,
        first_response_due=day2 + HOUR,
        resolved_at=day2 + 2 * HOUR,
    )
    # Outside the period, and a merged duplicate: neither counts.
    _ticket(desk, who, created_at=NOW - timedelta(days=40), category="network")
    _ticket(desk, who, created_at=day2, category="network", merged_into_id=a)
    with transaction(desk.app.sessions) as db:
        for ticket_id, category in ((a, "printing"), (b, "network")):
            db.add(Classification(ticket_id=ticket_id, category=category, source=LabelSource.MODEL))
        db.add(Classification(ticket_id=c, source=LabelSource.MODEL, abstained=True))
        # The agent moved b from network to printing: one correction of two classified.
        db.add(Classification(ticket_id=b, category="printing", source=LabelSource.AGENT))
        article = Article(slug="x", title="X")
        db.add(article)
        db.flush()
        db.add(
            Suggestion(
                ticket_id=c,
                article_id=article.id,
                rank=1,
                score=0.1,
                confidence=0.5,
                outcome=SuggestionOutcome.ACCEPTED,
            )
        )


def test_figures(desk: Desk) -> None:
    _seed(desk)
    since, until = period(7, NOW)
    with desk.app.read_sessions() as db:
        board = build_dashboard(db, since=since, until=until, now=NOW)
    assert board.tickets == 3
    assert len(board.by_day) == 7
    assert [c.value for c in board.by_day][-3:] == [1, 2, 0]
    assert board.by_day[-1].label == NOW.date().isoformat()
    assert {c.label: c.value for c in board.by_category} == {"printing": 2, "(none)": 1}
    assert {c.label: c.value for c in board.by_priority} == {"P2": 1, "P3": 1, "(none)": 1}
    assert (board.first_response.met, board.first_response.missed) == (1, 2)
    assert board.first_response.running == 0
    assert (board.resolution.met, board.resolution.missed, board.resolution.running) == (1, 0, 1)
    assert (board.finished, board.solved_by_requester, board.accepted_suggestions) == (2, 1, 1)
    assert board.deflection == 0.5
    assert (board.classified, board.corrected, board.needing_triage) == (2, 1, 1)
    assert board.accuracy == 0.5
    assert board.coverage is not None
    assert abs(board.coverage - 2 / 3) < 1e-9
    assert board.as_json()["classifier"]["accuracy"] == 0.5


def test_charts_are_inert_images_with_escaped_labels() -> None:
    hostile = '<script>alert(1)</script>"'
    chart = bar_chart("By <category>", [Bar(hostile, 3), Bar("b", 10)])
    assert str(chart).startswith('<img class="chart bars" src="data:image/svg+xml;base64,')
    assert "<script>" not in str(chart)
    assert 'alt="By &lt;category&gt;: &lt;script&gt;' in str(chart)
    document = svg_of(chart)
    assert "<script>" not in document
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in document
    assert document.count('<rect class="bar"') == 2
    columns = svg_of(column_chart("Per day", [Bar(f"2026-03-{d:02d}", d) for d in range(1, 31)]))
    assert columns.count('<rect class="bar"') == 30
    assert 'text-anchor="end">50</text>' in columns  # the axis ends at a round number
    shares = svg_of(share_chart("SLA", [("met", 3, "good"), ("missed", 1, "bad")]))
    assert "met: 3 75%" in shares
    assert "missed: 1 25%" in shares
    assert 'fill="#eaeef2"' in svg_of(share_chart("SLA", [("met", 0, "good")]))


def test_page_for_agents_only(desk: Desk) -> None:
    _seed(desk)
    desk.add_user("agent@example.org", Role.AGENT)
    anonymous = desk.fresh_client(follow_redirects=False)
    assert anonymous.get("/dashboard").headers["location"].startswith("/login")
    desk.login("agent@example.org")
    page = desk.client.get("/dashboard?days=365")
    assert page.status_code == 200
    assert page.text.count('<img class="chart') == 8
    assert "<svg" not in page.text
    assert "<script>" not in page.text.split("</head>", 1)[1]
    assert 'alt="New tickets per day: ' in page.text
    assert "Classifier accuracy" in page.text
    # An unknown period falls back to 30 days.
    assert (
        'href="/dashboard?days=30" aria-current="page"'
        in desk.client.get("/dashboard?days=12").text
    )


def test_fast_on_ten_thousand_tickets(sqlite_desk: Desk) -> None:
    who = _person(sqlite_desk)
    rows = [
        {
            "requester_id": who,
            "subject": f"t{i}",
            "status": ("new", "open", "resolved", "closed")[i % 4],
            "category": ("printing", "network", "accounts", None)[i % 4],
            "priority": ("P1", "P2", "P3", "P4")[i % 4],
            "needs_triage": i % 7 == 0,
            "closed_by_solved": i % 9 == 0,
            "created_at": NOW - timedelta(minutes=4 * i),
            "updated_at": NOW,
            "first_response_due": NOW - timedelta(minutes=4 * i) + HOUR,
            "first_responded_at": NOW - timedelta(minutes=4 * i) + (i % 3) * HOUR,
            "resolution_due": NOW - timedelta(minutes=4 * i) + 8 * HOUR,
        }
        for i in range(10_000)
    ]
    with transaction(sqlite_desk.app.sessions) as db:
        db.execute(insert(Ticket), rows)
        ids = list(db.execute(select(Ticket.id)).scalars())
        db.execute(
            insert(Classification),
            [
                {"ticket_id": t, "category": "printing", "source": "model", "abstained": False}
                for t in ids
            ],
        )
    since, until = period(30, NOW)
    started = time.perf_counter()
    with sqlite_desk.app.read_sessions() as db:
        board = build_dashboard(db, since=since, until=until, now=NOW)
    elapsed = time.perf_counter() - started
    assert board.tickets == 10_000
    assert board.classified == 10_000
    assert elapsed < 2.0, f"dashboard took {elapsed:.2f}s"
