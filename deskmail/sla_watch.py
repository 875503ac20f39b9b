"""The scheduler's SLA work: keep due times current, warn before a breach, escalate on one.

Where it sits: each round of `deskmail.scheduler` calls `refresh_due_times`, `send_warnings`
and `escalate_breaches`, in that order, so warnings and escalations always compare against
due times that include every finished pause and the ticket's current priority.

Each warning and each escalation goes out once per ticket and target, even with several
schedulers running (docs/decisions/0126): a guarded UPDATE claims the ticket's marker
(`first_response_warned_at IS NULL ...`) and the mail and the timeline event are written in
the same transaction. On PostgreSQL a second scheduler's UPDATE waits for the first one's
commit and then matches no row; on SQLite writers begin IMMEDIATE, so they take turns.

Who is told (docs/decisions/0127): a warning goes to the people who can still meet the
target - the assignee and the agents of the ticket's group - and to the escalation address
when there is nobody; an escalation goes to the escalation address (or, without one, the
group) and the assignee.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from deskmail.routing import StaffMember, assignee_of, group_members, mail_staff
from deskmail.scheduler_context import SYSTEM_ACTOR, TimedContext
from deskmail.sla import RUNNING_STATUSES, needs_refresh, refresh
from models import Event, Ticket, TicketStatus
from responder.conversation import conversation_for
from responder.mails import EscalationMail, PersonInfo, SlaTarget, SlaWarningMail, TicketInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TargetColumns:
    """The columns of one SLA target on the ticket."""

    target: SlaTarget
    due: InstrumentedAttribute[datetime | None]
    warn_at: InstrumentedAttribute[datetime | None]
    met_at: InstrumentedAttribute[datetime | None]
    warned_at: InstrumentedAttribute[datetime | None]
    escalated_at: InstrumentedAttribute[datetime | None]

    @property
    def label(self) -> str:
        """ "first response" or "resolution"."""
        return self.target.value.replace("_", " ")


TARGETS: tuple[TargetColumns, ...] = (
    TargetColumns(
        SlaTarget.FIRST_RESPONSE,
        Ticket.first_response_due,
        Ticket.first_response_warn_at,
        Ticket.first_responded_at,
        Ticket.first_response_warned_at,
        Ticket.first_response_escalated_at,
    ),
    TargetColumns(
        SlaTarget.RESOLUTION,
        Ticket.resolution_due,
        Ticket.resolution_warn_at,
        Ticket.resolved_at,
        Ticket.resolution_warned_at,
        Ticket.resolution_escalated_at,
    ),
)


# What a claimed warning or escalation does, inside the claiming transaction.
Act = Callable[[TimedContext, Session, Ticket, TargetColumns, datetime], None]


def _clock_running() -> list[ColumnElement[bool]]:
    """The clocks run: the ticket is new or open, no pause is open, due times are current."""
    return [
        Ticket.status.in_([str(s) for s in RUNNING_STATUSES]),
        Ticket.sla_paused_at.is_(None),
        Ticket.sla_priority == func.coalesce(Ticket.priority, ""),
    ]


# Keeping due times current ------------------------------------------------------------------


def refresh_due_times(context: TimedContext, *, now: datetime, limit: int) -> int:
    """Start missing clocks, fold finished pauses in, follow priority changes; returns how many
    tickets changed."""
    stale = or_(
        Ticket.sla_priority.is_(None),
        Ticket.first_response_due.is_(None),
        Ticket.sla_priority != func.coalesce(Ticket.priority, ""),
        and_(Ticket.sla_paused_at.is_not(None), Ticket.sla_resumed_at.is_not(None)),
    )
    with context.app.read_sessions() as reader:
        ids = list(
            reader.execute(
                select(Ticket.id)
                .where(Ticket.status != str(TicketStatus.CLOSED), stale)
                .order_by(Ticket.id)
                .limit(limit)
            ).scalars()
        )
    changed = 0
    for ticket_id in ids:
        with context.app.sessions() as session, session.begin():
            ticket = _locked(session, ticket_id)
            if ticket is None or not needs_refresh(ticket):
                continue  # another scheduler or a use case did it meanwhile
            before = (ticket.first_response_due, ticket.resolution_due)
            refresh(ticket, context.sla)
            after = (ticket.first_response_due, ticket.resolution_due)
            if before != after:
                session.add(
                    Event(
                        ticket_id=ticket.id,
                        kind="sla_due_changed",
                        actor=SYSTEM_ACTOR,
                        data={
                            "policy": ticket.sla_priority,
                            "paused_seconds": ticket.sla_paused_seconds,
                            "first_response_due": _iso(ticket.first_response_due),
                            "resolution_due": _iso(ticket.resolution_due),
                        },
                        created_at=now,
                    )
                )
            changed += 1
    return changed


def _locked(session: Session, ticket_id: int) -> Ticket | None:
    """The ticket, read under a row lock (PostgreSQL) or the write lock (SQLite IMMEDIATE)."""
    return session.execute(
        select(Ticket)
        .where(Ticket.id == ticket_id)
        # The requester is joined eagerly: lock only the ticket's row.
        .with_for_update(of=Ticket)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


# Warnings and escalations -------------------------------------------------------------------


def send_warnings(context: TimedContext, *, now: datetime, limit: int) -> int:
    """Warn about targets whose warning time passed but that are not missed yet."""
    sent = 0
    for columns in TARGETS:
        due_soon = [
            *_clock_running(),
            columns.met_at.is_(None),
            columns.warned_at.is_(None),
            columns.escalated_at.is_(None),
            columns.warn_at.is_not(None),
            columns.warn_at <= now,
            columns.due > now,
        ]
        for ticket_id in _candidates(context, due_soon, limit):
            if _claim(
                context,
                ticket_id,
                columns=columns,
                escalation=False,
                conditions=due_soon,
                now=now,
                act=_warn,
            ):
                sent += 1
    return sent


def escalate_breaches(context: TimedContext, *, now: datetime, limit: int) -> int:
    """Escalate targets whose due time passed while the clock ran."""
    sent = 0
    for columns in TARGETS:
        missed = [
            *_clock_running(),
            columns.met_at.is_(None),
            columns.escalated_at.is_(None),
            columns.due.is_not(None),
            columns.due <= now,
        ]
        for ticket_id in _candidates(context, missed, limit):
            if _claim(
                context,
                ticket_id,
                columns=columns,
                escalation=True,
                conditions=missed,
                now=now,
                act=_escalate,
            ):
                sent += 1
    return sent


def _candidates(
    context: TimedContext, conditions: Sequence[ColumnElement[bool]], limit: int
) -> list[int]:
    with context.app.read_sessions() as reader:
        return list(
            reader.execute(
                select(Ticket.id).where(*conditions).order_by(Ticket.id).limit(limit)
            ).scalars()
        )


def _claim(
    context: TimedContext,
    ticket_id: int,
    *,
    columns: TargetColumns,
    escalation: bool,
    conditions: Sequence[ColumnElement[bool]],
    now: datetime,
    act: Act,
) -> bool:
    """Set the target's warned (or escalated) marker if the conditions still hold, and act in
    the same transaction."""
    marker = columns.escalated_at if escalation else columns.warned_at
    with context.app.sessions() as session, session.begin():
        values: dict[str, Any] = {marker.key: now, "updated_at": Ticket.updated_at}
        if escalation:
            # A breach makes a warning pointless: never warn after escalating.
            values[columns.warned_at.key] = func.coalesce(columns.warned_at, now)
        claimed = session.execute(
            update(Ticket)
            .where(Ticket.id == ticket_id, *conditions)
            .values(values)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return False  # another scheduler took it, or the ticket changed meanwhile
        ticket = session.execute(
            select(Ticket).where(Ticket.id == ticket_id).execution_options(populate_existing=True)
        ).scalar_one()
        act(context, session, ticket, columns, now)
    return True


def _warn(
    context: TimedContext, session: Session, ticket: Ticket, columns: TargetColumns, now: datetime
) -> None:
    due = getattr(ticket, columns.due.key)
    recipients = warning_recipients(session, context, ticket)
    mail = SlaWarningMail(
        ticket=TicketInfo.of(ticket),
        requester=PersonInfo(ticket.requester.email, ticket.requester.name or ""),
        target=columns.target,
        due_at=due,
        breached=False,
        ticket_url=context.ticket_url(ticket.id),
        group=ticket.group,
        assignee_name=_assignee_name(session, ticket),
    )
    _send_and_record(context, session, ticket, mail, recipients, "sla_warning", columns, due, now)
    log.info("ticket %s: %s warning (due %s)", ticket.id, columns.label, due.isoformat())


def _escalate(
    context: TimedContext, session: Session, ticket: Ticket, columns: TargetColumns, now: datetime
) -> None:
    due = getattr(ticket, columns.due.key)
    recipients = escalation_recipients(session, context, ticket)
    mail = EscalationMail(
        ticket=TicketInfo.of(ticket),
        requester=PersonInfo(ticket.requester.email, ticket.requester.name or ""),
        reason=f"the {columns.label} target was missed: it was due {due:%Y-%m-%d %H:%M} UTC",
        ticket_url=context.ticket_url(ticket.id),
        group=ticket.group,
        assignee_name=_assignee_name(session, ticket),
        resolution_due=ticket.resolution_due,
    )
    _send_and_record(context, session, ticket, mail, recipients, "sla_escalated", columns, due, now)
    log.warning("ticket %s: %s target missed, escalated", ticket.id, columns.label)


def _send_and_record(  # noqa: PLR0917 (one private step of _warn and _escalate)
    context: TimedContext,
    session: Session,
    ticket: Ticket,
    mail: SlaWarningMail | EscalationMail,
    recipients: Sequence[StaffMember],
    kind: str,
    columns: TargetColumns,
    due: datetime,
    now: datetime,
) -> None:
    """Queue the staff mail in the ticket's conversation and record the SLA event."""
    queued = mail_staff(
        session,
        context.outbox,
        mail,
        recipients,
        now=now,
        conversation=conversation_for(session, ticket),
        reply_for=context.reply_for(ticket.id),
    )
    _record(session, ticket, kind, columns=columns, due=due, outbound=queued_ids(queued), now=now)


