"""The figures of the dashboards: volumes, SLA adherence, deflection, classifier coverage and
accuracy from corrections, for tickets opened in a period.

Read by the web UI's dashboard page (`deskmail.web.routes_dashboard`) and the JSON API. Every
figure is one aggregate query (GROUP BY, SUM(CASE ...)) on indexed columns, so the page costs a
handful of queries whatever the number of tickets (docs/decisions/0147). Days are counted in
UTC. `deskmail.reports` gives the longer per-period report for mail and the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from models import Classification, Suggestion, SuggestionOutcome, Ticket, TicketStatus
from models.classification import LabelSource

MACHINE_SOURCES = (LabelSource.MODEL, LabelSource.ZERO_SHOT)
UNKNOWN = "(none)"


@dataclass(frozen=True)
class Count:
    """A labelled number."""

    label: str
    value: int


@dataclass(frozen=True)
class Adherence:
    """How one SLA promise was kept by the tickets of the period."""

    met: int
    missed: int
    running: int

    @property
    def rate(self) -> float | None:
        """Met among the decided ones (None when none is decided yet)."""
        decided = self.met + self.missed
        return self.met / decided if decided else None


@dataclass(frozen=True)
class Dashboard:
    """Everything the dashboard page shows."""

    since: datetime
    until: datetime
    tickets: int
    by_day: list[Count]
    by_category: list[Count]
    by_priority: list[Count]
    first_response: Adherence
    resolution: Adherence
    finished: int  # resolved or closed
    solved_by_requester: int  # closed by the requester's "solved" (deflection)
    accepted_suggestions: int
    classified: int  # tickets with a machine classification
    needing_triage: int
    corrected: int  # machine-classified tickets an agent moved to another category

    @property
    def deflection(self) -> float | None:
        """Finished tickets the requester closed with a suggested article."""
        return self.solved_by_requester / self.finished if self.finished else None

    @property
    def coverage(self) -> float | None:
        """Tickets the classifier labelled without needing triage."""
        return (self.tickets - self.needing_triage) / self.tickets if self.tickets else None

    @property
    def accuracy(self) -> float | None:
        """Machine-classified tickets whose category no agent corrected."""
        return (self.classified - self.corrected) / self.classified if self.classified else None

    def as_json(self) -> dict[str, Any]:
        """The figures for the JSON API."""

        def counts(rows: list[Count]) -> dict[str, int]:
            return {row.label: row.value for row in rows}

        def adherence(value: Adherence) -> dict[str, Any]:
            return {
                "met": value.met,
                "missed": value.missed,
                "running": value.running,
                "rate": value.rate,
            }

        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "tickets": self.tickets,
            "by_day": counts(self.by_day),
            "by_category": counts(self.by_category),
            "by_priority": counts(self.by_priority),
            "sla": {
                "first_response": adherence(self.first_response),
                "resolution": adherence(self.resolution),
            },
            "deflection": {
                "finished": self.finished,
                "solved_by_requester": self.solved_by_requester,
                "accepted_suggestions": self.accepted_suggestions,
                "rate": self.deflection,
            },
            "classifier": {
                "classified": self.classified,
                "needing_triage": self.needing_triage,
                "corrected": self.corrected,
                "coverage": self.coverage,
                "accuracy": self.accuracy,
            },
        }


def _day(value: object) -> str:
    # SQLite's date() gives "YYYY-MM-DD", PostgreSQL's a date.
    return value.isoformat() if isinstance(value, date) else str(value)[:10]


def _adherence(session: Session, window: Any, due: Any, done: Any, now: datetime) -> Adherence:
    met = func.sum(case((and_(done.is_not(None), done <= due), 1), else_=0))
    missed = func.sum(
        case(
            (or_(and_(done.is_not(None), done > due), and_(done.is_(None), due < now)), 1), else_=0
        )
    )
    running = func.sum(case((and_(done.is_(None), due >= now), 1), else_=0))
    row = session.execute(select(met, missed, running).where(window, due.is_not(None))).one()
    return Adherence(int(row[0] or 0), int(row[1] or 0), int(row[2] or 0))


def build_dashboard(
    session: Session, *, since: datetime, until: datetime, now: datetime, top: int = 12
) -> Dashboard:
    """The dashboard of tickets opened in [since, until)."""
    window = and_(
        Ticket.created_at >= since, Ticket.created_at < until, Ticket.merged_into_id.is_(None)
    )
    day = func.date(Ticket.created_at)
    by_day_rows = session.execute(
        select(day, func.count()).where(window).group_by(day).order_by(day)
    ).all()
    found = {_day(d): int(n) for d, n in by_day_rows}
    days: list[Count] = []
    current, last = since.date(), (until - timedelta(microseconds=1)).date()
    while current <= last:
        days.append(Count(current.isoformat(), found.get(current.isoformat(), 0)))
        current += timedelta(days=1)
    category = func.coalesce(Ticket.category, UNKNOWN)
    by_category = [
        Count(str(label), int(n))
        for label, n in session.execute(
            select(category, func.count())
            .where(window)
            .group_by(category)
            .order_by(func.count().desc(), category)
            .limit(top)
        ).all()
    ]
    priority = func.coalesce(Ticket.priority, UNKNOWN)
    by_priority = [
        Count(str(label), int(n))
        for label, n in session.execute(
            select(priority, func.count()).where(window).group_by(priority).order_by(priority)
        ).all()
    ]
    finished_states = (TicketStatus.RESOLVED, TicketStatus.CLOSED)
    totals = session.execute(
        select(
            func.count(),
            func.sum(case((Ticket.status.in_(finished_states), 1), else_=0)),
            func.sum(case((Ticket.closed_by_solved.is_(True), 1), else_=0)),
            func.sum(case((Ticket.needs_triage.is_(True), 1), else_=0)),
        ).where(window)
    ).one()
    accepted = session.execute(
        select(func.count(func.distinct(Suggestion.ticket_id)))
        .join(Ticket, Ticket.id == Suggestion.ticket_id)
        .where(window, Suggestion.outcome == SuggestionOutcome.ACCEPTED)
    ).scalar_one()
    machine = aliased(Classification)
    agent = aliased(Classification)
    classified = session.execute(
        select(func.count(func.distinct(machine.ticket_id)))
        .join(Ticket, Ticket.id == machine.ticket_id)
        .where(window, machine.source.in_(MACHINE_SOURCES), machine.abstained.is_(False))
    ).scalar_one()
    corrected = session.execute(
        select(func.count(func.distinct(machine.ticket_id)))
        .join(Ticket, Ticket.id == machine.ticket_id)
        .join(
            agent,
            and_(
                agent.ticket_id == machine.ticket_id,
                agent.id > machine.id,
                agent.source == LabelSource.AGENT,
                agent.category.is_not(None),
                or_(machine.category.is_(None), agent.category != machine.category),
            ),
        )
        .where(window, machine.source.in_(MACHINE_SOURCES), machine.abstained.is_(False))
    ).scalar_one()
    return Dashboard(
        since=since,
        until=until,
        tickets=int(totals[0] or 0),
        by_day=days,
        by_category=by_category,
        by_priority=by_priority,
        first_response=_adherence(
            session, window, Ticket.first_response_due, Ticket.first_responded_at, now
        ),
        resolution=_adherence(session, window, Ticket.resolution_due, Ticket.resolved_at, now),
        finished=int(totals[1] or 0),
        solved_by_requester=int(totals[2] or 0),
        accepted_suggestions=int(accepted or 0),
        classified=int(classified or 0),
        needing_triage=int(totals[3] or 0),
        corrected=int(corrected or 0),
    )
