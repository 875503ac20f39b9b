"""Calibrating and combining the base scorers of a head.

The combined score of label k is `sum_b w_b * s_bk + c_k`: one weight per base model (how
much to trust it, and at which temperature) and one bias per label, fitted by minimising the
log loss on out-of-fold base scores. With so few parameters it calibrates without overfitting
small help desks, unlike a full stacking regression (labels x bases x labels weights).
A prior correction `- alpha * log(prior_k)` is then subtracted: alpha 0 maximises accuracy,
larger values trade it for recall of rare labels (macro-F1); `train` picks alpha on
out-of-fold predictions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize

from classifier.linear import LinearScorer

# SVM margins of labels a fold never saw are -1e4 (see LinearScorer); clip so that they stay
# the lowest score without dominating the fit.
SCORE_FLOOR = -10.0
BIAS_L2 = 1e-2


def stack_scores(blocks: Sequence[npt.NDArray[np.float32]]) -> npt.NDArray[np.float64]:
    """Base score blocks (each n x labels) as one array (bases x n x labels), clipped."""
    return np.maximum(np.stack([np.asarray(b, dtype=np.float64) for b in blocks]), SCORE_FLOOR)


def fit_combiner(
    scores: npt.NDArray[np.float64], y: npt.NDArray[np.int64], n_labels: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Weights (one per base) and biases (one per label) minimising the mean log loss."""
    n_bases, n_rows, _ = scores.shape
    onehot = np.zeros((n_rows, n_labels))
    onehot[np.arange(n_rows), y] = 1.0

    def loss_and_gradient(theta: npt.NDArray[np.float64]) -> tuple[float, npt.NDArray[np.float64]]:
        weights, bias = theta[:n_bases], theta[n_bases:]
        logits = np.tensordot(weights, scores, axes=1) + bias
        peak = logits.max(axis=1)
        normaliser = peak + np.log(np.exp(logits - peak[:, None]).sum(axis=1))
        loss = float((normaliser - logits[np.arange(n_rows), y]).mean())
        loss += BIAS_L2 * float(bias @ bias) / 2
        residual = (np.exp(logits - normaliser[:, None]) - onehot) / n_rows
        grad_weights = np.einsum("bnk,nk->b", scores, residual)
        grad_bias = residual.sum(axis=0) + BIAS_L2 * bias
        return loss, np.concatenate([grad_weights, grad_bias])

    start = np.concatenate([np.ones(n_bases), np.zeros(n_labels)])
    # BFGS: a few dozen parameters; L-BFGS-B's per-iteration overhead dominates at that size.
    result = minimize(loss_and_gradient, start, jac=True, method="BFGS")
    theta = np.asarray(result.x, dtype=np.float64)
    return theta[:n_bases], theta[n_bases:]


def combined_logits(
    scores: npt.NDArray[np.float64],
    weights: npt.NDArray[np.float64],
    bias: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """The combined scores before any prior correction."""
    logits: npt.NDArray[np.float64] = np.tensordot(weights, scores, axes=1) + bias
    return logits


def log_prior(y: npt.NDArray[np.int64], n_labels: int) -> npt.NDArray[np.float64]:
    """Log label frequencies, add-one smoothed."""
    counts = np.bincount(y, minlength=n_labels).astype(np.float64) + 1.0
    prior: npt.NDArray[np.float64] = np.log(counts / counts.sum())
    return prior


def as_scorer(
    weights: npt.NDArray[np.float64],
    bias: npt.NDArray[np.float64],
    correction: npt.NDArray[np.float64],
) -> LinearScorer:
    """The combiner as a linear scorer over the concatenated base scores.

    Concatenated blocks [s_1 | s_2 | ...] times a block row of `w_b * identity` give
    `sum_b w_b * s_b`; the intercept carries the biases and the prior correction. Clipping at
    `SCORE_FLOOR` is not linear, so the model applies it to base scores before this scorer.
    """
    n_labels = bias.size
    coef = np.hstack([weight * np.eye(n_labels) for weight in weights]).astype(np.float32)
    return LinearScorer(coef=coef, intercept=(bias - correction).astype(np.float32))
