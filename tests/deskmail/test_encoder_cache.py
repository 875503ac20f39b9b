"""The shared encoder's database cache never blocks a caller that holds the write lock."""

from __future__ import annotations

import numpy as np
from sqlalchemy import func, select

from deskmail.app import App
from deskmail.encoder import DatabaseEmbeddingCache
from models import Embedding, Person


def _unit(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(384).astype(np.float32)
    return vector / np.linalg.norm(vector)


def test_cache_works_inside_a_write_transaction(app: App) -> None:
    cache = DatabaseEmbeddingCache(app.sessions, "test-model")
    first = {"k1": _unit(1), "k2": _unit(2)}
    with app.sessions() as session, session.begin():
        # This transaction holds SQLite's write lock, as a mail's transaction does.
        session.add(Person(email="holder@example.com"))
        session.flush()
        assert cache.get_many(["k1"]) == {}
        cache.put_many(first)
        assert set(cache.get_many(["k1", "k2"])) == {"k1", "k2"}
    assert cache.flush(timeout=30)
    with app.read_sessions() as session:
        assert session.scalar(select(func.count()).select_from(Embedding)) == 2

    # Another process (a new cache object) reads the stored vectors back exactly.
    other = DatabaseEmbeddingCache(app.sessions, "test-model")
    found = other.get_many(["k1", "k2", "missing"])
    assert set(found) == {"k1", "k2"}
    np.testing.assert_array_equal(found["k1"], first["k1"])
    assert DatabaseEmbeddingCache(app.sessions, "other-model").get_many(["k1"]) == {}
