"""Fixtures of the knowledge tests: one real model per session (tests marked `model`) and a
small deterministic stand-in encoder for everything else."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np
import pytest

from knowledge.embeddings import (
    EmbeddingConfig,
    FloatMatrix,
    InMemoryEmbeddingCache,
    SentenceTransformerEncoder,
    default_model_path,
    normalise_rows,
)

# Words that mean the same thing map to one concept; the stand-in "dense" model sees concepts,
# never the exact strings (error codes are invisible to it), like a sentence model that blurs
# identifiers but knows synonyms.
CONCEPTS = {
    "vpn": "vpn",
    "tunnel": "vpn",
    "remote": "vpn",
    "anyconnect": "vpn",
    "password": "password",
    "passphrase": "password",
    "credentials": "password",
    "reset": "reset",
    "forgot": "reset",
    "forgotten": "reset",
    "change": "reset",
    "printer": "printer",
    "print": "printer",
    "printing": "printer",
    "toner": "printer",
    "mail": "mail",
    "email": "mail",
    "outlook": "mail",
    "mailbox": "mail",
    "inbox": "mail",
    "full": "quota",
    "quota": "quota",
    "storage": "quota",
    "space": "quota",
    "slow": "slow",
    "sluggish": "slow",
    "lag": "slow",
    "performance": "slow",
    "laptop": "computer",
    "pc": "computer",
    "computer": "computer",
    "notebook": "computer",
    "database": "database",
    "oracle": "database",
    "listener": "database",
    "sql": "database",
    "connect": "connect",
    "connection": "connect",
    "connecting": "connect",
    "login": "connect",
    "wifi": "wifi",
    "wireless": "wifi",
    "wlan": "wifi",
    "certificate": "certificate",
    "ssl": "certificate",
    "tls": "certificate",
    "expired": "expired",
    "expiry": "expired",
    "outdated": "expired",
    "install": "install",
    "installation": "install",
    "setup": "install",
    "error": "error",
    "fails": "error",
    "failure": "error",
    "failed": "error",
}
_WORD = re.compile(r"[a-z]+")


def _slot(concept: str, dimension: int) -> int:
    return int(hashlib.sha256(concept.encode()).hexdigest(), 16) % dimension


class ConceptEncoder:
    """Bag of concepts as a unit vector: deterministic, instant, synonym-aware."""

    def __init__(self, dimension: int = 64) -> None:
        self.dimension = dimension
        self.calls = 0

    @property
    def model_key(self) -> str:
        return "concepts"

    def encode(self, texts: Sequence[str]) -> FloatMatrix:
        self.calls += len(texts)
        rows = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.casefold()):
                concept = CONCEPTS.get(word)
                if concept:
                    rows[row, _slot(concept, self.dimension)] += 1.0
            rows[row, self.dimension - 1] += 0.05  # no all-zero rows
        return normalise_rows(rows)


@pytest.fixture
def concept_encoder() -> ConceptEncoder:
    return ConceptEncoder()


@pytest.fixture(scope="session")
def real_encoder() -> SentenceTransformerEncoder:
    """all-MiniLM-L6-v2, loaded once per session (tests using it are marked `model`)."""
    config = EmbeddingConfig(model_path=default_model_path())
    encoder = SentenceTransformerEncoder(config, InMemoryEmbeddingCache())
    encoder.model()
    return encoder
