"""Raw mail as it arrived, before any parsing: the durable first step of intake.

SMTP and IMAP intake write a row here and commit before they acknowledge the mail; the worker
then claims rows and runs the pipeline on them. The raw bytes' SHA-256 is unique, so a
redelivery of the same bytes is stored once (DESIGN.md, One mail end to end, step 1).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class InboundStatus(StrEnum):
    """Where a stored mail is in the worker's hands."""

    RECEIVED = "received"  # waiting for a worker (also after a failed try, until next_attempt_at)
    PROCESSING = "processing"  # claimed by a worker
    PROCESSED = "processed"  # the pipeline ran to an outcome
    QUARANTINED = "quarantined"  # refused by a limit or unparseable; kept for inspection
    DEAD = "dead"  # failed on every try; waits for `deskmail inbound retry`


class Outcome(StrEnum):
    """What became of a mail (the `outcome` of `deskmail inject --json`)."""

    TICKET_CREATED = "ticket_created"
    FOLLOWUP = "followup"
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"
    REPORT = "report"
    LOOP = "loop"
    LIST_MAIL = "list_mail"
    DUPLICATE = "duplicate"
    QUARANTINED = "quarantined"


class InboundMessage(Base):
    """One received mail: raw bytes, envelope, and its processing state."""

    __tablename__ = "inbound_message"
    __table_args__ = (Index("ix_inbound_message_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    raw_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int]
    source: Mapped[str] = mapped_column(String(200))  # "smtp", "imap:<account>", "inject", ...
    mail_from: Mapped[str] = mapped_column(String(998), default="")
    rcpt_to: Mapped[list[str]] = mapped_column(default=list)
    peer: Mapped[str] = mapped_column(String(200), default="")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)

    status: Mapped[InboundStatus] = mapped_column(String(20), default=InboundStatus.RECEIVED)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str] = mapped_column(String(200), default="")
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str] = mapped_column(Text, default="")

    outcome: Mapped[Outcome | None] = mapped_column(String(20), default=None)
    outcome_reason: Mapped[str] = mapped_column(Text, default="")
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), default=None)
    message_id_header: Mapped[str] = mapped_column(String(998), default="")
    processed_at: Mapped[datetime | None] = mapped_column(default=None)
    # Details of a bounce, report or quarantine, for operators (recipients, status, ...).
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
