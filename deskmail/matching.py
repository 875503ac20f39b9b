"""The per-process matcher service: the knowledge base's passages and vectors in memory.

Sits between the database and `knowledge.matcher`. The suggest stage (`deskmail.suggest`),
`deskmail kb search` and the web UI ask `MatchingService.search`; editors' use cases
(`deskmail.knowledge_base`) write passages, vectors and examples and raise
`KnowledgeState.version`. Every process that matches holds one `MatchingService`: it loads the
published passages with their stored vectors and the learned examples into a `Matcher`, and
before a search (at most once per `reload_check_seconds`) compares the stored version with the
one it loaded, reloading when another process (or machine) changed the knowledge base
(DESIGN.md, Embedded default and scale-out).

`EmbeddingStore` is the vector side: texts -> vectors through a process memory layer, the
`embedding` table and, for what neither holds, the shared sentence encoder. It reads and writes
through the caller's session when one is given: inside a pipeline transaction (which holds
SQLite's write lock) a second connection could not write, and a vector written with the
transaction's rows commits or rolls back with them.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from sqlalchemy import and_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from deskmail.app import App
from deskmail.knowledge_settings import KnowledgeSettings
from knowledge.dense import DenseConfig
from knowledge.embeddings import (
    EmbeddingCache,
    FloatMatrix,
    FloatVector,
    InMemoryEmbeddingCache,
    SentenceTransformerEncoder,
    content_key,
    vector_from_bytes,
    vector_to_bytes,
)
from knowledge.matcher import ArticleInfo, Example, Matcher, MatcherConfig, MatcherIndex
from knowledge.passages import Passage as IndexedPassage
from knowledge.passages import PassageConfig
from models import (
    Article,
    ArticleExample,
    ArticleStatus,
    Audience,
    Embedding,
    KnowledgeState,
    Passage,
    utcnow,
)

log = logging.getLogger(__name__)

# Keys are looked up in chunks: SQLite allows a limited number of bound parameters.
_LOOKUP_CHUNK = 500
# The one row of `knowledge_state`.
_STATE_ID = 1


# --- the knowledge base's version ---------------------------------------------------------


def knowledge_version(session: Session) -> int:
    """The stored version of the knowledge base (0 before the first change)."""
    found = session.execute(
        select(KnowledgeState.version).where(KnowledgeState.id == _STATE_ID)
    ).scalar_one_or_none()
    return int(found or 0)


def bump_knowledge_version(session: Session) -> int:
    """Raise the version in the caller's transaction (every matching process then reloads).

    The increment is one UPDATE, so concurrent editors never lose a bump; the row is created
    on first use with insert-or-ignore, as two processes may try at once.
    """
    dialect = session.get_bind().dialect.name
    make_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        make_insert(KnowledgeState)
        .values(id=_STATE_ID, version=0, updated_at=utcnow())
        .on_conflict_do_nothing(index_elements=["id"])
    )
    session.execute(
        update(KnowledgeState)
        .where(KnowledgeState.id == _STATE_ID)
        .values(version=KnowledgeState.version + 1, updated_at=utcnow())
    )
    return knowledge_version(session)


# --- vectors ------------------------------------------------------------------------------


class EmbeddingStore:
    """Texts to vectors under the process's model: memory, the `embedding` table, the model.

    One per process, shared by the matcher service and the editors' use cases. The model is
    loaded only when a text is in neither cache. `memory` is the process layer (a bounded LRU
    by default; benchmarks pass a file-backed cache).
    """

    def __init__(
        self,
        app: App,
        encoder: SentenceTransformerEncoder,
        memory: EmbeddingCache | None = None,
    ) -> None:
        self._app = app
        self._encoder = encoder
        # The encoder without its own cache: this store decides where vectors are kept.
        self._model = encoder.with_cache(None)
        self._memory = memory if memory is not None else InMemoryEmbeddingCache()

    @property
    def encoder(self) -> SentenceTransformerEncoder:
        return self._encoder

    @property
    def model_key(self) -> str:
        return self._encoder.model_key

    def count_tokens(self, text: str) -> int:
        """Word pieces of `text` in the model's vocabulary (no model load: tokenizer only)."""
        return self._encoder.count_tokens(text)

    def key(self, text: str) -> str:
        """The cache key of `text` (clipped as the encoder clips it) under this model."""
        config = self._encoder.config
        return content_key(self.model_key, config.max_tokens, text[: config.max_chars])

    def stored(self, session: Session, keys: Sequence[str]) -> dict[str, FloatVector]:
        """The vectors among `keys` that the database holds for this model."""
        found: dict[str, FloatVector] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), _LOOKUP_CHUNK):
            chunk = unique[start : start + _LOOKUP_CHUNK]
            rows = session.execute(
                select(Embedding.content_sha256, Embedding.dim, Embedding.vector).where(
                    Embedding.model == self.model_key, Embedding.content_sha256.in_(chunk)
                )
            )
            for key, dim, blob in rows:
                found[key] = vector_from_bytes(blob, dim)
        return found

    def vectors(self, texts: Sequence[str], *, session: Session | None = None) -> FloatMatrix:
        """Unit vectors of `texts`, in order; every vector is stored in the database.

        With `session`, reads and writes go through the caller's transaction; without, a
        short transaction of its own is used (never call it so inside an open write
        transaction on SQLite: the second connection would wait for the first).
        """
        keys = [self.key(text) for text in texts]
        if not keys:
            return np.zeros((0, 0), dtype=np.float32)
        if session is not None:
            found = self._fill(session, texts, keys)
        else:
            with self._app.sessions() as own, own.begin():
                found = self._fill(own, texts, keys)
        return np.ascontiguousarray(np.stack([found[key] for key in keys]), dtype=np.float32)

    def _fill(
        self, session: Session, texts: Sequence[str], keys: Sequence[str]
    ) -> dict[str, FloatVector]:
        unique = dict(zip(keys, texts, strict=True))
        in_database = self.stored(session, list(unique))
        found: dict[str, FloatVector] = dict(in_database)
        in_memory = self._memory.get_many([key for key in unique if key not in found])
        found.update(in_memory)
        missing = {key: text for key, text in unique.items() if key not in found}
        computed: dict[str, FloatVector] = {}
        if missing:
            fresh = self._model.encode(list(missing.values()))
            computed = dict(zip(missing.keys(), fresh, strict=True))
            found.update(computed)
        to_store = {**in_memory, **computed}
        if to_store:
            self._insert(session, to_store)
        self._memory.put_many({key: found[key] for key in unique if key not in in_memory})
        return found

    def _insert(self, session: Session, items: Mapping[str, FloatVector]) -> None:
        rows = [
            {
                "content_sha256": key,
                "model": self.model_key,
                "dim": int(vector.shape[0]),
                "vector": vector_to_bytes(vector),
                "created_at": utcnow(),
            }
            for key, vector in items.items()
        ]
        dialect = session.get_bind().dialect.name
        make_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        # Two processes may embed the same text at once; the first row wins, both are equal.
        session.execute(
            make_insert(Embedding).on_conflict_do_nothing(
                index_elements=["content_sha256", "model"]
            ),
            rows,
        )

    def memory_vectors(self, texts: Sequence[str]) -> FloatMatrix:
        """Vectors kept in this process only (for rows whose stored vector is missing)."""
        keys = [self.key(text) for text in texts]
        found = dict(self._memory.get_many(keys))
        missing = {key: text for key, text in zip(keys, texts, strict=True) if key not in found}
        if missing:
            fresh = self._model.encode(list(missing.values()))
            computed = dict(zip(missing.keys(), fresh, strict=True))
            self._memory.put_many(computed)
            found.update(computed)
        return np.ascontiguousarray(np.stack([found[key] for key in keys]), dtype=np.float32)


