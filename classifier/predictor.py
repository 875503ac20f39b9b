"""What every model offers the rest of the classifier: label probabilities per target.

Both the zero-shot model (no training data) and the trained model implement `Predictor`;
`classify`, `evaluate` and promotion work with either, so a first trained model is compared with
the zero-shot one it replaces on the same held-out tickets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from classifier.encoder import TextEncoder
from classifier.labels import Target


@dataclass(frozen=True)
class TargetProbabilities:
    """Label scores of one target for a batch of texts; a softmax makes them probabilities.

    Kept as logits so that removing labels (no longer in the tree, not under the chosen
    category) renormalises exactly, even where the removed label had all the mass.
    `thresholds[j]` is the confidence below which a prediction of label j abstains;
    `abstain` marks texts the model refuses whatever the scores say (zero-shot: nothing in the
    tree resembles the text).
    """

    labels: tuple[str, ...]
    logits: npt.NDArray[np.float64]
    thresholds: npt.NDArray[np.float32]
    abstain: npt.NDArray[np.bool_]

    @property
    def probabilities(self) -> npt.NDArray[np.float64]:
        """Row-wise softmax of the logits."""
        shifted = self.logits - self.logits.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        result: npt.NDArray[np.float64] = exp / exp.sum(axis=1, keepdims=True)
        return result


class Predictor(Protocol):
    """A model that gives label probabilities for texts."""

    @property
    def version(self) -> str:
        """A stable identifier of this model's content."""
        ...

    @property
    def needs_encoder(self) -> bool:
        """True when `predict` needs sentence embeddings (an encoder or precomputed rows)."""
        ...

    def targets(self) -> frozenset[Target]:
        """The targets this model predicts."""
        ...

    def predict(
        self,
        texts: Sequence[str],
        target: Target,
        *,
        encoder: TextEncoder | None = None,
        embeddings: npt.NDArray[np.float32] | None = None,
    ) -> TargetProbabilities | None:
        """Probabilities for one target, or None when this model does not predict it."""
        ...
