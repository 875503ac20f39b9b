"""Mail Deskmail sends, as rows of the transactional outbox.

A row is written in the same transaction as the change that causes it (an acknowledgement with
its new ticket, a resolution mail with the resolve); the sender delivers it later and records
the outcome. Each row keeps a stable Message-ID, so a retry is the same mail.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class OutboundStatus(StrEnum):
    """Delivery state of an outgoing mail."""

    QUEUED = "queued"  # waiting (also after a temporary failure, until next_attempt_at)
    SENDING = "sending"  # claimed by a sender
    SENT = "sent"  # the relay accepted it (250)
    FAILED = "failed"  # permanent failure (5xx) or out of retries; shown on the ticket
    SUPPRESSED = "suppressed"  # not sent on purpose (muted recipient, rate cap)


class OutboundMessage(Base):
    """One outgoing mail, rendered and ready to send."""

    __tablename__ = "outbound_message"
    __table_args__ = (
        Index("ix_outbound_message_status_next", "status", "next_attempt_at"),
        # The caps on automatic mail count a recipient's recent mail (responder.suppression).
        Index("ix_outbound_message_recipient_created", "recipient", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), default=None, index=True)
    kind: Mapped[str] = mapped_column(String(50))  # template name: acknowledgement, resolution...
    automatic: Mapped[bool] = mapped_column(default=True)
    message_id: Mapped[str] = mapped_column(String(998), unique=True)
    mail_from: Mapped[str] = mapped_column(String(320))
    rcpt_to: Mapped[list[str]] = mapped_column(default=list)
    raw: Mapped[bytes] = mapped_column(LargeBinary)

    status: Mapped[OutboundStatus] = mapped_column(String(20), default=OutboundStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)

    # The primary (To) recipient, lower-cased: one row per primary recipient, so a reply token
    # and the per-recipient caps each concern one person.
    recipient: Mapped[str] = mapped_column(String(320), default="", server_default="")
    subject: Mapped[str] = mapped_column(String(1000), default="", server_default="")
    claimed_by: Mapped[str] = mapped_column(String(200), default="", server_default="")
    # Why the mail was suppressed or finally failed, in words an agent understands.
    status_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Recipients the relay accepted; after a partial accept `rcpt_to` keeps only those still
    # owed a delivery (refused with a 4xx), so a retry never repeats a delivery.
    delivered_to: Mapped[list[str]] = mapped_column(default=list, server_default=text("'[]'"))
    relay_response: Mapped[str] = mapped_column(String(1000), default="", server_default="")
