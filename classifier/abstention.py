"""Choosing confidence thresholds for a target precision, and measuring coverage.

The classifier abstains (the ticket goes to triage) when its confidence in the predicted label
is below that label's threshold. Thresholds are chosen on out-of-fold predictions, never on the
examples a model was fitted to: the lowest confidence at which the predictions above it still
reach the target precision, which gives the largest coverage at that precision.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

# Above every probability: a label whose predictions never reach the target always abstains.
NEVER = 2.0


def precision_threshold(
    confidence: npt.NDArray[np.floating], correct: npt.NDArray[np.bool_], target: float
) -> float:
    """The lowest threshold t with precision(confidence >= t) >= target; `NEVER` if none.

    Only thresholds at distinct confidence values are considered, so tied predictions are
    accepted or refused together.
    """
    if confidence.size == 0:
        return NEVER
    order = np.argsort(-confidence, kind="stable")
    conf = confidence[order]
    hits = np.cumsum(correct[order])
    counts = np.arange(1, conf.size + 1)
    # Positions where the next confidence is lower: the ends of groups of ties.
    ends = np.flatnonzero(np.r_[conf[1:] < conf[:-1], True])
    precision = hits[ends] / counts[ends]
    good = ends[precision >= target]
    if good.size == 0:
        return NEVER
    return float(conf[good[-1]])


def coverage_at_precision(
    confidence: npt.NDArray[np.floating], correct: npt.NDArray[np.bool_], target: float
) -> float:
    """The largest share of predictions that can be kept with precision >= target.

    The point of the precision-coverage curve under one global confidence threshold; 0.0 when
    even the most confident predictions miss the target.
    """
    if confidence.size == 0:
        return 0.0
    threshold = precision_threshold(confidence, correct, target)
    if threshold > 1.0:
        return 0.0
    return float(np.mean(confidence >= threshold))


def class_thresholds(
    *,
    predicted: npt.NDArray[np.integer],
    confidence: npt.NDArray[np.floating],
    correct: npt.NDArray[np.bool_],
    n_labels: int,
    target: float,
    min_support: int,
) -> npt.NDArray[np.float32]:
    """A threshold per label, from the out-of-fold predictions of that label.

    A label predicted fewer than `min_support` times has too few predictions to estimate its
    precision; it gets the threshold of all predictions pooled.
    """
    pooled = precision_threshold(confidence, correct, target)
    thresholds = np.full(n_labels, pooled, dtype=np.float32)
    for label in range(n_labels):
        mine = predicted == label
        if int(mine.sum()) >= min_support:
            thresholds[label] = precision_threshold(confidence[mine], correct[mine], target)
    return thresholds
