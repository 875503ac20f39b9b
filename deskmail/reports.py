"""Reports on the help desk's work over a period: what came in, how fast it was answered and
solved, how well the SLAs were kept, how many tickets the acknowledgement solved on its own,
and which articles solve problems.

Where it sits: `deskmail reports` (deskmail/commands/reports.py) prints a `HelpdeskReport` as
tables or JSON; the web UI can show the same object later. Read-only: it takes a reader
session. A ticket belongs to the period it was created in (`since` <= created < `until`).

The measures (docs/decisions/0129):

- volume: tickets per category and priority ("" while unknown: waiting for triage);
- first-response and resolution times: wall-clock hours from creation to the first
  response of a person and to the resolution (median, 90th percentile, mean), overall and
  per priority - the SLA figures measure business time, these what requesters lived;
- SLA adherence per target: a target is met when it was done by its due time, missed when
  it was done late or is still open past its due time with the clock running; targets still
  running are not counted yet. A ticket resolved or closed before anyone answered met its
  first-response target if that happened by the due time. Escalations are counted too;
- deflection: tickets the requester closed by replying "solved" to the acknowledgement
  (`closed_by_solved`), as a share of the tickets that got an acknowledgement and of those
  whose acknowledgement offered solutions;
- per article: how often it was suggested, offered to requesters, and what came of it;
  its solve rate is (solved by the requester + accepted by an agent) / suggested.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from deskmail.sla import PAUSED_STATUSES
from models import (
    Article,
    OutboundMessage,
    OutboundStatus,
    Suggestion,
    SuggestionOutcome,
    Ticket,
    TicketStatus,
)

ACKNOWLEDGEMENT_KIND = "acknowledgement"
UNKNOWN = ""


@dataclass(frozen=True)
class Period:
    """`since` <= created < `until`, timezone-aware."""

    since: datetime
    until: datetime

    def __post_init__(self) -> None:
        if self.since.tzinfo is None or self.until.tzinfo is None:
            raise ValueError("report periods are timezone-aware")
        if self.until <= self.since:
            raise ValueError("the period must end after it starts")


@dataclass(frozen=True)
class VolumeRow:
    """Tickets of one category and priority."""

    category: str
    priority: str
    tickets: int
    still_open: int


@dataclass(frozen=True)
class DurationStats:
    """Hours from creation to an event, over the tickets that reached it."""

    count: int
    median_hours: float | None
    p90_hours: float | None
    mean_hours: float | None

    @classmethod
    def of(cls, durations: list[timedelta]) -> DurationStats:
        hours = sorted(d.total_seconds() / 3600 for d in durations if d >= timedelta(0))
        if not hours:
            return cls(0, None, None, None)
        return cls(
            len(hours),
            round(statistics.median(hours), 2),
            round(_percentile(hours, 0.9), 2),
            round(statistics.fmean(hours), 2),
        )


def _percentile(ordered: list[float], share: float) -> float:
    """The nearest-rank percentile of sorted values."""
    rank = max(1, -(-len(ordered) * share // 1))  # ceil without floats drifting
    return ordered[int(rank) - 1]


@dataclass(frozen=True)
class TimeStats:
    """A duration overall and per priority."""

    overall: DurationStats
    by_priority: dict[str, DurationStats]


@dataclass(frozen=True)
class Adherence:
    """How one SLA target was kept."""

    met: int
    missed: int
    running: int
    escalated: int

    @property
    def measured(self) -> int:
        """Targets decided: met or missed."""
        return self.met + self.missed

    @property
    def rate(self) -> float | None:
        """Share of decided targets that were met."""
        return round(self.met / self.measured, 4) if self.measured else None

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "measured": self.measured, "rate": self.rate}


@dataclass(frozen=True)
class Deflection:
    """Tickets solved by the acknowledgement alone (the requester replied "solved")."""

    acknowledged: int
    offered_solutions: int
    solved_by_reply: int

    @property
    def rate(self) -> float | None:
        """Solved by reply, of the acknowledged tickets."""
        return _share(self.solved_by_reply, self.acknowledged)

    @property
    def rate_when_offered(self) -> float | None:
        """Solved by reply, of the tickets whose acknowledgement offered solutions."""
        return _share(self.solved_by_reply, self.offered_solutions)

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "rate": self.rate, "rate_when_offered": self.rate_when_offered}


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass(frozen=True)
class ArticleRow:
    """What came of one article's suggestions."""

    article_id: int
    slug: str
    title: str
    suggested: int
    offered: int
    solved: int
    accepted: int
    rejected: int
    reopened: int

    @property
    def solve_rate(self) -> float | None:
        """(Solved by the requester + accepted by an agent) / suggested."""
        return _share(self.solved + self.accepted, self.suggested)

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "solve_rate": self.solve_rate}


