"""Articles suggested for a ticket, why, and what came of each suggestion.

The suggest stage (`deskmail.suggest`) writes one `SuggestionRun` per search and its ranked
`Suggestion` rows; the acknowledgement reads the rows marked `eligible_for_requester` and sets
`sent_to_requester`; agents' and requesters' verdicts set `outcome`
(`deskmail.knowledge_base.record_outcome`).
"""

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


class SuggestionRun(Base):
    """One search of the knowledge base for a ticket: how sure the matcher was overall.

    `fit_confidence` is the "does anything fit" probability of the agents' ranking (all
    audiences), `requester_fit_confidence` the same for the public articles a requester may
    see; suggestions went to the requester only when it reached `threshold`. `query_key` is
    the embedding cache key (under `model`) of the ticket text searched, so an outcome can be
    learned from without embedding the text again.
    """

    __tablename__ = "suggestion_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    fit_confidence: Mapped[float]
    requester_fit_confidence: Mapped[float]
    threshold: Mapped[float]
    eligible_count: Mapped[int] = mapped_column(default=0)
    knowledge_version: Mapped[int] = mapped_column(default=0)
    model: Mapped[str] = mapped_column(String(200), default="")
    query_key: Mapped[str] = mapped_column(String(64), default="")
    category: Mapped[str | None] = mapped_column(String(100), default=None)
    category_confidence: Mapped[float] = mapped_column(default=0.0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Suggestion(Base):
    """One ranked article suggestion on a ticket, with the passage that matched."""

    __tablename__ = "suggestion"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("article.id"), index=True)
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("suggestion_run.id"), default=None, index=True
    )
    rank: Mapped[int]
    score: Mapped[float]
    confidence: Mapped[float]
    passage: Mapped[str] = mapped_column(Text, default="")
    explanation: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Public, published and the requester's fit confidence reached the threshold: the
    # acknowledgement may offer it. `sent_to_requester` records that it did.
    eligible_for_requester: Mapped[bool] = mapped_column(default=False)
    sent_to_requester: Mapped[bool] = mapped_column(default=False)
    outcome: Mapped[SuggestionOutcome] = mapped_column(
        String(20), default=SuggestionOutcome.PENDING
    )
    outcome_at: Mapped[datetime | None] = mapped_column(default=None)
    outcome_by: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
