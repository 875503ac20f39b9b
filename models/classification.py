"""Classifier results, labelled training examples, and stored model versions.

Every prediction is kept with its confidences and model version; an agent's correction is a
new row with `source="agent"` and a training example naming who made it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class LabelSource(StrEnum):
    """Where a label came from."""

    ZERO_SHOT = "zero_shot"
    MODEL = "model"
    AGENT = "agent"
    IMPORT = "import"


class Classification(Base):
    """The labels a ticket got at one moment, with confidences."""

    __tablename__ = "classification"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    category: Mapped[str | None] = mapped_column(String(100), default=None)
    subcategory: Mapped[str | None] = mapped_column(String(100), default=None)
    impact: Mapped[str | None] = mapped_column(String(20), default=None)
    urgency: Mapped[str | None] = mapped_column(String(20), default=None)
    priority: Mapped[str | None] = mapped_column(String(4), default=None)
    confidences: Mapped[dict[str, Any]] = mapped_column(default=dict)
    abstained: Mapped[bool] = mapped_column(default=False)
    model_version: Mapped[str] = mapped_column(String(100), default="")
    source: Mapped[LabelSource] = mapped_column(String(20))
    corrected_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TrainingExample(Base):
    """A labelled text the classifier learns from (agent corrections, imported history)."""

    __tablename__ = "training_example"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(100), default=None)
    subcategory: Mapped[str | None] = mapped_column(String(100), default=None)
    impact: Mapped[str | None] = mapped_column(String(20), default=None)
    urgency: Mapped[str | None] = mapped_column(String(20), default=None)
    source: Mapped[LabelSource] = mapped_column(String(20))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), default=None)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ModelStatus(StrEnum):
    """Life of a trained model version."""

    CANDIDATE = "candidate"  # trained, not (yet) better than the active one
    ACTIVE = "active"  # the one the classify stage uses
    RETIRED = "retired"  # was active once; `deskmail classifier rollback` can bring it back


class ClassifierModel(Base):
    """A trained classifier, stored as bytes so every worker loads the same version."""

    __tablename__ = "classifier_model"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(100), unique=True)
    status: Mapped[ModelStatus] = mapped_column(String(20), default=ModelStatus.CANDIDATE)
    blob: Mapped[bytes] = mapped_column(LargeBinary)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    n_examples: Mapped[int] = mapped_column(default=0)
    trained_at: Mapped[datetime] = mapped_column(default=utcnow)
    promoted_at: Mapped[datetime | None] = mapped_column(default=None)
    notes: Mapped[str] = mapped_column(Text, default="")