@dataclass(frozen=True)
class HelpdeskReport:
    """Everything `deskmail reports` shows."""

    period: Period
    generated_at: datetime
    tickets: int
    volume: list[VolumeRow]
    first_response: TimeStats
    resolution: TimeStats
    sla: dict[str, Adherence]
    deflection: Deflection
    articles: list[ArticleRow] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The public JSON shape of `deskmail reports --json` (keep the keys stable)."""

        def times(stats: TimeStats) -> dict[str, Any]:
            return {
                **asdict(stats.overall),
                "by_priority": {k: asdict(v) for k, v in stats.by_priority.items()},
            }

        return {
            "since": self.period.since.isoformat(),
            "until": self.period.until.isoformat(),
            "generated_at": self.generated_at.isoformat(),
            "tickets": self.tickets,
            "volume": [asdict(row) for row in self.volume],
            "first_response": times(self.first_response),
            "resolution": times(self.resolution),
            "sla": {name: value.as_json() for name, value in self.sla.items()},
            "deflection": self.deflection.as_json(),
            "articles": [row.as_json() for row in self.articles],
        }


# Building the report -------------------------------------------------------------------------


def build_report(session: Session, period: Period, *, now: datetime) -> HelpdeskReport:
    """The report of the tickets created in `period`, as things stand at `now`."""
    in_period = and_(Ticket.created_at >= period.since, Ticket.created_at < period.until)
    rows = session.execute(
        select(
            Ticket.id,
            Ticket.status,
            Ticket.category,
            Ticket.priority,
            Ticket.created_at,
            Ticket.first_response_due,
            Ticket.first_responded_at,
            Ticket.first_response_escalated_at,
            Ticket.resolution_due,
            Ticket.resolved_at,
            Ticket.closed_at,
            Ticket.resolution_escalated_at,
            Ticket.sla_paused_at,
            Ticket.closed_by_solved,
        ).where(in_period)
    ).all()
    volume: Counter[tuple[str, str]] = Counter()
    still_open: Counter[tuple[str, str]] = Counter()
    first: dict[str, list[timedelta]] = defaultdict(list)
    resolved: dict[str, list[timedelta]] = defaultdict(list)
    sla: dict[str, list[str]] = {"first_response": [], "resolution": []}
    escalated = Counter[str]()
    solved_by_reply = 0
    for row in rows:
        status = TicketStatus(row.status)
        key = (row.category or UNKNOWN, row.priority or UNKNOWN)
        volume[key] += 1
        if status not in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
            still_open[key] += 1
        done = row.resolved_at or row.closed_at
        if row.first_responded_at is not None:
            first[key[1]].append(row.first_responded_at - row.created_at)
        if done is not None:
            resolved[key[1]].append(done - row.created_at)
        paused = row.sla_paused_at is not None or status in PAUSED_STATUSES
        # A ticket solved before anyone answered (the requester's "solved") needed no answer.
        answered = row.first_responded_at or done
        sla["first_response"].append(
            _verdict(row.first_response_due, answered, paused=paused, now=now)
        )
        sla["resolution"].append(_verdict(row.resolution_due, done, paused=paused, now=now))
        escalated["first_response"] += row.first_response_escalated_at is not None
        escalated["resolution"] += row.resolution_escalated_at is not None
        solved_by_reply += bool(row.closed_by_solved)
    return HelpdeskReport(
        period=period,
        generated_at=now,
        tickets=len(rows),
        volume=[
            VolumeRow(category, priority, count, still_open[(category, priority)])
            for (category, priority), count in sorted(
                volume.items(), key=lambda item: (-item[1], item[0])
            )
        ],
        first_response=_times(first),
        resolution=_times(resolved),
        sla={
            name: Adherence(
                met=verdicts.count("met"),
                missed=verdicts.count("missed"),
                running=verdicts.count("running"),
                escalated=escalated[name],
            )
            for name, verdicts in sla.items()
        },
        deflection=Deflection(
            acknowledged=_acknowledged(session, in_period),
            offered_solutions=_offered(session, in_period),
            solved_by_reply=solved_by_reply,
        ),
        articles=_articles(session, in_period),
    )


def _verdict(due: datetime | None, done: datetime | None, *, paused: bool, now: datetime) -> str:
    """ "met", "missed", "running", or "none" for a ticket without this target."""
    if due is None:
        return "none"
    if done is not None:
        return "met" if done <= due else "missed"
    return "missed" if not paused and now > due else "running"


def _times(durations: dict[str, list[timedelta]]) -> TimeStats:
    everything = [d for values in durations.values() for d in values]
    return TimeStats(
        DurationStats.of(everything),
        {priority or "?": DurationStats.of(v) for priority, v in sorted(durations.items())},
    )


def _acknowledged(session: Session, in_period: Any) -> int:
    return int(
        session.execute(
            select(func.count(func.distinct(OutboundMessage.ticket_id)))
            .join(Ticket, Ticket.id == OutboundMessage.ticket_id)
            .where(
                in_period,
                OutboundMessage.kind == ACKNOWLEDGEMENT_KIND,
                OutboundMessage.status != str(OutboundStatus.SUPPRESSED),
            )
        ).scalar_one()
    )


def _offered(session: Session, in_period: Any) -> int:
    return int(
        session.execute(
            select(func.count(func.distinct(Suggestion.ticket_id)))
            .join(Ticket, Ticket.id == Suggestion.ticket_id)
            .where(in_period, Suggestion.sent_to_requester.is_(True))
        ).scalar_one()
    )


def _tickets_where(condition: Any) -> Any:
    # Distinct tickets: an article suggested again on a later search counts once per ticket.
    return func.count(func.distinct(case((condition, Suggestion.ticket_id))))


def _outcome_count(outcome: SuggestionOutcome) -> Any:
    return _tickets_where(Suggestion.outcome == str(outcome))


def _articles(session: Session, in_period: Any) -> list[ArticleRow]:
    rows = session.execute(
        select(
            Article.id,
            Article.slug,
            Article.title,
            func.count(func.distinct(Suggestion.ticket_id)),
            _tickets_where(Suggestion.sent_to_requester.is_(True)),
            _outcome_count(SuggestionOutcome.SOLVED),
            _outcome_count(SuggestionOutcome.ACCEPTED),
            _outcome_count(SuggestionOutcome.REJECTED),
            _outcome_count(SuggestionOutcome.REOPENED),
        )
        .join(Suggestion, Suggestion.article_id == Article.id)
        .join(Ticket, Ticket.id == Suggestion.ticket_id)
        .where(in_period)
        .group_by(Article.id, Article.slug, Article.title)
    ).all()
    articles = [
        ArticleRow(
            article_id=row[0],
            slug=row[1],
            title=row[2],
            suggested=int(row[3] or 0),
            offered=int(row[4] or 0),
            solved=int(row[5] or 0),
            accepted=int(row[6] or 0),
            rejected=int(row[7] or 0),
            reopened=int(row[8] or 0),
        )
        for row in rows
    ]
    return sorted(articles, key=lambda a: (-(a.solved + a.accepted), -a.suggested, a.slug))
