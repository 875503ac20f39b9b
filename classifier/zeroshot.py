"""Zero-shot classification from the category descriptions (cold start, no labelled tickets).

The ticket and every node's "name: description" are embedded by the injected encoder; a
category's score is its best cosine similarity: its own description or any of its
subcategories' (people describe symptoms, which subcategory descriptions name more often).
Scores become probabilities by a softmax with a temperature. With no data there is nothing to
calibrate on, so abstention uses fixed settings: a floor on the best similarity (text that
resembles no category at all) and a floor on the probability of the chosen label.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from classifier.encoder import TextEncoder, encode_checked, normalise_rows
from classifier.errors import EncoderMismatchError
from classifier.labels import Target
from classifier.model import embedding_text
from classifier.predictor import TargetProbabilities
from classifier.tree import CategoryTree


@dataclass(frozen=True, slots=True)
class ZeroShotConfig:
    """Settings of the zero-shot model.

    `temperature` scales cosine similarities before the softmax (similarities of sentence
    embeddings differ by a few hundredths between related topics, so a small temperature);
    below `min_similarity` the text is out of domain; below `min_confidence` the chosen label
    is too uncertain. Both abstain.
    """

    temperature: float = 0.05
    min_similarity: float = 0.15
    min_confidence: float = 0.5


class ZeroShotModel:
    """Category and subcategory from description embeddings (implements `Predictor`)."""

    def __init__(
        self,
        tree: CategoryTree,
        encoder: TextEncoder,
        *,
        encoder_name: str = "",
        config: ZeroShotConfig | None = None,
    ) -> None:
        self.tree = tree
        self.config = config or ZeroShotConfig()
        self._encoder = encoder
        self._categories = tuple(node.key for node in tree.top_level())
        self._subcategories = tuple(node.key for node in tree.subcategories())
        nodes = list(tree)
        profiles = encode_checked(encoder, [node.profile for node in nodes])
        self._dim = int(profiles.shape[1])
        row = {node.key: number for number, node in enumerate(nodes)}
        self._category_rows = profiles[[row[key] for key in self._categories]]
        self._sub_rows = profiles[[row[key] for key in self._subcategories]]
        # For each category, which subcategory rows also speak for it.
        self._sub_owner = np.array(
            [self._categories.index(str(tree.get(key).parent)) for key in self._subcategories],
            dtype=np.int64,
        )
        digest = hashlib.sha256(
            f"{tree.fingerprint()}\0{encoder_name}\0{self.config}".encode()
        ).hexdigest()
        self._version = f"zeroshot-{digest[:16]}"

    @property
    def version(self) -> str:
        return self._version

    @property
    def needs_encoder(self) -> bool:
        return True

    def targets(self) -> frozenset[Target]:
        found = {Target.CATEGORY} if self._categories else set()
        if self._subcategories:
            found.add(Target.SUBCATEGORY)
        return frozenset(found)

    def similarities(
        self, embeddings: npt.NDArray[np.float32]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """Cosine similarities to the categories (best of own and children's) and subcategories."""
        own = embeddings @ self._category_rows.T
        subs = embeddings @ self._sub_rows.T if self._subcategories else np.zeros((len(own), 0))
        best = own.copy()
        for column, owner in enumerate(self._sub_owner):
            np.maximum(best[:, owner], subs[:, column], out=best[:, owner])
        return best.astype(np.float32), subs.astype(np.float32)

    def predict(
        self,
        texts: Sequence[str],
        target: Target,
        *,
        encoder: TextEncoder | None = None,
        embeddings: npt.NDArray[np.float32] | None = None,
    ) -> TargetProbabilities | None:
        if target not in self.targets():
            return None
        if embeddings is None:
            embeddings = encode_checked(
                encoder or self._encoder, [embedding_text(text) for text in texts]
            )
        if embeddings.shape != (len(texts), self._dim):
            raise EncoderMismatchError(
                f"expected embeddings of shape ({len(texts)}, {self._dim}), got {embeddings.shape}"
            )
        categories, subcategories = self.similarities(normalise_rows(embeddings))
        scores = categories if target is Target.CATEGORY else subcategories
        labels = self._categories if target is Target.CATEGORY else self._subcategories
        out_of_domain = categories.max(axis=1) < self.config.min_similarity
        return TargetProbabilities(
            labels=labels,
            logits=scores.astype(np.float64) / self.config.temperature,
            thresholds=np.full(len(labels), self.config.min_confidence, dtype=np.float32),
            abstain=out_of_domain,
        )
