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
    # Why: the model's best guesses when it abstained, what decided impact and urgency (model,
    # signal, default, VIP, major incident), the phrases found, the major incident joined,
    # the model version of each label, and for a correction the labels it replaced.
    details: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
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
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), default=None, index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), default=None)
    # Who made the label (an agent's address, "cli"), also when no person row exists.
    created_by: Mapped[str] = mapped_column(String(320), default="", server_default="")
    # SHA-256 of the text: a re-import of the same export adds nothing twice.
    text_sha256: Mapped[str] = mapped_column(String(64), default="", server_default="", index=True)
    # Where the example came from: an import's file name, or empty for a correction.
    origin: Mapped[str] = mapped_column(String(300), default="", server_default="")
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
    # What the model predicts ({"category": [...], ...}) and what it needs to predict: the
    # sentence encoder it was trained with (0 dimensions: none) and the tree it saw.
    label_sets: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    encoder_name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    embedding_dim: Mapped[int] = mapped_column(default=0, server_default="0")
    tree_fingerprint: Mapped[str] = mapped_column(String(64), default="", server_default="")
    # The promotion decision: promoted or not, the reasons, the version compared with.
    decision: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
