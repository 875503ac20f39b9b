"""The hybrid matcher: suggests knowledge-base articles for a ticket, with reasons.

Sits at the end of the knowledge package. The application's suggest stage calls
`Matcher.search` with the ticket text (and the classifier's predicted category); agents'
verdicts and requesters' "solved" replies come back through `Matcher.add_example`.

Per query:

1. the ticket is embedded once (`knowledge.embeddings`) and tokenised (`knowledge.lexical`);
2. dense: the cosine of every passage (exact, or IVF candidates above a size threshold,
   `knowledge.dense`), an article scores as its best passage — that passage is the explanation;
3. lexical: BM25 over each article's passages taken together;
4. fusion (`knowledge.fusion`): cosine + weight x normalised BM25, the weight growing with the
   number of query tokens;
5. learning from use: a solved ticket close to the new one lifts the article that solved it, a
   rejected suggestion close to it lowers that article — both only above a similarity
   threshold, so an unrelated ticket is left exactly as it was;
6. the predicted category adds a small bonus in proportion to the classifier's confidence;
7. confidence: logistic models over the fused score and its lead over the next candidates
   give each suggestion a probability of fitting, and the ticket a "does anything fit"
   confidence (the first suggestion is right) for the acknowledgement.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import overload

import numpy as np
import numpy.typing as npt

from knowledge.dense import DenseConfig, ExactIndex, IvfIndex, build_dense_index
from knowledge.documents import Document
from knowledge.embeddings import FloatMatrix, FloatVector, TextEncoder, normalise_rows
from knowledge.fusion import (
    DEFAULT_FIT_CONFIDENCE,
    ConfidenceFeatures,
    ConfidenceModel,
    FusionConfig,
    lexical_share,
    normalise_by_max,
    ranked_features,
)
from knowledge.lexical import LexicalConfig, LexicalIndex, tokenize
from knowledge.passages import Passage

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class LearningConfig:
    """How solved and rejected tickets change later rankings (decision 0054).

    A past ticket counts only when its cosine with the new ticket exceeds the threshold; the
    bonus (or penalty) grows linearly from 0 there to the full weight at cosine 1.
    """

    positive_threshold: float = 0.85
    positive_weight: float = 0.3
    negative_threshold: float = 0.75
    negative_weight: float = 0.3
    # Most recent examples kept per article and polarity: bounded memory and cost.
    max_examples_per_article: int = 50


@dataclass(frozen=True)
class MatcherConfig:
    lexical: LexicalConfig = field(default_factory=LexicalConfig)
    dense: DenseConfig = field(default_factory=DenseConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    learning: LearningConfig = field(default_factory=LearningConfig)
    # P(this suggestion fits), over candidates at any rank.
    suggestion_confidence: ConfidenceModel = field(default_factory=ConfidenceModel)
    # P(the first suggestion fits): the "does anything fit" confidence of the whole ticket.
    fit_confidence: ConfidenceModel = field(default_factory=lambda: DEFAULT_FIT_CONFIDENCE)
    # Bonus for an article in the predicted category, times the classifier's confidence
    # (half for a parent or child category). Small: a wrong prediction must not bury the
    # right article, it may only break near-ties.
    category_weight: float = 0.03
    # Passages and lexical hits taken as candidates when the dense index is approximate.
    approximate_candidates: int = 200
    # A ticket is cut to this many characters before matching (hostile input bound).
    max_query_chars: int = 20_000


@dataclass(frozen=True)
class ArticleInfo:
    """What the matcher keeps per article besides its passages."""

    doc_id: str
    title: str = ""
    category: str | None = None
    audience: str | None = None

    @classmethod
    def from_document(cls, document: Document) -> ArticleInfo:
        return cls(document.doc_id, document.title, document.category, document.audience)


@dataclass(frozen=True)
class Example:
    """A past ticket judged for an article: solved it (positive) or was rejected (negative).

    The application stores these (text, vector as `vector_to_bytes`, polarity) and passes them
    back to `Matcher` when it rebuilds one.
    """

    article_id: str
    text: str
    positive: bool
    vector: FloatVector = field(compare=False, repr=False)


@dataclass(frozen=True)
class Suggestion:
    """One suggested article and why.

    `score` is the fused score that ranked it; `dense_score` the cosine of its best passage
    (`passage_id`, `passage_text`); `lexical_score` its raw BM25 score and
    `lexical_contribution` what BM25 added to `score`; `example_bonus` what past tickets
    added or took away; `category_bonus` what the predicted category added; `confidence`
    the probability that the article fits the ticket.
    """

    article_id: str
    rank: int
    score: float
    confidence: float
    dense_score: float
    lexical_score: float
    lexical_contribution: float
    example_bonus: float
    category_bonus: float
    passage_id: str
    passage_text: str
    matched_terms: tuple[str, ...]
    features: ConfidenceFeatures

    def explanation(self) -> dict[str, object]:
        """A JSON-ready account of the suggestion, for the stored Suggestion row."""
        return {
            "passage_id": self.passage_id,
            "passage": self.passage_text,
            "score": round(self.score, 6),
            "confidence": round(self.confidence, 6),
            "dense": round(self.dense_score, 6),
            "lexical": round(self.lexical_score, 6),
            "lexical_contribution": round(self.lexical_contribution, 6),
            "example_bonus": round(self.example_bonus, 6),
            "category_bonus": round(self.category_bonus, 6),
            "matched_terms": list(self.matched_terms),
            "features": self.features.to_dict(),
        }


@dataclass(frozen=True)
class SearchResult(Sequence[Suggestion]):
    """Suggestions best first, plus `fit_confidence`: the probability that the first one fits
    (0 when there is none). Behaves as a sequence of its suggestions."""

    suggestions: tuple[Suggestion, ...]
    fit_confidence: float
    query_tokens: int

    @overload
    def __getitem__(self, index: int) -> Suggestion: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Suggestion]: ...

    def __getitem__(self, index: int | slice) -> Suggestion | Sequence[Suggestion]:
        return self.suggestions[index]

    def __len__(self) -> int:
        return len(self.suggestions)

    def __iter__(self) -> Iterator[Suggestion]:
        return iter(self.suggestions)


class MatcherIndex:
    """Passages, their vectors and the lexical index, grouped by article; immutable.

    Build it from what the database holds (passages, vectors, article metadata) whenever the
    knowledge base's version changes; building costs one BM25 indexing pass and no embedding.
    """

    def __init__(
        self,
        passages: Sequence[Passage],
        vectors: FloatMatrix,
        articles: Sequence[ArticleInfo] = (),
        config: MatcherConfig | None = None,
    ) -> None:
        config = config or MatcherConfig()
        matrix = np.asarray(vectors, dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape[0] != len(passages):
            raise ValueError("vectors must be a (len(passages), dimension) array")
        info = {article.doc_id: article for article in articles}
        # Group passages by article, articles in first-seen order, passages in given order.
        order: dict[str, list[int]] = {}
        for position, passage in enumerate(passages):
            order.setdefault(passage.doc_id, []).append(position)
        doc_ids = list(order)
        rows = [position for doc_id in doc_ids for position in order[doc_id]]
        self._passages: tuple[Passage, ...] = tuple(passages[row] for row in rows)
        in_order = rows == list(range(len(rows)))
        # Passages usually arrive grouped already: then the caller's matrix is used as is (no
        # copy of what may be gigabytes).
        self._vectors = np.ascontiguousarray(matrix if in_order else matrix[rows])
        self._doc_ids: tuple[str, ...] = tuple(doc_ids)
        self._doc_position = {doc_id: index for index, doc_id in enumerate(doc_ids)}
        counts = np.asarray([len(order[doc_id]) for doc_id in doc_ids], dtype=np.int64)
        self._starts: IntArray = (np.cumsum(counts) - counts).astype(np.int64)
        self._ends: IntArray = self._starts + counts
        self._passage_doc: IntArray = np.repeat(np.arange(len(doc_ids), dtype=np.int64), counts)
        self._articles: tuple[ArticleInfo, ...] = tuple(
            info.get(doc_id, ArticleInfo(doc_id)) for doc_id in doc_ids
        )
        # Vectorised per-article labels: the category prior and the audience filter touch
        # every article on every query.
        self._categories = np.asarray(
            [_category_key(article.category) for article in self._articles], dtype=str
        )
        self._audiences = np.asarray(
            [article.audience or "" for article in self._articles], dtype=str
        )
        doc_texts = [
            "\n".join(self._passages[row].text for row in range(start, end))
            for start, end in zip(self._starts, self._ends, strict=True)
        ]
        self._lexical = LexicalIndex.from_texts(doc_texts, config.lexical)
        self._dense: ExactIndex | IvfIndex | None = (
            build_dense_index(self._vectors, config.dense) if rows else None
        )
        self._config = config

    @classmethod
    def from_arrays(
        cls,
        passages: Sequence[Passage],
        vectors: FloatMatrix,
        articles: Sequence[ArticleInfo] = (),
        config: MatcherConfig | None = None,
    ) -> MatcherIndex:
        return cls(passages, vectors, articles, config)

    @property
    def config(self) -> MatcherConfig:
        return self._config

    @property
    def doc_ids(self) -> tuple[str, ...]:
        return self._doc_ids

    @property
    def passages(self) -> tuple[Passage, ...]:
        return self._passages

    @property
    def vectors(self) -> FloatMatrix:
        return self._vectors

    @property
    def dimension(self) -> int:
        return int(self._vectors.shape[1]) if self._vectors.ndim == 2 else 0

    @property
    def exact(self) -> bool:
        return self._dense is None or self._dense.exact

    def __len__(self) -> int:
        return len(self._doc_ids)

    def article(self, doc_id: str) -> ArticleInfo | None:
        position = self._doc_position.get(doc_id)
        return None if position is None else self._articles[position]

    def position_of(self, doc_id: str) -> int | None:
        return self._doc_position.get(doc_id)

    # -- scoring helpers used by Matcher ------------------------------------------------

    def lexical_scores(self, tokens: Sequence[str]) -> npt.NDArray[np.float32]:
        return self._lexical.scores_for_tokens(tokens)

    def query_tokens(self, text: str) -> list[str]:
        return self._lexical.query_tokens(text)

    def dense_scores(self, query: FloatVector) -> tuple[npt.NDArray[np.float32], IntArray]:
        """Best passage cosine per article, and that passage's row; exact search only."""
        passage_scores = np.asarray(self._vectors @ query, dtype=np.float32)
        best = np.maximum.reduceat(passage_scores, self._starts)
        # Row of the best passage: first row per article reaching the article's best score.
        hits = np.flatnonzero(passage_scores >= best[self._passage_doc])
        first = np.full(len(self._doc_ids), -1, dtype=np.int64)
        docs_of_hits = self._passage_doc[hits]
        # hits are ascending, so the reversed assignment leaves the first hit per article.
        first[docs_of_hits[::-1]] = hits[::-1]
        return best, first

    def dense_candidates(self, query: FloatVector, count: int) -> IntArray:
        """Articles of the `count` best passages by the (approximate) dense index."""
        if self._dense is None:
            return np.zeros(0, dtype=np.int64)
        _, rows = self._dense.top_k(query[None, :], count)
        found = rows[0][rows[0] >= 0]
        return np.unique(self._passage_doc[found])

    def dense_scores_for(
        self, query: FloatVector, docs: IntArray
    ) -> tuple[npt.NDArray[np.float32], IntArray]:
        """Exact best-passage cosine for the given articles only."""
        best = np.full(docs.size, -np.inf, dtype=np.float32)
        rows = np.full(docs.size, -1, dtype=np.int64)
        for slot, doc in enumerate(docs):
            start, end = int(self._starts[doc]), int(self._ends[doc])
            scores = self._vectors[start:end] @ query
            local = int(np.argmax(scores))
            best[slot] = float(scores[local])
            rows[slot] = start + local
        return best, rows

    def doc_text(self, doc: int) -> str:
        start, end = int(self._starts[doc]), int(self._ends[doc])
        return "\n".join(self._passages[row].text for row in range(start, end))

    def article_at(self, doc: int) -> ArticleInfo:
        return self._articles[doc]

    def category_match(self, predicted: str) -> npt.NDArray[np.float32]:
        """Per article: 1 in the predicted category, 0.5 in a parent or child of it
        (``network`` vs ``network/vpn``), else 0."""
        match = np.zeros(len(self._doc_ids), dtype=np.float32)
        wanted = _category_key(predicted)
        if not wanted or not match.size:
            return match
        parts = wanted.split("/")
        ancestors = ["/".join(parts[:end]) for end in range(1, len(parts))]
        related = np.char.startswith(self._categories, wanted + "/") | np.isin(
            self._categories, ancestors
        )
        match[related] = 0.5
        match[self._categories == wanted] = 1.0
        return match

    def audience_allowed(self, audiences: frozenset[str]) -> npt.NDArray[np.bool_]:
        """Per article: True when it has no audience or one of `audiences`."""
        return np.asarray(
            (self._audiences == "") | np.isin(self._audiences, sorted(audiences)), dtype=bool
        )


