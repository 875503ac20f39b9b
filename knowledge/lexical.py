"""Lexical side of the matcher: tokenisation and a BM25 index over passages (bm25s).

The matcher (`knowledge.matcher`) fuses this ranking with the dense one. Lexical matching
earns its place on the exact strings that a sentence model blurs: error codes and identifiers
(`CWSIA0241E`, `0x80070005`, `ORA-12514`, `java.lang.OutOfMemoryError`), product and file
names. The tokeniser therefore keeps such compounds whole *and* emits their parts, so that
`ora-12514` in an article matches both "ORA-12514" and "ora 12514" in a ticket.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

# Lucene's English stop list (the one bm25s ships as "en"); short on purpose: BM25's idf already
# discounts common words, the list only drops words that never carry meaning.
_STOP_LIST = (
    "a an and are as at be but by for if in into is it no not of on or such that the their "
    "then there these they this to was will with"
)
ENGLISH_STOPWORDS: frozenset[str] = frozenset(_STOP_LIST.split())

# A compound: word characters joined by '.', '-' or '_' (\w already holds '_'), such as
# 0x80070005, ora-12514, java.lang.NullPointerException, MQRC_CLUSTER_RESOLUTION_ERROR, 8.5.5.9.
_COMPOUND = re.compile(r"\w+(?:[.\-]\w+)*")
_JOINERS = re.compile(r"[._\-]+")


@dataclass(frozen=True)
class LexicalConfig:
    """BM25 and tokeniser settings (defaults chosen by cross-validation, decision 0052)."""

    k1: float = 1.2
    b: float = 0.75
    stopwords: frozenset[str] = field(default=ENGLISH_STOPWORDS)
    # A ticket can paste a whole log; the first tokens carry the subject and the first error,
    # and the cap bounds the cost of scoring a hostile mail.
    max_query_tokens: int = 1024
    max_token_chars: int = 64
    # An identifier in a ticket (error code, version, dotted class name) counts this many
    # times: it is the most specific evidence a ticket carries (TechQA dev MRR, fused:
    # 0.696 with 1, 0.709 with 2, 0.707 with 3; other sets unchanged).
    identifier_weight: int = 2


def tokenize(
    text: str,
    stopwords: frozenset[str] = ENGLISH_STOPWORDS,
    max_token_chars: int = 64,
) -> list[str]:
    """Lower-cased tokens of `text`: compounds whole plus their parts, stop words dropped.

    Tokens (and parts) shorter than two characters are dropped: a lone letter or digit
    ("8" of 8.5.5.9) matches everywhere and says nothing.
    """
    tokens: list[str] = []
    for match in _COMPOUND.finditer(text.casefold()):
        compound = match.group().strip("_")
        if not compound:
            continue
        parts = [part for part in _JOINERS.split(compound) if part]
        if len(parts) > 1 and len(compound) <= max_token_chars:
            tokens.append(compound)
        for part in parts:
            if len(part) >= 2 and part not in stopwords and len(part) <= max_token_chars:
                tokens.append(part)
    return tokens


def is_identifier(token: str) -> bool:
    """A token that names one thing: letters mixed with digits (``cwsia0241e``,
    ``0x80070005``) or a joined compound (``ora-12514``, ``java.lang.outofmemoryerror``)."""
    if any(joiner in token for joiner in ".-_"):
        return True
    return any(char.isdigit() for char in token) and any(char.isalpha() for char in token)


def tokenize_many(
    texts: Iterable[str], stopwords: frozenset[str] = ENGLISH_STOPWORDS, max_token_chars: int = 64
) -> list[list[str]]:
    return [tokenize(text, stopwords, max_token_chars) for text in texts]


class LexicalIndex:
    """BM25 over a fixed list of passages; scores every passage for a query.

    Scoring all passages (not only a top-k) is what the fusion needs: the dense side's
    candidates must be scored lexically too. bm25s keeps the index as a sparse matrix of
    precomputed term scores, so a query costs one sparse row sum per query token.
    """

    def __init__(self, token_lists: Sequence[Sequence[str]], config: LexicalConfig) -> None:
        # Lazy: processes that never match (the SMTP front end) need not import bm25s.
        import bm25s  # noqa: PLC0415

        self._config = config
        self._size = len(token_lists)
        self._bm25: bm25s.BM25 | None = None
        self._vocabulary: dict[str, int] = {}
        if self._size and any(token_lists):
            # bm25s needs at least one token per document; an empty passage gets a token that
            # no query can produce, so it scores 0 and keeps its row.
            corpus = [list(tokens) if tokens else ["\x00empty"] for tokens in token_lists]
            bm25 = bm25s.BM25(k1=config.k1, b=config.b, method="lucene")
            bm25.index(corpus, show_progress=False)
            self._bm25 = bm25
            self._vocabulary = {str(k): int(v) for k, v in bm25.vocab_dict.items()}

    @classmethod
    def from_texts(cls, texts: Sequence[str], config: LexicalConfig) -> LexicalIndex:
        return cls(tokenize_many(texts, config.stopwords, config.max_token_chars), config)

    def __len__(self) -> int:
        return self._size

    @property
    def config(self) -> LexicalConfig:
        return self._config

    def query_tokens(self, text: str) -> list[str]:
        """The query's tokens as this index scores them (capped, see `LexicalConfig`)."""
        tokens = tokenize(text, self._config.stopwords, self._config.max_token_chars)
        return tokens[: self._config.max_query_tokens]

    def scores_for_tokens(self, tokens: Sequence[str]) -> npt.NDArray[np.float32]:
        """BM25 score of every document (0 where no token matches); repeated tokens add up,
        identifiers count `identifier_weight` times."""
        if self._bm25 is None:
            return np.zeros(self._size, dtype=np.float32)
        ids: list[int] = []
        for token in tokens:
            token_id = self._vocabulary.get(token)
            if token_id is not None:
                repeat = self._config.identifier_weight if is_identifier(token) else 1
                ids.extend([token_id] * max(1, repeat))
        if not ids:
            return np.zeros(self._size, dtype=np.float32)
        scores = self._bm25.get_scores_from_ids(ids)
        return np.asarray(scores, dtype=np.float32)

    def scores(self, text: str) -> npt.NDArray[np.float32]:
        return self.scores_for_tokens(self.query_tokens(text))
