"""Articles suggested for a ticket, why, and what came of each suggestion."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class SuggestionOutcome(StrEnum):
    """What the agent or requester made of a suggestion."""

    PENDING = "pending"
    ACCEPTED = "accepted"  # an agent resolved the ticket with it
    REJECTED = "rejected"  # an agent said it does not fit
    SOLVED = "solved"  # the requester replied "solved" to the acknowledgement
    REOPENED = "reopened"  # the ticket was reopened after being solved with it


class Suggestion(Base):
    """One ranked article suggestion on a ticket, with the passage that matched."""

    __tablename__ = "suggestion"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("article.id"), index=True)
    rank: Mapped[int]
    score: Mapped[float]
    confidence: Mapped[float]
    passage: Mapped[str] = mapped_column(Text, default="")
    explanation: Mapped[dict[str, Any]] = mapped_column(default=dict)
    sent_to_requester: Mapped[bool] = mapped_column(default=False)
    outcome: Mapped[SuggestionOutcome] = mapped_column(
        String(20), default=SuggestionOutcome.PENDING
    )
    outcome_at: Mapped[datetime | None] = mapped_column(default=None)
    outcome_by: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
