"""The one sentence encoder of a process, shared by the matcher and the classifier.

Embedding is the costly step of both: the model is loaded once per process (lazily, on the
first text) and every vector is cached by content hash in the `embedding` table, so a passage
or ticket text embedded by one process is never embedded again by another.

The cache may be used from inside a mail's transaction, which on SQLite holds the write lock:
it therefore reads without taking a lock (`deskmail.db.reader`) and writes from a background
thread, after the caller's transaction has let go. A lost cache write costs a re-embedding,
never a stuck mail.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from deskmail.db import make_sessionmaker, reader
from knowledge.embeddings import (
    EmbeddingConfig,
    FloatVector,
    InMemoryEmbeddingCache,
    SentenceTransformerEncoder,
    default_model_path,
    vector_from_bytes,
    vector_to_bytes,
)
from models import Embedding

log = logging.getLogger(__name__)

# Keys are looked up in chunks: SQLite allows a limited number of bound parameters.
_LOOKUP_CHUNK = 500


class DatabaseEmbeddingCache:
    """`knowledge.embeddings.EmbeddingCache` over the `embedding` table, with a memory layer."""

    def __init__(self, sessions: sessionmaker[Session], model_key: str) -> None:
        engine = sessions.kw["bind"]
        self._sessions = sessions
        self._read_sessions = make_sessionmaker(reader(engine))
        self._model_key = model_key
        self._memory = InMemoryEmbeddingCache()
        self._pending: queue.Queue[list[dict[str, Any]]] = queue.Queue()
        self._writer: threading.Thread | None = None
        self._writer_lock = threading.Lock()

    def get_many(self, keys: Sequence[str]) -> Mapping[str, FloatVector]:
        found = dict(self._memory.get_many(keys))
        missing = [key for key in keys if key not in found]
        if not missing:
            return found
        loaded: dict[str, FloatVector] = {}
        with self._read_sessions() as session:
            for start in range(0, len(missing), _LOOKUP_CHUNK):
                chunk = missing[start : start + _LOOKUP_CHUNK]
                rows = session.execute(
                    select(Embedding.content_sha256, Embedding.dim, Embedding.vector).where(
                        Embedding.model == self._model_key,
                        Embedding.content_sha256.in_(chunk),
                    )
                )
                for key, dim, blob in rows:
                    loaded[key] = vector_from_bytes(blob, dim)
        if loaded:
            self._memory.put_many(loaded)
        found.update(loaded)
        return found

    def put_many(self, items: Mapping[str, FloatVector]) -> None:
        if not items:
            return
        self._memory.put_many(items)
        rows = [
            {
                "content_sha256": key,
                "model": self._model_key,
                "dim": int(vector.shape[0]),
                "vector": vector_to_bytes(vector),
            }
            for key, vector in items.items()
        ]
        self._pending.put(rows)
        self._ensure_writer()

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every queued vector is written (tests, shutdown); False on timeout."""
        done = threading.Event()
        self._pending.put([{"__flush__": done}])
        self._ensure_writer()
        return done.wait(timeout)

    def _ensure_writer(self) -> None:
        with self._writer_lock:
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(
                    target=self._write_forever, name="embedding-cache-writer", daemon=True
                )
                self._writer.start()

    def _write_forever(self) -> None:
        while True:
            rows = self._pending.get()
            markers = [row["__flush__"] for row in rows if "__flush__" in row]
            rows = [row for row in rows if "__flush__" not in row]
            try:
                if rows:
                    self._write(rows)
            except Exception:  # a cache write may fail (database busy or gone): log, go on
                log.warning("could not store %d embeddings in the cache", len(rows), exc_info=True)
            for marker in markers:
                marker.set()

    def _write(self, rows: list[dict[str, Any]]) -> None:
        with self._sessions() as session, session.begin():
            dialect = session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            # Two processes may embed the same text at once; the first row wins, both are equal.
            session.execute(
                insert(Embedding).on_conflict_do_nothing(
                    index_elements=["content_sha256", "model"]
                ),
                rows,
            )


def build_encoder(
    sessions: sessionmaker[Session], model_path: Path | None = None, model_key: str = ""
) -> SentenceTransformerEncoder:
    """The process's encoder, caching vectors in the database. Loads no model yet."""
    config = EmbeddingConfig(model_path=model_path or default_model_path())
    if model_key:
        config = EmbeddingConfig(model_path=config.model_path, model_key=model_key)
    cache = DatabaseEmbeddingCache(sessions, config.model_key)
    return SentenceTransformerEncoder(config, cache=cache)
