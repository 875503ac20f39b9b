"""Vectors as bytes, the cache protocol, and the real model (marked `model`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from knowledge.embeddings import (
    EmbeddingConfig,
    FloatMatrix,
    InMemoryEmbeddingCache,
    SentenceTransformerEncoder,
    WordPieceCounter,
    content_key,
    default_model_path,
    matrix_from_bytes,
    normalise_rows,
    vector_from_bytes,
    vector_to_bytes,
)


def test_vector_bytes_round_trip_exactly() -> None:
    rng = np.random.default_rng(3)
    vectors = normalise_rows(rng.standard_normal((5, 384)))
    blobs = [vector_to_bytes(vector) for vector in vectors]
    assert all(len(blob) == 384 * 4 for blob in blobs)
    assert np.array_equal(vector_from_bytes(blobs[2], 384), vectors[2])
    assert np.array_equal(matrix_from_bytes(blobs, 384), vectors)
    assert matrix_from_bytes([], 384).shape == (0, 384)


def test_vector_bytes_are_little_endian_float32() -> None:
    assert vector_to_bytes(np.asarray([1.0], dtype=np.float64)) == b"\x00\x00\x80\x3f"


@pytest.mark.parametrize("blob", [b"\x00" * 7, b"\x00" * 12])
def test_bad_vector_bytes_are_refused(blob: bytes) -> None:
    with pytest.raises(ValueError, match=r"float32|values"):
        vector_from_bytes(blob, 2)
    with pytest.raises(ValueError, match="bytes"):
        matrix_from_bytes([b"\x00" * 8, blob], 2)


def test_normalise_rows_leaves_zero_rows_alone() -> None:
    rows = normalise_rows([[3.0, 4.0], [0.0, 0.0]])
    assert rows.dtype == np.float32
    assert np.allclose(rows, [[0.6, 0.8], [0.0, 0.0]])


def test_content_key_depends_on_model_window_and_text() -> None:
    keys = {
        content_key("m1", 256, "text"),
        content_key("m2", 256, "text"),
        content_key("m1", 128, "text"),
        content_key("m1", 256, "text2"),
    }
    assert len(keys) == 4
    assert content_key("m1", 256, "text") == content_key("m1", 256, "text")


def test_in_memory_cache_evicts_least_recently_used() -> None:
    cache = InMemoryEmbeddingCache(max_items=2)
    one, two, three = (np.full(2, value, dtype=np.float32) for value in (1, 2, 3))
    cache.put_many({"a": one, "b": two})
    assert set(cache.get_many(["a"])) == {"a"}  # touch a: b is now the oldest
    cache.put_many({"c": three})
    assert set(cache.get_many(["a", "b", "c"])) == {"a", "c"}
    assert len(cache) == 2


class CountingEncoder(SentenceTransformerEncoder):
    """The real pipeline with the model call replaced, to observe the cache."""

    def __init__(self, cache: InMemoryEmbeddingCache) -> None:
        super().__init__(EmbeddingConfig(model_path=default_model_path(), max_tokens=8), cache)
        self.seen: list[str] = []

    def _encode_uncached(self, texts: Sequence[str]) -> FloatMatrix:
        self.seen.extend(texts)
        return normalise_rows([[float(len(text)), 1.0] for text in texts])


def test_encoder_embeds_each_text_once_and_reuses_the_cache() -> None:
    cache = InMemoryEmbeddingCache()
    encoder = CountingEncoder(cache)
    first = encoder.encode(["alpha", "beta", "alpha"])
    assert encoder.seen == ["alpha", "beta"]
    assert np.array_equal(first[0], first[2])
    again = encoder.encode(["beta", "alpha", "gamma"])
    assert encoder.seen == ["alpha", "beta", "gamma"]
    assert np.array_equal(again[0], first[1])


def test_encoder_clips_hostile_text_before_embedding() -> None:
    encoder = CountingEncoder(InMemoryEmbeddingCache())
    encoder.encode(["x" * 1_000_000])
    assert len(encoder.seen[0]) == encoder.config.max_chars == 8 * 16


def test_word_piece_counter_uses_the_models_vocabulary() -> None:
    counter = WordPieceCounter(default_model_path())
    assert counter("hello world") == 2
    assert counter("CWSIA0241E") > 3  # an unknown code falls apart into pieces
    assert counter("") == 0


@pytest.mark.model
def test_real_model_gives_unit_vectors_and_sees_paraphrases(
    real_encoder: SentenceTransformerEncoder,
) -> None:
    vectors = real_encoder.encode(
        [
            "I forgot my password and cannot log in",
            "How do I reset a forgotten password?",
            "The printer on floor 3 is out of toner",
        ]
    )
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
    assert real_encoder.encode([]).shape == (0, 384)
