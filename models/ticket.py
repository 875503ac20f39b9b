"""The ticket aggregate: a requester's issue, its participants and its life cycle.

The ticket number shown to people is the primary key. Participants are who may add to the
ticket by mail (DESIGN.md, Threading).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow
from models.person import Person


class TicketStatus(StrEnum):
    """The ITIL incident states Deskmail uses."""

    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    RESOLVED = "resolved"
    CLOSED = "closed"


class ParticipantRole(StrEnum):
    """Why a person may add to a ticket."""

    REQUESTER = "requester"
    CC = "cc"
    AGENT = "agent"


class Ticket(Base):
    """One issue of one requester."""

    __tablename__ = "ticket"
    __table_args__ = (
        Index("ix_ticket_status_created", "status", "created_at"),
        # The scheduler's questions: resolved since when (auto-close), warnings due.
        Index("ix_ticket_status_resolved", "status", "resolved_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[TicketStatus] = mapped_column(String(20), default=TicketStatus.NEW)
    requester_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), default=None)
    group: Mapped[str] = mapped_column(String(100), default="")

    category: Mapped[str | None] = mapped_column(String(100), default=None, index=True)
    subcategory: Mapped[str | None] = mapped_column(String(100), default=None)
    impact: Mapped[str | None] = mapped_column(String(20), default=None)
    urgency: Mapped[str | None] = mapped_column(String(20), default=None)
    priority: Mapped[str | None] = mapped_column(String(4), default=None, index=True)
    needs_triage: Mapped[bool] = mapped_column(default=False)
    major_incident: Mapped[bool] = mapped_column(default=False)

    parent_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), default=None)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), default=None)
    # A reply after the reopen window opens a new ticket that points at the old one.
    follows_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), default=None)

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    first_response_due: Mapped[datetime | None] = mapped_column(default=None)
    resolution_due: Mapped[datetime | None] = mapped_column(default=None)
    first_responded_at: Mapped[datetime | None] = mapped_column(default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    resolution: Mapped[str] = mapped_column(Text, default="")

    # The SLA clock (deskmail.sla, docs/decisions/0122): the priority the due times were
    # computed for, when warnings fall due, open and finished pauses (pending, resolved), and
    # the once-only markers the scheduler claims with guarded updates.
    sla_priority: Mapped[str | None] = mapped_column(String(4), default=None)
    first_response_warn_at: Mapped[datetime | None] = mapped_column(default=None)
    resolution_warn_at: Mapped[datetime | None] = mapped_column(default=None)
    sla_paused_at: Mapped[datetime | None] = mapped_column(default=None)
    sla_resumed_at: Mapped[datetime | None] = mapped_column(default=None)
    sla_paused_seconds: Mapped[int] = mapped_column(default=0, server_default="0")
    first_response_warned_at: Mapped[datetime | None] = mapped_column(default=None)
    first_response_escalated_at: Mapped[datetime | None] = mapped_column(default=None)
    resolution_warned_at: Mapped[datetime | None] = mapped_column(default=None)
    resolution_escalated_at: Mapped[datetime | None] = mapped_column(default=None)
    # The agents of the group were told about this urgent ticket (once).
    group_notified_at: Mapped[datetime | None] = mapped_column(default=None)
    # Closed because the requester replied "solved" (deflection in the reports).
    closed_by_solved: Mapped[bool] = mapped_column(default=False, server_default=false())

    requester: Mapped[Person] = relationship(foreign_keys=[requester_id], lazy="joined")
    assignee: Mapped[Person | None] = relationship(foreign_keys=[assignee_id])
    participants: Mapped[list[TicketParticipant]] = relationship(
        back_populates="ticket", cascade="all, delete-orphan"
    )

    @property
    def number(self) -> int:
        """The number people see, e.g. in the subject tag `[#1234]`."""
        return self.id


class TicketParticipant(Base):
    """A person who may add to a ticket by mail."""

    __tablename__ = "ticket_participant"
    __table_args__ = (UniqueConstraint("ticket_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    role: Mapped[ParticipantRole] = mapped_column(String(20))

    ticket: Mapped[Ticket] = relationship(back_populates="participants")
    person: Mapped[Person] = relationship(lazy="joined")
