"""The trained model: TF-IDF features, per-target linear heads, calibrated by a stacker.

Each target (category, subcategory, impact, urgency) has its own head: linear base scorers
(an SVM on word+character TF-IDF, an SVM on word TF-IDF, logistic regression on the sentence
embeddings when an encoder was used) whose scores a multinomial logistic regression, fitted on
out-of-fold scores, turns into calibrated probabilities. Built by `classifier.training`,
stored by `classifier.storage`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

import numpy as np
import numpy.typing as npt
from scipy import sparse

from classifier.combiner import SCORE_FLOOR
from classifier.encoder import TextEncoder, encode_checked, normalise_rows
from classifier.errors import EncoderMismatchError
from classifier.features import MAX_TEXT_CHARS, TextFeatures, clean_text
from classifier.labels import Target
from classifier.linear import LinearScorer
from classifier.predictor import TargetProbabilities


class FeatureSet(StrEnum):
    """The input a base scorer reads."""

    TFIDF = "tfidf"
    WORDS = "words"
    EMBEDDING = "embedding"


@dataclass(frozen=True)
class BaseScorer:
    """One base model of a head: which features it reads and its weights."""

    features: FeatureSet
    scorer: LinearScorer


@dataclass(frozen=True)
class TargetHead:
    """Everything that predicts one target."""

    target: Target
    labels: tuple[str, ...]
    bases: tuple[BaseScorer, ...]
    stacker: LinearScorer
    thresholds: npt.NDArray[np.float32]


@dataclass(frozen=True)
class ModelMetadata:
    """What a help desk (and the promotion rule) wants to know about a model version."""

    version: str
    trained_at: str
    n_examples: int
    label_sets: Mapping[str, tuple[str, ...]]
    metrics: Mapping[str, float] = field(default_factory=dict)
    embedding_dim: int = 0
    encoder_name: str = ""
    seed: int = 0
    target_precision: float = 0.9
    tree_fingerprint: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "label_sets", MappingProxyType(dict(self.label_sets)))
        object.__setattr__(self, "metrics", MappingProxyType(dict(self.metrics)))


def embedding_text(text: str) -> str:
    """The text given to the encoder for a ticket (capped like the TF-IDF text)."""
    return text[:MAX_TEXT_CHARS]


class TrainedModel:
    """A trained, immutable classifier model (implements `Predictor`)."""

    def __init__(
        self,
        features: TextFeatures,
        heads: Mapping[Target, TargetHead],
        metadata: ModelMetadata,
    ) -> None:
        self.features = features
        self.heads = MappingProxyType(dict(heads))
        self.metadata = metadata
        self._n_word = len(features.states[0].terms) if features.states else 0

    @property
    def version(self) -> str:
        return self.metadata.version

    @property
    def needs_encoder(self) -> bool:
        return self.metadata.embedding_dim > 0

    def targets(self) -> frozenset[Target]:
        return frozenset(self.heads)

    def with_metrics(self, metrics: Mapping[str, float]) -> TrainedModel:
        """The same model with more metrics recorded (held-out figures after evaluation)."""
        merged = {**self.metadata.metrics, **metrics}
        meta = self.metadata
        updated = ModelMetadata(
            version=meta.version,
            trained_at=meta.trained_at,
            n_examples=meta.n_examples,
            label_sets=meta.label_sets,
            metrics=merged,
            embedding_dim=meta.embedding_dim,
            encoder_name=meta.encoder_name,
            seed=meta.seed,
            target_precision=meta.target_precision,
            tree_fingerprint=meta.tree_fingerprint,
        )
        return TrainedModel(self.features, self.heads, updated)

    def feature_matrices(
        self,
        texts: Sequence[str],
        *,
        encoder: TextEncoder | None = None,
        embeddings: npt.NDArray[np.float32] | None = None,
    ) -> dict[FeatureSet, npt.NDArray[np.float32] | sparse.csr_matrix]:
        """The inputs of every base scorer for a batch of texts."""
        tfidf = self.features.transform([clean_text(text) for text in texts])
        matrices: dict[FeatureSet, npt.NDArray[np.float32] | sparse.csr_matrix] = {
            FeatureSet.TFIDF: tfidf,
            FeatureSet.WORDS: tfidf[:, : self._n_word],
        }
        if self.needs_encoder:
            matrices[FeatureSet.EMBEDDING] = self._embeddings(texts, encoder, embeddings)
        return matrices

    def _embeddings(
        self,
        texts: Sequence[str],
        encoder: TextEncoder | None,
        embeddings: npt.NDArray[np.float32] | None,
    ) -> npt.NDArray[np.float32]:
        if embeddings is None:
            if encoder is None:
                raise EncoderMismatchError(
                    f"model {self.version} uses sentence embeddings; pass an encoder"
                )
            embeddings = encode_checked(encoder, [embedding_text(text) for text in texts])
        if embeddings.shape != (len(texts), self.metadata.embedding_dim):
            raise EncoderMismatchError(
                f"model {self.version} expects embeddings of dimension "
                f"{self.metadata.embedding_dim}, got shape {embeddings.shape}"
            )
        return normalise_rows(embeddings)

    def predict(
        self,
        texts: Sequence[str],
        target: Target,
        *,
        encoder: TextEncoder | None = None,
        embeddings: npt.NDArray[np.float32] | None = None,
    ) -> TargetProbabilities | None:
        head = self.heads.get(target)
        if head is None:
            return None
        matrices = self.feature_matrices(texts, encoder=encoder, embeddings=embeddings)
        return self.predict_from(matrices, head)

    @staticmethod
    def predict_from(
        matrices: Mapping[FeatureSet, npt.NDArray[np.float32] | sparse.csr_matrix],
        head: TargetHead,
    ) -> TargetProbabilities:
        """Probabilities of one head from precomputed feature matrices."""
        blocks = [base.scorer.scores(matrices[base.features]) for base in head.bases]
        meta = np.maximum(np.hstack(blocks), SCORE_FLOOR).astype(np.float32)
        logits = head.stacker.scores(meta).astype(np.float64)
        return TargetProbabilities(
            labels=head.labels,
            logits=logits,
            thresholds=head.thresholds,
            abstain=np.zeros(logits.shape[0], dtype=np.bool_),
        )