# --- what a search returns ----------------------------------------------------------------


@dataclass(frozen=True)
class ArticleMeta:
    """What the service keeps about a published article besides its passages."""

    article_id: int
    slug: str
    title: str
    category: str | None
    audience: Audience


@dataclass(frozen=True)
class ArticleMatch:
    """One suggested article: where it ranks, how sure the matcher is, and why.

    `passage` is the article's own text that matched best; `explanation` is the matcher's
    account (`knowledge.matcher.Suggestion.explanation()`, plus the slug), stored as JSON.
    """

    article_id: int
    slug: str
    title: str
    category: str | None
    audience: Audience
    rank: int
    score: float
    confidence: float
    passage: str
    passage_id: str
    explanation: dict[str, object]


@dataclass(frozen=True)
class MatchResult:
    """The ranked articles of one search and the "does anything fit" confidence."""

    matches: tuple[ArticleMatch, ...]
    fit_confidence: float
    knowledge_version: int

    def __iter__(self) -> Iterator[ArticleMatch]:
        return iter(self.matches)

    def __len__(self) -> int:
        return len(self.matches)


@dataclass(frozen=True)
class _Snapshot:
    """One loaded state of the knowledge base; replaced whole on reload."""

    version: int
    matcher: Matcher | None
    articles: Mapping[int, ArticleMeta]
    passages: int
    examples: int