def _category_key(category: str | None) -> str:
    return (category or "").strip().strip("/").casefold()


@dataclass(frozen=True)
class _ExampleSet:
    """Immutable snapshot of the examples and their arrays (rows aligned), replaced as a whole
    when one is added, so that a concurrent search sees either the old or the new set."""

    examples: tuple[Example, ...]
    vectors: FloatMatrix
    owners: IntArray  # article position of each usable example
    positive: npt.NDArray[np.bool_]


class Matcher:
    """Hybrid search over a `MatcherIndex`, learning from judged suggestions."""

    def __init__(
        self,
        index: MatcherIndex,
        encoder: TextEncoder,
        config: MatcherConfig | None = None,
        examples: Sequence[Example] = (),
    ) -> None:
        self._index = index
        self._encoder = encoder
        self._config = config or index.config
        self._lock = threading.Lock()
        self._examples = self._snapshot(tuple(examples))

    @property
    def index(self) -> MatcherIndex:
        return self._index

    @property
    def config(self) -> MatcherConfig:
        return self._config

    @property
    def examples(self) -> tuple[Example, ...]:
        return self._examples.examples

    def with_index(self, index: MatcherIndex) -> Matcher:
        """The same matcher (examples included) over a rebuilt index."""
        return Matcher(index, self._encoder, self._config, self.examples)

    # -- learning from use ------------------------------------------------------------

    def _snapshot(self, examples: tuple[Example, ...]) -> _ExampleSet:
        limit = self._config.learning.max_examples_per_article
        kept: list[Example] = []
        seen: dict[tuple[str, bool], int] = {}
        # Newest last in the input: keep the last `limit` per article and polarity.
        for example in reversed(examples):
            key = (example.article_id, example.positive)
            if seen.get(key, 0) < limit:
                seen[key] = seen.get(key, 0) + 1
                kept.append(example)
        kept.reverse()
        # Examples of deleted articles, or embedded by another model (other dimension), are
        # kept for storage but take no part in scoring.
        dimension = self._index.dimension
        usable = [
            ex
            for ex in kept
            if self._index.position_of(ex.article_id) is not None
            and ex.vector.shape == (dimension,)
        ]
        vectors = (
            normalise_rows(np.stack([ex.vector for ex in usable]))
            if usable
            else np.zeros((0, dimension), dtype=np.float32)
        )
        owners = np.asarray(
            [self._index.position_of(ex.article_id) for ex in usable], dtype=np.int64
        )
        positive = np.asarray([ex.positive for ex in usable], dtype=bool)
        return _ExampleSet(tuple(kept), vectors, owners, positive)

    def make_example(
        self, article_id: str, query_text: str, positive: bool, *, vector: FloatVector | None = None
    ) -> Example:
        """An `Example` with its vector (embedded now unless given), not yet added."""
        text = query_text[: self._config.max_query_chars]
        if vector is None:
            vector = self._encoder.encode([text])[0]
        return Example(article_id, text, positive, np.asarray(vector, dtype=np.float32))

    def add_example(
        self, article_id: str, query_text: str, positive: bool, *, vector: FloatVector | None = None
    ) -> Example:
        """Learn that `article_id` solved (`positive`) or did not fit this ticket text.

        Returns the example so that the caller can store it; a later ticket whose cosine with
        this one exceeds the learning threshold finds the article higher (or lower).
        """
        example = self.make_example(article_id, query_text, positive, vector=vector)
        with self._lock:
            self._examples = self._snapshot((*self._examples.examples, example))
        return example

    def _example_adjustment(self, query: FloatVector, docs: IntArray) -> npt.NDArray[np.float32]:
        """Bonus minus penalty from past tickets, for the given article positions.

        Per article the closest solved ticket gives the bonus and the closest rejection the
        penalty; tickets under the thresholds change nothing.
        """
        learned = self._examples  # one read: a consistent snapshot
        vectors, owners, positive = learned.vectors, learned.owners, learned.positive
        if owners.size == 0 or docs.size == 0:
            return np.zeros(docs.size, dtype=np.float32)
        learning = self._config.learning
        similarity = vectors @ query
        bonus = np.zeros(len(self._index), dtype=np.float32)
        penalty = np.zeros(len(self._index), dtype=np.float32)
        for values, chosen, threshold, weight in (
            (bonus, positive, learning.positive_threshold, learning.positive_weight),
            (penalty, ~positive, learning.negative_threshold, learning.negative_weight),
        ):
            rows = np.flatnonzero(chosen & (similarity > threshold))
            if rows.size:
                strength = (similarity[rows] - threshold) / max(1e-6, 1.0 - threshold)
                np.maximum.at(values, owners[rows], weight * strength.astype(np.float32))
        return np.asarray(bonus[docs] - penalty[docs], dtype=np.float32)

    # -- search -------------------------------------------------------------------------

    def encode_queries(self, texts: Sequence[str]) -> FloatMatrix:
        """Vectors for several tickets at once (batching), to pass as `query_vector`."""
        cap = self._config.max_query_chars
        return self._encoder.encode([text[:cap] for text in texts])

    def _score(
        self,
        text: str,
        query: FloatVector,
        category: str | None,
        category_confidence: float,
        audiences: frozenset[str] | None,
    ) -> _Scored:
        index = self._index
        tokens = index.query_tokens(text)
        lexical_all = index.lexical_scores(tokens)
        if index.exact:
            docs = np.arange(len(index), dtype=np.int64)
            dense, best_rows = index.dense_scores(query)
        else:
            count = min(self._config.approximate_candidates, len(index))
            lexical_top = np.argpartition(-lexical_all, count - 1)[:count]
            lexical_top = lexical_top[lexical_all[lexical_top] > 0]
            docs = np.union1d(index.dense_candidates(query, count), lexical_top)
            dense, best_rows = index.dense_scores_for(query, docs)
        lexical = lexical_all[docs]
        share = lexical_share(len(tokens), self._config.fusion)
        # Normalised by the best article overall, so that candidates and full scans agree.
        lexical_part = (share * normalise_by_max(lexical_all))[docs].astype(np.float32)
        examples = self._example_adjustment(query, docs)
        category_part = np.zeros(docs.size, dtype=np.float32)
        if category and category_confidence > 0:
            weight = self._config.category_weight * min(1.0, float(category_confidence))
            category_part = (weight * index.category_match(category)[docs]).astype(np.float32)
        fused = np.asarray(dense + lexical_part + examples + category_part, dtype=np.float32)
        if audiences is not None:
            fused[~index.audience_allowed(audiences)[docs]] = -np.inf
        order = np.argsort(-fused, kind="stable")
        order = order[np.isfinite(fused[order])]
        return _Scored(
            tokens,
            docs,
            order,
            fused,
            dense,
            best_rows,
            lexical,
            lexical_part,
            examples,
            category_part,
        )

    def _query_vector(self, text: str, query_vector: FloatVector | None) -> FloatVector:
        if query_vector is None:
            query_vector = self._encoder.encode([text])[0]
        return np.asarray(query_vector, dtype=np.float32).reshape(-1)

    def search(
        self,
        query_text: str,
        *,
        category: str | None = None,
        category_confidence: float = 0.0,
        k: int = 5,
        audiences: frozenset[str] | None = None,
        query_vector: FloatVector | None = None,
    ) -> SearchResult:
        """The `k` best articles for a ticket.

        `category`/`category_confidence` are the classifier's prediction (the confidence in
        [0, 1] scales the category bonus); `audiences`, when given, keeps only articles whose
        audience is in the set (articles without an audience are for everyone).
        `query_vector` skips embedding when the caller has the ticket's vector already.
        """
        index = self._index
        text = query_text[: self._config.max_query_chars]
        if len(index) == 0 or k <= 0:
            return SearchResult((), 0.0, 0)
        query = self._query_vector(text, query_vector)
        scored = self._score(text, query, category, category_confidence, audiences)
        features = ranked_features(scored.fused[scored.order[: k + 2]], k)
        model = self._config.suggestion_confidence
        query_tokens = set(scored.tokens)
        stopwords = index.config.lexical.stopwords
        suggestions: list[Suggestion] = []
        for rank, (slot, feature) in enumerate(zip(scored.order[:k], features, strict=False), 1):
            doc = int(scored.docs[slot])
            passage = index.passages[int(scored.best_rows[slot])]
            matched = sorted(query_tokens & set(tokenize(index.doc_text(doc), stopwords)))
            suggestions.append(
                Suggestion(
                    article_id=index.doc_ids[doc],
                    rank=rank,
                    score=float(scored.fused[slot]),
                    confidence=model.probability(feature),
                    dense_score=float(scored.dense[slot]),
                    lexical_score=float(scored.lexical[slot]),
                    lexical_contribution=float(scored.lexical_part[slot]),
                    example_bonus=float(scored.examples[slot]),
                    category_bonus=float(scored.category_part[slot]),
                    passage_id=passage.passage_id,
                    passage_text=passage.snippet,
                    matched_terms=tuple(matched[:20]),
                    features=feature,
                )
            )
        fit = self._config.fit_confidence.probability(features[0]) if features else 0.0
        return SearchResult(tuple(suggestions), fit, len(scored.tokens))

    def ranking(
        self,
        query_text: str,
        *,
        category: str | None = None,
        category_confidence: float = 0.0,
        query_vector: FloatVector | None = None,
    ) -> list[tuple[str, float]]:
        """Every candidate article with its fused score, best first (no explanations);
        for evaluations, which need the full ranking."""
        index = self._index
        if len(index) == 0:
            return []
        text = query_text[: self._config.max_query_chars]
        query = self._query_vector(text, query_vector)
        scored = self._score(text, query, category, category_confidence, None)
        return [
            (index.doc_ids[int(scored.docs[slot])], float(scored.fused[slot]))
            for slot in scored.order
        ]


@dataclass(frozen=True)
class _Scored:
    """Intermediate arrays of one query, aligned with `docs` (article positions)."""

    tokens: list[str]
    docs: IntArray
    order: IntArray
    fused: npt.NDArray[np.float32]
    dense: npt.NDArray[np.float32]
    best_rows: IntArray
    lexical: npt.NDArray[np.float32]
    lexical_part: npt.NDArray[np.float32]
    examples: npt.NDArray[np.float32]
    category_part: npt.NDArray[np.float32]
