"""Exact and approximate dense search."""

from __future__ import annotations

import numpy as np

from knowledge.dense import DenseConfig, ExactIndex, IvfIndex, build_dense_index, top_k_rows
from knowledge.embeddings import normalise_rows


def clustered(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = normalise_rows(rng.standard_normal((20, 32)))
    topic = rng.integers(0, 20, size=n)
    return normalise_rows(centres[topic] * 3 + rng.standard_normal((n, 32)) * 0.5)


def test_exact_top_k_is_sorted_and_padded() -> None:
    index = ExactIndex(normalise_rows([[1, 0], [0, 1], [1, 1]]))
    scores, rows = index.top_k(np.asarray([[1.0, 0.0]], dtype=np.float32), 5)
    assert rows[0].tolist() == [0, 2, 1, -1, -1]
    assert scores[0][0] == 1.0
    assert np.isneginf(scores[0][3:]).all()


def test_ties_keep_the_lower_row_first() -> None:
    scores = np.asarray([[0.5, 0.9, 0.9, 0.1]], dtype=np.float32)
    _, rows = top_k_rows(scores, 2)
    assert rows[0].tolist() == [1, 2]


def test_ivf_agrees_with_exact_on_top_results() -> None:
    vectors = clustered(4000, seed=11)
    queries = clustered(50, seed=12)
    exact = ExactIndex(vectors)
    approx = IvfIndex(vectors, DenseConfig(nlist=32, nprobe=8, threads=1))
    _, exact_rows = exact.top_k(queries, 5)
    approx_scores, approx_rows = approx.top_k(queries, 5)
    assert (exact_rows[:, 0] == approx_rows[:, 0]).mean() >= 0.95
    overlap = np.mean(
        [len(set(a) & set(e)) / 5 for a, e in zip(approx_rows, exact_rows, strict=True)]
    )
    assert overlap >= 0.9
    # The scores the IVF index reports are the exact cosines of the rows it found.
    assert np.allclose(
        approx_scores[:, 0], np.sum(vectors[approx_rows[:, 0]] * queries, 1), atol=1e-5
    )


def test_threshold_picks_the_index_kind() -> None:
    vectors = clustered(300, seed=1)
    assert isinstance(build_dense_index(vectors, DenseConfig()), ExactIndex)
    approx = build_dense_index(vectors, DenseConfig(approximate_above=100, threads=1))
    assert isinstance(approx, IvfIndex)
    assert not approx.exact
    assert len(approx) == 300
