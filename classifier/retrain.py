"""Retraining with a promotion gate: train on the training side, compare on the held-out side.

Used when agents' corrections (or an import) add examples. The candidate is trained without
the held-out examples and both it and the current model are measured on them; the candidate
carries its held-out metrics in its metadata whether or not it is promoted, so the database
keeps a record of every attempt.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from classifier.encoder import TextEncoder
from classifier.evaluation import (
    EvaluationReport,
    PromotionDecision,
    PromotionPolicy,
    evaluate,
    is_heldout,
    should_promote,
)
from classifier.labels import LabelledExample
from classifier.model import TrainedModel
from classifier.predictor import Predictor
from classifier.training import ProgressCallback, TrainingConfig, train
from classifier.tree import CategoryTree


@dataclass(frozen=True)
class RetrainResult:
    """The candidate, both held-out reports and the decision."""

    candidate: TrainedModel
    candidate_report: EvaluationReport
    current_report: EvaluationReport | None
    decision: PromotionDecision


def retrain(
    examples: Iterable[LabelledExample],
    tree: CategoryTree,
    *,
    current: Predictor | None,
    encoder: TextEncoder | None = None,
    encoder_name: str = "",
    embeddings: npt.NDArray[np.float32] | None = None,
    config: TrainingConfig | None = None,
    policy: PromotionPolicy | None = None,
    holdout_fraction: float = 0.2,
    progress: ProgressCallback | None = None,
    now: datetime | None = None,
) -> RetrainResult:
    """Train a candidate and decide whether it replaces `current` (None: no model yet).

    `embeddings`, if given, has one row per example (in order) from the models' encoder.
    """
    config = config or TrainingConfig()
    examples = list(examples)
    sides = np.array([is_heldout(e.text, holdout_fraction) for e in examples], dtype=np.bool_)
    training = [e for e, held in zip(examples, sides, strict=True) if not held]
    heldout = [e for e, held in zip(examples, sides, strict=True) if held]
    train_rows = None if embeddings is None else embeddings[~sides]
    heldout_rows = None if embeddings is None else embeddings[sides]
    candidate = train(
        training,
        tree,
        encoder=encoder,
        encoder_name=encoder_name,
        embeddings=train_rows,
        config=config,
        progress=progress,
        now=now,
    )
    candidate_report = evaluate(
        candidate,
        heldout,
        tree,
        encoder=encoder,
        embeddings=heldout_rows,
        target_precision=config.target_precision,
    )
    current_report = None
    if current is not None:
        current_report = evaluate(
            current,
            heldout,
            tree,
            encoder=encoder,
            embeddings=heldout_rows,
            target_precision=config.target_precision,
        )
    decision = should_promote(candidate_report, current_report, policy)
    candidate = candidate.with_metrics(candidate_report.flat())
    return RetrainResult(candidate, candidate_report, current_report, decision)
