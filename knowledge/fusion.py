"""Score fusion and confidence: how the matcher combines its rankings and says how sure it is.

Pure numpy functions and small value types used by `knowledge.matcher`. The dense cosine is the
backbone; BM25 adds evidence scaled to [0, 1] per query (divided by the best lexical score) and
weighted by how much lexical evidence the query can carry: a one-line paraphrase shares a few
words with its article at best, a pasted error log shares its error codes exactly. Convex score
fusion of this kind beats reciprocal rank fusion when one ranker is much weaker on some data
(decision 0053; `bench/matcher_eval.py` compares both).

The confidence is a logistic model over features of a ranked list that mean the same on any
knowledge base: the fused score and its lead over the next candidates. Its coefficients ship
with defaults fitted on the development data of three public sets and can be refitted on a
help desk's own outcomes (accepted and rejected suggestions) with `ConfidenceModel.fit`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class FusionConfig:
    """Weights of the fused score (chosen by cross-validation, decision 0053)."""

    # Weight of the per-query normalised BM25 score next to the cosine.
    lexical_weight: float = 0.25
    # The lexical weight reaches its full value at this many query tokens (after stop words).
    lexical_saturation_tokens: int = 20


def lexical_share(n_query_tokens: int, config: FusionConfig) -> float:
    """The weight of lexical evidence for a query of `n_query_tokens` tokens."""
    if config.lexical_saturation_tokens <= 0:
        return config.lexical_weight
    return config.lexical_weight * min(1.0, n_query_tokens / config.lexical_saturation_tokens)


def normalise_by_max(scores: FloatArray) -> FloatArray:
    """Scores divided by the best one (all zero stays zero): BM25 has no fixed scale."""
    best = float(scores.max()) if scores.size else 0.0
    if best <= 0.0:
        return np.zeros_like(scores, dtype=np.float32)
    return np.asarray(scores / best, dtype=np.float32)


def fuse_scores(dense: FloatArray, lexical: FloatArray, share: float) -> FloatArray:
    """Cosine plus the weighted, max-normalised lexical score."""
    return np.asarray(dense + share * normalise_by_max(lexical), dtype=np.float32)


def reciprocal_rank_fusion(rankings: Sequence[FloatArray], k: int = 60) -> FloatArray:
    """Plain RRF (Cormack et al. 2009) over full score arrays; kept for comparison."""
    if not rankings:
        raise ValueError("nothing to fuse")
    fused = np.zeros_like(rankings[0], dtype=np.float64)
    for scores in rankings:
        order = np.argsort(-scores, kind="stable")
        ranks = np.empty_like(order)
        ranks[order] = np.arange(1, order.size + 1)
        fused += 1.0 / (k + ranks)
    return np.asarray(fused, dtype=np.float32)


@dataclass(frozen=True)
class ConfidenceFeatures:
    """What the confidence model reads about one suggestion in its ranked list.

    `score` is the fused score, `behind_best` how far it trails the first suggestion (0 for the
    first), `lead` how far it is ahead of the mean of the next two candidates. Stored with a
    suggestion, these let the model be refitted later from the suggestion's outcome.
    """

    score: float
    behind_best: float
    lead: float

    def as_row(self) -> list[float]:
        return [self.score, self.behind_best, self.lead]

    def to_dict(self) -> dict[str, float]:
        return {"score": self.score, "behind_best": self.behind_best, "lead": self.lead}

    @classmethod
    def from_dict(cls, data: dict[str, float]) -> ConfidenceFeatures:
        return cls(float(data["score"]), float(data["behind_best"]), float(data["lead"]))


def ranked_features(sorted_scores: FloatArray, count: int) -> list[ConfidenceFeatures]:
    """Features of the first `count` entries of a best-first score list.

    The lead compares with the next two scores (or with 0 when the list runs out, which reads
    as "nothing else came close").
    """
    scores = [float(value) for value in sorted_scores]
    features: list[ConfidenceFeatures] = []
    if not scores:
        return features
    best = scores[0]
    for position in range(min(count, len(scores))):
        following = scores[position + 1 : position + 3]
        baseline = sum(following) / len(following) if following else 0.0
        features.append(
            ConfidenceFeatures(
                scores[position], best - scores[position], scores[position] - baseline
            )
        )
    return features


@dataclass(frozen=True)
class ConfidenceModel:
    """P(suggestion is right | features) = logistic(intercept + weights . features).

    The defaults are the pooled fit on the three development sets (`bench/matcher_eval.py
    --calibrate-all`, decision 0055). How well it orders suggestions transfers between
    knowledge bases; the absolute level depends on how many tickets a knowledge base can
    answer at all, so a help desk should refit on its own outcomes once a few hundred
    suggestions have been judged.
    """

    intercept: float = -5.17
    score_weight: float = 4.94
    behind_best_weight: float = -8.57
    lead_weight: float = 8.94

    def probability(self, features: ConfidenceFeatures) -> float:
        z = (
            self.intercept
            + self.score_weight * features.score
            + self.behind_best_weight * features.behind_best
            + self.lead_weight * features.lead
        )
        # Numerically safe logistic.
        if z >= 0:
            return 1.0 / (1.0 + math.exp(-z))
        exp_z = math.exp(z)
        return exp_z / (1.0 + exp_z)

    @classmethod
    def fit(
        cls,
        features: Sequence[ConfidenceFeatures],
        labels: Sequence[bool],
        *,
        regularisation: float = 1.0,
        sample_weight: Sequence[float] | None = None,
    ) -> ConfidenceModel:
        """Fit on judged suggestions (True = the article was right for the ticket).

        `regularisation` is the inverse strength C of scikit-learn's L2 logistic regression.
        """
        if len(features) != len(labels):
            raise ValueError("features and labels differ in length")
        if len(set(labels)) < 2:
            raise ValueError("need both right and wrong suggestions to fit a confidence model")
        from sklearn.linear_model import LogisticRegression  # noqa: PLC0415 - only for refits

        matrix = np.asarray([item.as_row() for item in features], dtype=np.float64)
        model = LogisticRegression(C=regularisation, max_iter=1000)
        model.fit(matrix, np.asarray(labels, dtype=bool), sample_weight=sample_weight)
        weights = [float(value) for value in model.coef_[0]]
        return cls(float(model.intercept_[0]), weights[0], weights[1], weights[2])


# The "does anything fit" model: fitted on first suggestions only, where `behind_best` is 0.
DEFAULT_FIT_CONFIDENCE = ConfidenceModel(
    intercept=-2.68, score_weight=2.69, behind_best_weight=0.0, lead_weight=7.72
)
