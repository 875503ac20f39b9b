"""The queue query: filters, search, sorting, paging - and speed on 10,000 tickets.

The filters are checked against a small hand-made queue on both databases. The speed test
loads 10,000 tickets with 10,000 messages of realistic length and times every kind of query;
statement counting shows that a page costs the same few queries whatever its size (no N+1).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, insert

from deskmail.app import App
from deskmail.db import transaction
from deskmail.web.queue import ASSIGNEE_NONE, QueueFilter, QueueSort, SlaFilter, query_queue
from models import Direction, Message, Person, Role, ThreadSignal, Ticket, TicketStatus, utcnow
from tests.web.helpers import Desk


@contextmanager
def counted_statements(app: App) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(*args: object) -> None:
        statement = str(args[2])
        if not statement.startswith("BEGIN"):  # SQLite's explicit BEGIN is not a query
            statements.append(statement)

    event.listen(app.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(app.engine, "before_cursor_execute", record)


def _numbers(app: App, spec: QueueFilter) -> list[int]:
    with app.read_sessions() as db:
        return [t.id for t in query_queue(db, spec, now=utcnow()).tickets]


def test_filters_and_sorting(desk: Desk) -> None:
    desk.add_user("sam@example.org", Role.AGENT)
    now = utcnow()
    a = desk.ticket(subject="VPN broken", body="tunnel drops")
    b = desk.ticket(subject="Printer jam", body="paper 100% stuck_here", sender="bob@example.com")
    c = desk.ticket(subject="Outlook password", body="asks again", sender="carl@example.com")
    d = desk.ticket(subject="Old closed one", body="done", sender="dora@example.com")
    with transaction(desk.app.sessions) as db:
        sam = db.query(Person).filter_by(email="sam@example.org").one()
        rows = {t.id: t for t in db.query(Ticket).all()}
        rows[a].category, rows[a].subcategory, rows[a].priority = "network", "network/vpn", "P2"
        rows[a].resolution_due = now - timedelta(hours=1)
        rows[a].assignee_id = sam.id
        rows[b].category, rows[b].priority = "hardware", "P1"
        rows[b].first_response_due = now + timedelta(hours=1)
        rows[b].updated_at = now + timedelta(minutes=5)
        rows[c].needs_triage = True
        rows[c].resolution_due = now + timedelta(days=2)
        rows[d].status = TicketStatus.CLOSED
    app = desk.app
    assert _numbers(app, QueueFilter()) == [c, b, a]
    assert _numbers(app, QueueFilter(statuses=())) == [d, c, b, a]
    assert _numbers(app, QueueFilter(statuses=(TicketStatus.CLOSED,))) == [d]
    assert _numbers(app, QueueFilter(category="network")) == [a]
    assert _numbers(app, QueueFilter(category="network/vpn")) == [a]
    assert _numbers(app, QueueFilter(priority="P1")) == [b]
    assert _numbers(app, QueueFilter(assignee="SAM@example.org")) == [a]
    assert _numbers(app, QueueFilter(assignee=ASSIGNEE_NONE)) == [c, b]
    assert _numbers(app, QueueFilter(needs_triage=True)) == [c]
    assert _numbers(app, QueueFilter(needs_triage=False)) == [b, a]
    assert _numbers(app, QueueFilter(sla=SlaFilter.BREACHED)) == [a]
    assert _numbers(app, QueueFilter(sla=SlaFilter.DUE_SOON)) == [b]
    assert _numbers(app, QueueFilter(query="vpn")) == [a]
    assert _numbers(app, QueueFilter(query="TUNNEL")) == [a]
    assert _numbers(app, QueueFilter(query="100%")) == [b]  # LIKE wildcards are literal
    assert _numbers(app, QueueFilter(query="stuck_here")) == [b]
    assert _numbers(app, QueueFilter(query="%")) == [b]
    assert _numbers(app, QueueFilter(query=f"#{c}")) == [c]
    assert _numbers(app, QueueFilter(query="nothing like it")) == []
    assert _numbers(app, QueueFilter(sort=QueueSort.OLDEST)) == [a, b, c]
    assert _numbers(app, QueueFilter(sort=QueueSort.PRIORITY)) == [b, a, c]
    assert _numbers(app, QueueFilter(sort=QueueSort.DUE)) == [a, b, c]
    assert _numbers(app, QueueFilter(sort=QueueSort.UPDATED))[0] == b
    with app.read_sessions() as db:
        page = query_queue(db, QueueFilter(per_page=2, page=2), now=now)
        assert (page.total, page.pages, page.page, [t.id for t in page.tickets]) == (3, 2, 2, [a])
        beyond = query_queue(db, QueueFilter(per_page=2, page=50), now=now)
        assert beyond.page == 2


N_TICKETS = 10_000
# Regression guards, generous for a loaded CI machine (2 cores, tests in parallel); the table
# printed shows the real figures. A search scans the messages' text (docs/decisions/0109).
LIMIT_SECONDS = 1.0
SEARCH_LIMIT_SECONDS = 3.0
VOCABULARY = (
    "printer vpn outlook password laptop screen teams meeting folder access share network "
    "wifi docking station monitor keyboard mouse headset license install update crash slow"
)
WORDS = VOCABULARY.split()


def _load_big_queue(app: App) -> None:
    rng = random.Random(7)
    now = utcnow()
    with transaction(app.sessions) as db:
        db.execute(
            insert(Person),
            [{"email": f"user{i}@example.com", "name": f"User {i}"} for i in range(600)],
        )
        people = [p.id for p in db.query(Person).all()]
        agents = people[:20]
        statuses = [s.value for s in TicketStatus]
        tickets = []
        for i in range(N_TICKETS):
            created = now - timedelta(minutes=N_TICKETS - i)
            tickets.append(
                {
                    "subject": " ".join(rng.choices(WORDS, k=5)) + f" {i}",
                    "status": rng.choice(statuses),
                    "requester_id": rng.choice(people),
                    "assignee_id": rng.choice([*agents, None, None]),
                    "category": rng.choice(["network", "hardware", "email", None]),
                    "priority": rng.choice(["P1", "P2", "P3", "P4", None]),
                    "needs_triage": rng.random() < 0.1,
                    "created_at": created,
                    "updated_at": created,
                    "resolution_due": created + timedelta(hours=rng.randint(1, 72)),
                    "group": "",
                    "major_incident": False,
                    "resolution": "",
                }
            )
        db.execute(insert(Ticket), tickets)
        bodies = [" ".join(rng.choices(WORDS, k=250)) for _ in range(50)]
        db.execute(
            insert(Message),
            [
                {
                    "ticket_id": i + 1,
                    "direction": Direction.INBOUND.value,
                    "text": f"{bodies[i % 50]} reference-{i}",
                    "new_text": bodies[i % 50],
                    "thread_signal": ThreadSignal.NEW_TICKET.value,
                    "date": now,
                    "created_at": now,
                    "from_email": "user@example.com",
                    "from_name": "",
                    "to": [],
                    "cc": [],
                    "subject": "",
                    "headers": {},
                }
                for i in range(N_TICKETS)
            ],
        )


@pytest.mark.slow
def test_queue_is_fast_on_ten_thousand_tickets(app: App) -> None:
    _load_big_queue(app)
    specs = {
        "default (active, newest)": QueueFilter(),
        "all statuses, page 150": QueueFilter(statuses=(), page=150),
        "category + priority": QueueFilter(category="network", priority="P2"),
        "unassigned, by due": QueueFilter(assignee=ASSIGNEE_NONE, sort=QueueSort.DUE),
        "assignee, by priority": QueueFilter(assignee="user3@example.com", sort=QueueSort.PRIORITY),
        "breached": QueueFilter(sla=SlaFilter.BREACHED),
        "needs triage, updated": QueueFilter(needs_triage=True, sort=QueueSort.UPDATED),
        "search subject word": QueueFilter(statuses=(), query="docking station monitor"),
        "search body text": QueueFilter(statuses=(), query="reference-9876"),
    }
    timings = {}
    for label, spec in specs.items():
        best = float("inf")
        for _ in range(3):
            with app.read_sessions() as db, counted_statements(app) as statements:
                started = time.perf_counter()
                page = query_queue(db, spec, now=utcnow())
                [t.requester.email for t in page.tickets]
                [t.assignee.email for t in page.tickets if t.assignee]
                best = min(best, time.perf_counter() - started)
            assert len(statements) == (1 if spec.query else 2), (label, statements)
        timings[label] = (best, page.total)
    print(f"\nqueue on {N_TICKETS} tickets ({app.engine.dialect.name}):")
    for label, (seconds, total) in timings.items():
        print(f"  {label:28} {seconds * 1000:7.1f} ms  {total:6} matches")
    assert timings["search body text"][1] == 1
    slow = {
        label: seconds
        for label, (seconds, _) in timings.items()
        if seconds > (SEARCH_LIMIT_SECONDS if specs[label].query else LIMIT_SECONDS)
    }
    assert not slow, slow


def test_pages_cost_a_fixed_number_of_queries(sqlite_desk: Desk) -> None:
    sqlite_desk.add_user("sam@example.org", Role.AGENT)
    sqlite_desk.login("sam@example.org")
    for i in range(3):
        sqlite_desk.ticket(subject=f"T{i}", body="x", sender=f"s{i}@example.com")
    number = sqlite_desk.ticket(subject="Long one", body="first")

    def queries(path: str) -> int:
        with counted_statements(sqlite_desk.app) as statements:
            assert sqlite_desk.client.get(path).status_code == 200
        return len(statements)

    queue_before, ticket_before = queries("/tickets"), queries(f"/tickets/{number}")
    for i in range(6):
        sqlite_desk.ticket(subject=f"More {i}", body="y", sender=f"m{i}@example.com")
        sqlite_desk.ticket(subject=f"Re: Long one [#{number}]", body=f"follow-up {i}")
    assert queries("/tickets") == queue_before
    assert queries(f"/tickets/{number}") == ticket_before