# --- the service --------------------------------------------------------------------------


def matcher_config(settings: KnowledgeSettings) -> MatcherConfig:
    """The matcher's configuration from the settings (library defaults elsewhere)."""
    threads = settings.blas_threads or None
    return MatcherConfig(
        dense=DenseConfig(approximate_above=settings.approximate_above, threads=threads)
    )


def _thread_limit(blas_threads: int) -> Callable[[], AbstractContextManager[object]]:
    """A scoped BLAS thread limit for the matcher's numpy work (decision 0116).

    threadpoolctl (installed with scikit-learn) changes OpenBLAS/MKL's thread count for the
    duration of a block; a controller built once makes each block cost microseconds.
    """
    if blas_threads <= 0:
        return nullcontext
    try:
        # Imported by name: the package ships no type information.
        threadpoolctl: Any = importlib.import_module("threadpoolctl")
    except ImportError:  # pragma: no cover - scikit-learn depends on it
        return nullcontext
    controller = threadpoolctl.ThreadpoolController()

    def limit() -> AbstractContextManager[object]:
        return cast(
            "AbstractContextManager[object]",
            controller.limit(limits=blas_threads, user_api="blas"),
        )

    return limit


class MatchingService:
    """Searches the knowledge base as it is stored, reloading when its version changes."""

    def __init__(
        self,
        app: App,
        store: EmbeddingStore,
        settings: KnowledgeSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._app = app
        self._store = store
        self._settings = settings or app.settings.knowledge
        self._config = matcher_config(self._settings)
        self._clock = clock
        self._limit = _thread_limit(self._settings.blas_threads)
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None
        self._checked_at = float("-inf")

    @property
    def store(self) -> EmbeddingStore:
        return self._store

    @property
    def settings(self) -> KnowledgeSettings:
        return self._settings

    @property
    def version(self) -> int | None:
        """The version loaded, or None before the first load."""
        snapshot = self._snapshot
        return None if snapshot is None else snapshot.version

    @property
    def loaded_articles(self) -> int:
        snapshot = self._snapshot
        return 0 if snapshot is None else len(snapshot.articles)

    # -- loading ----------------------------------------------------------------------------

    def refresh(self, *, force: bool = False) -> int:
        """Reload if the stored version differs from the loaded one (or when forced).

        Without `force` the database is asked at most once per `reload_check_seconds`.
        Returns the version now loaded.
        """
        now = self._clock()
        snapshot = self._snapshot
        if (
            not force
            and snapshot is not None
            and now - self._checked_at < self._settings.reload_check_seconds
        ):
            return snapshot.version
        with self._lock:
            snapshot = self._snapshot
            with self._app.read_sessions() as session:
                stored = knowledge_version(session)
                if force or snapshot is None or snapshot.version != stored:
                    # Version first, then the rows: a change committed in between is loaded
                    # too and only costs one more reload later, never a missed one.
                    snapshot = self._load(session, stored)
                    self._snapshot = snapshot
            self._checked_at = now
            return snapshot.version

    def _load(self, session: Session, version: int) -> _Snapshot:
        started = time.perf_counter()
        articles = {
            row.id: ArticleMeta(row.id, row.slug, row.title, row.category, Audience(row.audience))
            for row in session.execute(
                select(
                    Article.id, Article.slug, Article.title, Article.category, Article.audience
                ).where(Article.status == ArticleStatus.PUBLISHED)
            )
        }
        passages, vectors = self._load_passages(session)
        if not passages:
            return _Snapshot(version, None, articles, 0, 0)
        infos = [
            ArticleInfo(str(meta.article_id), meta.title, meta.category, str(meta.audience))
            for meta in articles.values()
        ]
        with self._limit():
            index = MatcherIndex(passages, vectors, infos, self._config)
        examples = self._load_examples(session, set(articles))
        matcher = Matcher(index, self._store.encoder, self._config, examples)
        log.info(
            "knowledge base version %s loaded: %s articles, %s passages, %s examples in %.2f s",
            version,
            len(index),
            len(passages),
            len(examples),
            time.perf_counter() - started,
        )
        return _Snapshot(version, matcher, articles, len(passages), len(examples))

    def _load_passages(self, session: Session) -> tuple[list[IndexedPassage], FloatMatrix]:
        rows = session.execute(
            select(
                Passage.article_id,
                Passage.ordinal,
                Passage.text,
                Passage.snippet,
                Passage.is_title,
                Embedding.dim,
                Embedding.vector,
            )
            .join(
                Article,
                and_(
                    Article.id == Passage.article_id,
                    Article.status == ArticleStatus.PUBLISHED,
                    Article.published_version == Passage.version_number,
                ),
            )
            .outerjoin(
                Embedding,
                and_(
                    Embedding.content_sha256 == Passage.content_sha256,
                    Embedding.model == self._store.model_key,
                    Passage.model == self._store.model_key,
                ),
            )
            .order_by(Passage.article_id, Passage.ordinal)
        ).all()
        passages = [
            IndexedPassage(
                f"{row.article_id}#{row.ordinal}",
                str(row.article_id),
                row.ordinal,
                row.text,
                row.snippet or row.text,
                row.is_title,
            )
            for row in rows
        ]
        missing = [i for i, row in enumerate(rows) if row.vector is None]
        dimension = next((int(row.dim) for row in rows if row.vector is not None), 0)
        if missing:
            # Stored under another model, or never embedded: usable now, durable after
            # `deskmail kb reindex`.
            log.warning(
                "%s passages have no stored vector for model %s: embedding them in memory; "
                "run `deskmail kb reindex`",
                len(missing),
                self._store.model_key,
            )
            fresh = self._store.memory_vectors([rows[i].text for i in missing])
            dimension = int(fresh.shape[1])
        else:
            fresh = np.zeros((0, dimension), dtype=np.float32)
        matrix = np.zeros((len(rows), dimension), dtype=np.float32)
        filled = iter(fresh)
        for position, row in enumerate(rows):
            if row.vector is None:
                matrix[position] = next(filled)
            else:
                matrix[position] = vector_from_bytes(row.vector, dimension)
        return passages, matrix

    def _load_examples(self, session: Session, published: set[int]) -> list[Example]:
        rows = session.execute(
            select(
                ArticleExample.article_id,
                ArticleExample.text,
                ArticleExample.positive,
                Embedding.dim,
                Embedding.vector,
            )
            .outerjoin(
                Embedding,
                and_(
                    Embedding.content_sha256 == ArticleExample.content_sha256,
                    Embedding.model == self._store.model_key,
                    ArticleExample.model == self._store.model_key,
                ),
            )
            .order_by(ArticleExample.id)
        ).all()
        rows = [row for row in rows if row.article_id in published]
        missing = [row.text for row in rows if row.vector is None]
        fresh = iter(self._store.memory_vectors(missing)) if missing else iter(())
        examples: list[Example] = []
        for row in rows:
            vector = next(fresh) if row.vector is None else vector_from_bytes(row.vector, row.dim)
            examples.append(Example(str(row.article_id), row.text, bool(row.positive), vector))
        return examples

    # -- searching --------------------------------------------------------------------------

    def embed_query(self, text: str, *, session: Session | None = None) -> FloatVector:
        """The vector of a ticket text (stored, so that outcomes can learn from it later)."""
        vectors = self._store.vectors([text], session=session)
        return np.asarray(vectors[0], dtype=np.float32)

    def query_key(self, text: str) -> str:
        return self._store.key(text)

    def search(
        self,
        text: str,
        *,
        category: str | None = None,
        category_confidence: float = 0.0,
        k: int | None = None,
        audience: Audience | None = None,
        session: Session | None = None,
        query_vector: FloatVector | None = None,
    ) -> MatchResult:
        """The best published articles for `text`, best first.

        `audience=Audience.PUBLIC` keeps only articles a requester may see (internal ones never
        reach a requester); None searches every article, for agents. `category` and its
        confidence are the classifier's prediction (a small prior, decision 0058). The query
        vector is embedded (and stored) through `session` when given; see `EmbeddingStore`.
        """
        self.refresh()
        snapshot = self._snapshot
        if snapshot is None or snapshot.matcher is None or not text.strip():
            version = 0 if snapshot is None else snapshot.version
            return MatchResult((), 0.0, version)
        if query_vector is None:
            query_vector = self.embed_query(text, session=session)
        audiences = None if audience is None else frozenset({str(audience)})
        with self._limit():
            result = snapshot.matcher.search(
                text,
                category=category,
                category_confidence=category_confidence,
                k=k if k is not None else self._settings.top_k,
                audiences=audiences,
                query_vector=query_vector,
            )
        matches: list[ArticleMatch] = []
        for found in result:
            meta = snapshot.articles.get(int(found.article_id))
            if meta is None:  # pragma: no cover - the index is built from these articles
                continue
            explanation = found.explanation()
            explanation["slug"] = meta.slug
            matches.append(
                ArticleMatch(
                    article_id=meta.article_id,
                    slug=meta.slug,
                    title=meta.title,
                    category=meta.category,
                    audience=meta.audience,
                    rank=found.rank,
                    score=found.score,
                    confidence=found.confidence,
                    passage=found.passage_text,
                    passage_id=found.passage_id,
                    explanation=explanation,
                )
            )
        return MatchResult(tuple(matches), result.fit_confidence, snapshot.version)

    def rank_of(
        self,
        text: str,
        article_id: int,
        *,
        query_vector: FloatVector,
        category: str | None = None,
        category_confidence: float = 0.0,
    ) -> int | None:
        """Where `article_id` ranks among all articles (1 = first), or None if absent."""
        snapshot = self._snapshot
        if snapshot is None or snapshot.matcher is None:
            return None
        with self._limit():
            ranking = snapshot.matcher.ranking(
                text,
                category=category,
                category_confidence=category_confidence,
                query_vector=query_vector,
            )
        wanted = str(article_id)
        for position, (doc_id, _score) in enumerate(ranking, 1):
            if doc_id == wanted:
                return position
        return None

    def warm_up(self) -> None:
        """Load the knowledge base now and, if it has articles, the model (~10 s at most)."""
        self.refresh(force=True)
        snapshot = self._snapshot
        if snapshot is not None and snapshot.matcher is not None:
            self._store.encoder.model()


def passage_config() -> PassageConfig:
    """How articles are cut into passages (the library's cross-validated defaults, 0051)."""
    return PassageConfig()


@dataclass(frozen=True)
class KnowledgeServices:
    """What a process needs to edit and search the knowledge base: one of each per process."""

    store: EmbeddingStore
    matching: MatchingService


def build_knowledge(
    app: App,
    encoder: SentenceTransformerEncoder | None = None,
    *,
    memory: EmbeddingCache | None = None,
) -> KnowledgeServices:
    """The process's embedding store and matcher service over `encoder` (the process's shared
    sentence encoder; built from the settings when not given). Loads nothing yet."""
    settings = app.settings.knowledge
    if encoder is None:
        from deskmail.encoder import build_encoder  # noqa: PLC0415 - only without a shared one

        encoder = build_encoder(app.sessions, settings.model_path, settings.model_key)
    store = EmbeddingStore(app, encoder, memory)
    return KnowledgeServices(store, MatchingService(app, store, settings))
