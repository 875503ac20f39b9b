"""Messages on a ticket's conversation, their attachments, and the index of Message-IDs.

Every Message-ID Deskmail receives or sends is recorded in `thread_ref`, so a reply finds its
ticket by In-Reply-To/References (DESIGN.md, Threading). Attachment bytes live once, in `blob`,
addressed by their SHA-256; the original file name is metadata only.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow


class Direction(StrEnum):
    """Where a message came from."""

    INBOUND = "inbound"  # mail from a requester or participant
    OUTBOUND = "outbound"  # mail Deskmail sent (acknowledgement, agent reply, ...)
    NOTE = "note"  # internal note by an agent, never mailed


class ThreadSignal(StrEnum):
    """What placed an inbound message on its ticket (recorded for every message)."""

    NEW_TICKET = "new_ticket"
    REFERENCES = "references"
    REPLY_TOKEN = "reply_token"
    SUBJECT_TAG = "subject_tag"
    AGENT = "agent"


class Message(Base):
    """One entry of a ticket's conversation."""

    __tablename__ = "message"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    direction: Mapped[Direction] = mapped_column(String(20))
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_message.id"), default=None)
    outbound_id: Mapped[int | None] = mapped_column(ForeignKey("outbound_message.id"), default=None)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), default=None)

    message_id: Mapped[str | None] = mapped_column(String(998), default=None)
    from_email: Mapped[str] = mapped_column(String(320), default="", index=True)
    from_name: Mapped[str] = mapped_column(String(200), default="")
    to: Mapped[list[str]] = mapped_column(default=list)
    cc: Mapped[list[str]] = mapped_column(default=list)
    subject: Mapped[str] = mapped_column(String(1000), default="")
    date: Mapped[datetime] = mapped_column(default=utcnow)
    text: Mapped[str] = mapped_column(Text, default="")
    new_text: Mapped[str] = mapped_column(Text, default="")
    html_sanitized: Mapped[str | None] = mapped_column(Text, default=None)
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    thread_signal: Mapped[ThreadSignal] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="message", cascade="all, delete-orphan", order_by="Attachment.id"
    )


class Blob(Base):
    """Bytes stored once, addressed by SHA-256 (attachments, inline images, screenshots)."""

    __tablename__ = "blob"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int]
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Attachment(Base):
    """A file that came with a message; its name is escaped metadata, never a path."""

    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("message.id"), index=True)
    blob_sha256: Mapped[str] = mapped_column(ForeignKey("blob.sha256"))
    filename: Mapped[str] = mapped_column(String(255), default="")
    content_type: Mapped[str] = mapped_column(String(255), default="application/octet-stream")
    content_id: Mapped[str | None] = mapped_column(String(998), default=None)
    inline: Mapped[bool] = mapped_column(default=False)
    size: Mapped[int] = mapped_column(default=0)

    message: Mapped[Message] = relationship(back_populates="attachments")


class ThreadRef(Base):
    """A Message-ID Deskmail has seen or sent, and the ticket it belongs to."""

    __tablename__ = "thread_ref"
    __table_args__ = (Index("ix_thread_ref_message_id", "message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(998))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    direction: Mapped[Direction] = mapped_column(String(20))
    # The sender of an inbound message (lower-cased), used to tell a redelivery of the same
    # mail (same Message-ID, same sender) from an unrelated mail reusing a Message-ID.
    sender: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
