"""Linear scorers as plain arrays: what every fitted part of the trained model reduces to.

The base classifiers (linear SVMs on TF-IDF, logistic regression on embeddings) and the
stacker that calibrates them are all linear, so a stored model is weights and intercepts, not
pickled scikit-learn objects: safe to load from the database and stable across library upgrades.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias, cast

import numpy as np
import numpy.typing as npt
from scipy import sparse

Matrix: TypeAlias = npt.NDArray[np.float32] | sparse.csr_matrix


@dataclass(frozen=True)
class LinearScorer:
    """Scores for every label of a target: `x @ coef.T + intercept`, one column per label."""

    coef: npt.NDArray[np.float32]
    intercept: npt.NDArray[np.float32]

    @classmethod
    def from_estimator(cls, estimator: Any, n_labels: int, *, halve_binary: bool) -> LinearScorer:
        """Expand a fitted scikit-learn linear model to a column for each of `n_labels` labels.

        Labels the estimator never saw (absent from a cross-validation fold) get a row of zero
        weights and a very low intercept, so they are never the best score. A binary estimator
        has one weight row `w` for its second class; it becomes the rows `-w`, `w` (SVM margins)
        or `-w/2`, `w/2` (`halve_binary`, logistic regression: a softmax over those two equals
        the sigmoid the model was fitted with).
        """
        classes = np.asarray(estimator.classes_, dtype=np.int64)
        weights = np.atleast_2d(np.asarray(estimator.coef_, dtype=np.float32))
        bias = np.asarray(estimator.intercept_, dtype=np.float32).reshape(-1)
        if len(classes) == 2 and weights.shape[0] == 1:
            scale = 0.5 if halve_binary else 1.0
            weights = np.vstack([-weights[0] * scale, weights[0] * scale])
            bias = np.array([-bias[0] * scale, bias[0] * scale], dtype=np.float32)
        coef = np.zeros((n_labels, weights.shape[1]), dtype=np.float32)
        intercept = np.full(n_labels, -1e4, dtype=np.float32)
        coef[classes] = weights
        intercept[classes] = bias
        return cls(coef=coef, intercept=intercept)

    def scores(self, features: Matrix) -> npt.NDArray[np.float32]:
        """One row of label scores per row of features."""
        product: npt.NDArray[np.float32] = np.asarray(features @ self.coef.T, dtype=np.float32)
        return product + self.intercept


def softmax(scores: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Row-wise softmax, stable for large scores."""
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return cast(
        "npt.NDArray[np.float32]", (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)
    )
