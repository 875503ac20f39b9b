"""IMAP mailbox cursors: how far intake has read each mailbox.

The cursor (UIDVALIDITY, last UID) is committed in the same transaction as the mail it covers,
so a crash between commit and the server-side flag re-fetches nothing new and loses nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class MailboxCursor(Base):
    """Position of intake in one IMAP mailbox of one account."""

    __tablename__ = "mailbox_cursor"
    __table_args__ = (UniqueConstraint("account", "mailbox"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(String(200))
    mailbox: Mapped[str] = mapped_column(String(500))
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