def queued_ids(queued: Sequence[Any]) -> list[int]:
    """The outbound row ids of queued mails."""
    return [q.outbound.id for q in queued]


def _record(
    session: Session,
    ticket: Ticket,
    kind: str,
    *,
    columns: TargetColumns,
    due: datetime,
    outbound: list[int],
    now: datetime,
) -> None:
    session.add(
        Event(
            ticket_id=ticket.id,
            kind=kind,
            actor=SYSTEM_ACTOR,
            data={"target": columns.target.value, "due": due.isoformat(), "outbound": outbound},
            created_at=now,
        )
    )


def _assignee_name(session: Session, ticket: Ticket) -> str:
    member = assignee_of(session, ticket)
    return (member.name or member.email) if member is not None else ""


def _escalation_address(context: TimedContext) -> list[StaffMember]:
    address = context.process.escalation_address
    return [StaffMember(address)] if address else []


def warning_recipients(
    session: Session, context: TimedContext, ticket: Ticket
) -> list[StaffMember]:
    """The assignee and the ticket's group; the escalation address when there is nobody."""
    assignee = assignee_of(session, ticket)
    people = ([assignee] if assignee else []) + group_members(session, ticket.group)
    return people or _escalation_address(context)


def escalation_recipients(
    session: Session, context: TimedContext, ticket: Ticket
) -> list[StaffMember]:
    """The escalation address (else the ticket's group), and the assignee."""
    assignee = assignee_of(session, ticket)
    above = _escalation_address(context) or group_members(session, ticket.group)
    return above + ([assignee] if assignee else [])


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
