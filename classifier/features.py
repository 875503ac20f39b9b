"""Text features for the trained model: TF-IDF over word and character n-grams.

Word n-grams carry the vocabulary of a help desk ("vpn", "password reset"); character n-grams
inside word boundaries survive typos, inflection, compounds ("Druckerwarteschlange") and the
ticket numbers and host names of raw mail. The fitted state is kept as plain arrays (the terms
and their idf weights), so a stored model never depends on pickling scikit-learn objects.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

# A ticket is rarely longer; the rest of a long mail (quoted threads, logs) adds noise and time.
MAX_TEXT_CHARS = 8_000

# Mail text is full of addresses, links and long numbers whose exact value never repeats; each
# becomes one placeholder word so that "an address was here" can still count.
_EMAIL = re.compile(r"\b[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})+\b")
_URL = re.compile(r"\bhttps?://\S{1,2000}")
_NUMBER = re.compile(r"\b\d[\d.,:/-]{4,}\b")


def clean_text(text: str) -> str:
    """The text the features and embeddings see: capped, placeholders for volatile tokens."""
    text = text[:MAX_TEXT_CHARS]
    text = _EMAIL.sub(" emailaddress ", text)
    text = _URL.sub(" weblink ", text)
    return _NUMBER.sub(" longnumber ", text)


@dataclass(frozen=True, slots=True)
class FeatureConfig:
    """How the TF-IDF features are built."""

    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 5)
    use_chars: bool = True
    min_df: int = 2
    max_word_features: int = 100_000
    max_char_features: int = 100_000


@dataclass(frozen=True)
class VectoriserState:
    """A fitted vectoriser as data: its analyzer settings, terms and idf weights."""

    analyzer: str
    ngram_range: tuple[int, int]
    terms: tuple[str, ...]
    idf: npt.NDArray[np.float32]

    def build(self) -> TfidfVectorizer:
        """A scikit-learn vectoriser that transforms exactly as the fitted one did."""
        vectoriser = TfidfVectorizer(
            analyzer=self.analyzer,
            ngram_range=self.ngram_range,
            sublinear_tf=True,
            lowercase=True,
            dtype=np.float32,
            vocabulary={term: index for index, term in enumerate(self.terms)},
        )
        vectoriser.idf_ = self.idf.astype(np.float64)
        return vectoriser


def _vectoriser(analyzer: str, ngrams: tuple[int, int], min_df: int, cap: int) -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer=analyzer,
        ngram_range=ngrams,
        min_df=min_df,
        max_features=cap,
        sublinear_tf=True,
        lowercase=True,
        dtype=np.float32,
    )


def _state(vectoriser: TfidfVectorizer, analyzer: str, ngrams: tuple[int, int]) -> VectoriserState:
    vocabulary: dict[str, int] = vectoriser.vocabulary_
    terms = [""] * len(vocabulary)
    for term, index in vocabulary.items():
        terms[index] = term
    return VectoriserState(
        analyzer=analyzer,
        ngram_range=ngrams,
        terms=tuple(terms),
        idf=np.asarray(vectoriser.idf_, dtype=np.float32),
    )


class TextFeatures:
    """Fitted TF-IDF feature extraction (word, optionally character n-grams)."""

    def __init__(self, states: Sequence[VectoriserState]) -> None:
        self.states = tuple(states)
        self._vectorisers = [state.build() for state in self.states]

    @classmethod
    def fit_transform(
        cls, texts: Sequence[str], config: FeatureConfig
    ) -> tuple[TextFeatures, sparse.csr_matrix]:
        """Learn vocabularies and idf weights from training texts (already cleaned); with them,
        the texts' matrix exactly as `transform` would give it.

        One pass over the texts instead of two: analysing character n-grams is the slow part
        of building features, and training needs both the vocabulary and the matrix.
        """
        # A small training set may have no term in two documents; fall back to min_df=1.
        min_df = config.min_df if len(texts) >= 4 * config.min_df else 1
        specs = [("word", config.word_ngrams, config.max_word_features)]
        if config.use_chars:
            specs.append(("char_wb", config.char_ngrams, config.max_char_features))
        states = []
        blocks = []
        for analyzer, ngrams, cap in specs:
            vectoriser = _vectoriser(analyzer, ngrams, min_df, cap)
            try:
                blocks.append(vectoriser.fit_transform(texts))
            except ValueError:
                # Every term pruned (tiny or empty texts): keep all terms instead.
                vectoriser = _vectoriser(analyzer, ngrams, 1, cap)
                blocks.append(vectoriser.fit_transform([*texts, "empty"])[: len(texts)])
            states.append(_state(vectoriser, analyzer, ngrams))
        matrix = sparse.hstack(blocks, format="csr", dtype=np.float32)
        return cls(states), matrix

    @property
    def n_features(self) -> int:
        return sum(len(state.terms) for state in self.states)

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """One L2-normalised row block per vectoriser, side by side."""
        blocks = [vectoriser.transform(texts) for vectoriser in self._vectorisers]
        return sparse.hstack(blocks, format="csr", dtype=np.float32)
