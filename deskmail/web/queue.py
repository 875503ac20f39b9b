"""The agents' queue: tickets filtered, searched, sorted and paged, in two queries.

Shared by the queue page and `GET /api/v1/tickets`. One query counts the matches, one loads a
page of tickets with their requester and assignee joined in (no query per row); a search,
which has to scan the messages' text, does both in one query (a window count). Paging is
LIMIT/OFFSET: the filters and sort orders are many and the page numbers matter to people; on
10,000 tickets every combination stays in the tens of milliseconds (tests/web/test_queue.py
measures it). Search looks at the ticket number, the subject and the text of its messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, Select, and_, case, exists, func, or_, select
from sqlalchemy.orm import Session, aliased, contains_eager

from deskmail.ticket_actions import ACTIVE_STATUSES
from models import Message, Person, Ticket, TicketStatus

MAX_QUERY_CHARS = 200
MAX_PAGE_SIZE = 500
DUE_SOON = timedelta(hours=4)


class QueueSort(StrEnum):
    """The orders the queue offers."""

    NEWEST = "newest"
    OLDEST = "oldest"
    UPDATED = "updated"
    PRIORITY = "priority"
    DUE = "due"


class SlaFilter(StrEnum):
    """Service-level views of the queue."""

    BREACHED = "breached"  # a due time has passed
    DUE_SOON = "due_soon"  # due within the next four hours, not yet breached


ASSIGNEE_NONE = "none"


@dataclass(frozen=True)
class QueueFilter:
    """What the agent asked for; every field narrows the queue."""

    statuses: tuple[TicketStatus, ...] = ACTIVE_STATUSES
    category: str | None = None  # a category key, or "<category>/<sub>"
    priority: str | None = None
    assignee: str | None = None  # an e-mail address, or "none" for unassigned
    needs_triage: bool | None = None
    sla: SlaFilter | None = None
    query: str = ""
    sort: QueueSort = QueueSort.NEWEST
    page: int = 1
    per_page: int = 50


@dataclass(frozen=True)
class QueuePage:
    """One page of the queue and where it sits in the whole."""

    tickets: list[Ticket]
    total: int
    page: int
    per_page: int
    filter: QueueFilter = field(repr=False)

    @property
    def pages(self) -> int:
        """How many pages the matches fill (at least one)."""
        return max(1, -(-self.total // self.per_page))


def _due() -> ColumnElement[datetime | None]:
    # The next due time that still matters: the first response until it happened, then the
    # resolution.
    return case(
        (
            and_(Ticket.first_responded_at.is_(None), Ticket.first_response_due.is_not(None)),
            Ticket.first_response_due,
        ),
        else_=Ticket.resolution_due,
    )


def _printable(value: str) -> str:
    # Control characters match nothing people type, and PostgreSQL refuses NUL in text.
    return "".join(c for c in value if c >= " " and c != "\x7f")


def _conditions(spec: QueueFilter, now: datetime) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if spec.statuses:
        conditions.append(Ticket.status.in_([str(s) for s in spec.statuses]))
    if spec.category:
        column = Ticket.subcategory if "/" in spec.category else Ticket.category
        conditions.append(column == _printable(spec.category))
    if spec.priority:
        conditions.append(Ticket.priority == _printable(spec.priority))
    if spec.assignee == ASSIGNEE_NONE:
        conditions.append(Ticket.assignee_id.is_(None))
    elif spec.assignee:
        conditions.append(
            Ticket.assignee_id.in_(
                select(Person.id).where(Person.email == _printable(spec.assignee).strip().lower())
            )
        )
    if spec.needs_triage is not None:
        conditions.append(Ticket.needs_triage.is_(spec.needs_triage))
    if spec.sla is not None:
        response_open = and_(
            Ticket.first_responded_at.is_(None), Ticket.first_response_due.is_not(None)
        )
        if spec.sla is SlaFilter.BREACHED:
            conditions.append(
                or_(
                    and_(response_open, Ticket.first_response_due < now),
                    Ticket.resolution_due < now,
                )
            )
        else:
            soon = now + DUE_SOON
            conditions.append(
                or_(
                    and_(
                        response_open,
                        Ticket.first_response_due >= now,
                        Ticket.first_response_due < soon,
                    ),
                    and_(Ticket.resolution_due >= now, Ticket.resolution_due < soon),
                )
            )
    text = _printable(spec.query).strip()[:MAX_QUERY_CHARS]
    if text:
        # lower() LIKE on both databases (on PostgreSQL measurably faster than ILIKE here);
        # the user's % and _ are escaped, so they match themselves.
        matches: list[ColumnElement[bool]] = [Ticket.subject.icontains(text, autoescape=True)]
        number = text.lstrip("#")
        if number.isdigit() and len(number) < 10:
            matches.append(Ticket.id == int(number))
        matches.append(
            exists().where(
                Message.ticket_id == Ticket.id, Message.text.icontains(text, autoescape=True)
            )
        )
        conditions.append(or_(*matches))
    return conditions


def _ordered(query: Select[Ticket], sort: QueueSort) -> Select[Ticket]:
    if sort is QueueSort.OLDEST:
        return query.order_by(Ticket.id.asc())
    if sort is QueueSort.UPDATED:
        return query.order_by(Ticket.updated_at.desc(), Ticket.id.desc())
    if sort is QueueSort.PRIORITY:
        # "P1" < "P2" < ...: the most urgent first, unprioritised last.
        return query.order_by(Ticket.priority.asc().nulls_last(), Ticket.id.desc())
    if sort is QueueSort.DUE:
        return query.order_by(_due().asc().nulls_last(), Ticket.id.asc())
    return query.order_by(Ticket.id.desc())


def _page_query(spec: QueueFilter, conditions: list[ColumnElement[bool]]) -> Select[Ticket]:
    requester = aliased(Person)
    assignee = aliased(Person)
    query = (
        select(Ticket)
        .join(requester, Ticket.requester_id == requester.id)
        .outerjoin(assignee, Ticket.assignee_id == assignee.id)
        .options(
            contains_eager(Ticket.requester.of_type(requester)),
            contains_eager(Ticket.assignee.of_type(assignee)),
        )
        .where(*conditions)
    )
    return _ordered(query, spec.sort)


def query_queue(session: Session, spec: QueueFilter, *, now: datetime) -> QueuePage:
    """The page of tickets `spec` asks for, and how many match in all."""
    per_page = max(1, min(spec.per_page, MAX_PAGE_SIZE))
    conditions = _conditions(spec, now)
    query = _page_query(spec, conditions)
    if _printable(spec.query).strip():
        # A search scans the messages' text: count in the same pass (a window over the
        # matches) instead of scanning twice. Past the last page, fall through to counting.
        rows = session.execute(
            query.add_columns(func.count().over())
            .limit(per_page)
            .offset((max(spec.page, 1) - 1) * per_page)
        ).all()
        if rows or spec.page <= 1:
            total = int(rows[0][1]) if rows else 0
            tickets = [row[0] for row in rows]
            return QueuePage(tickets, total, max(spec.page, 1), per_page, filter=spec)
    total = int(session.execute(select(func.count(Ticket.id)).where(*conditions)).scalar_one())
    pages = max(1, -(-total // per_page))
    page = max(1, min(spec.page, pages))
    paged = query.limit(per_page).offset((page - 1) * per_page)
    tickets = list(session.execute(paged).unique().scalars())
    return QueuePage(tickets=tickets, total=total, page=page, per_page=per_page, filter=spec)
