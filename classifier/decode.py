"""From label probabilities to decisions: keep to the tree, pick, abstain.

Shared by `classify` (one ticket) and `evaluate` (a held-out batch), so what is measured is
what runs. Probabilities of labels that are not allowed (no longer in the tree, or not a child
of the chosen category) are removed and the rest renormalised before the best label is taken.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from classifier.predictor import TargetProbabilities


@dataclass(frozen=True)
class Decisions:
    """Per text: the chosen label (None when no label is allowed), confidence, abstention."""

    labels: tuple[str | None, ...]
    confidence: npt.NDArray[np.float32]
    abstained: npt.NDArray[np.bool_]


def decide(
    probabilities: TargetProbabilities,
    allowed: Sequence[frozenset[str] | None],
) -> Decisions:
    """Pick the best allowed label of each row; `allowed[i]` None means every label is allowed."""
    labels = probabilities.labels
    chosen: list[str | None] = []
    confidence = np.zeros(len(allowed), dtype=np.float32)
    abstained = np.ones(len(allowed), dtype=np.bool_)
    for row, permitted in enumerate(allowed):
        logits = probabilities.logits[row].astype(np.float64)
        if permitted is not None:
            mask = np.array([label in permitted for label in labels], dtype=np.bool_)
            if not mask.any():
                chosen.append(None)
                continue
            logits = np.where(mask, logits, -np.inf)
        best = int(np.argmax(logits))
        # The softmax of the best label among the allowed ones.
        confidence[row] = 1.0 / float(np.exp(logits - logits[best]).sum())
        chosen.append(labels[best])
        abstained[row] = bool(probabilities.abstain[row]) or bool(
            confidence[row] < probabilities.thresholds[best]
        )
    return Decisions(tuple(chosen), confidence, abstained)
