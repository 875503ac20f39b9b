"""Dense side of the matcher: top-k cosine search over the passages' unit vectors.

The matcher (`knowledge.matcher`) asks an index for the best passages of a ticket's vectors.
Up to a size threshold the search is exact (one float32 matrix-vector product with numpy: about
10 ms per 100k passages on one core); above it an inverted-file index (faiss IVF, inner product)
answers behind the same interface, trading a little recall for speed. Vectors must be unit
length, so the inner product is the cosine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

FloatMatrix = npt.NDArray[np.float32]
IntMatrix = npt.NDArray[np.int64]


@dataclass(frozen=True)
class DenseConfig:
    """When to leave exact search, and how the approximate index is shaped."""

    # Exact search stays below ~50 ms per query up to here on one core; past it IVF pays off.
    approximate_above: int = 300_000
    # Inverted lists: about sqrt(n) keeps both the coarse and the fine scan small.
    nlist: int | None = None
    # Lists visited per query; recall against exact search is measured by
    # bench/matcher_latency.py.
    nprobe: int = 32
    # k-means for the coarse quantiser trains on at most this many vectors per list.
    train_points_per_list: int = 64
    seed: int = 20261127
    threads: int | None = None


class DenseIndex(Protocol):
    """Top-k inner-product search over a fixed set of unit vectors."""

    def __len__(self) -> int: ...

    @property
    def dimension(self) -> int: ...

    @property
    def exact(self) -> bool: ...

    def top_k(self, queries: FloatMatrix, k: int) -> tuple[FloatMatrix, IntMatrix]:
        """(scores, rows), each (len(queries), k), best first; rows are -1 where the index
        holds fewer than k vectors (their score is -inf)."""
        ...


def _check_queries(queries: FloatMatrix, dimension: int) -> FloatMatrix:
    matrix = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
    if matrix.shape[1] != dimension:
        raise ValueError(f"query dimension {matrix.shape[1]} != index dimension {dimension}")
    return matrix


def _empty_result(n_queries: int, k: int) -> tuple[FloatMatrix, IntMatrix]:
    return (
        np.full((n_queries, k), -np.inf, dtype=np.float32),
        np.full((n_queries, k), -1, dtype=np.int64),
    )


def top_k_rows(scores: FloatMatrix, k: int) -> tuple[FloatMatrix, IntMatrix]:
    """The k best columns of each row of `scores`, best first (ties by lower column)."""
    n_queries, n_items = scores.shape
    out_scores, out_rows = _empty_result(n_queries, k)
    take = min(k, n_items)
    if take == 0:
        return out_scores, out_rows
    if take < n_items:
        part = np.argpartition(-scores, take - 1, axis=1)[:, :take]
    else:
        part = np.tile(np.arange(n_items), (n_queries, 1))
    part_scores = np.take_along_axis(scores, part, axis=1)
    # lexsort: last key is primary; stable order on equal scores by column number.
    for row in range(n_queries):
        order = np.lexsort((part[row], -part_scores[row]))
        out_rows[row, :take] = part[row, order]
        out_scores[row, :take] = part_scores[row, order]
    return out_scores, out_rows


class ExactIndex:
    """Brute-force inner product with numpy; the vectors are shared, not copied."""

    def __init__(self, vectors: FloatMatrix) -> None:
        matrix = np.ascontiguousarray(vectors, dtype=np.float32)
        if matrix.ndim != 2:
            raise ValueError("vectors must be a 2-d array")
        self._vectors = matrix

    def __len__(self) -> int:
        return int(self._vectors.shape[0])

    @property
    def dimension(self) -> int:
        return int(self._vectors.shape[1])

    @property
    def exact(self) -> bool:
        return True

    def scores(self, queries: FloatMatrix) -> FloatMatrix:
        """Cosine of every (query, passage) pair: shape (len(queries), len(self))."""
        matrix = _check_queries(queries, self.dimension)
        return np.asarray(matrix @ self._vectors.T, dtype=np.float32)

    def top_k(self, queries: FloatMatrix, k: int) -> tuple[FloatMatrix, IntMatrix]:
        return top_k_rows(self.scores(queries), k)


class IvfIndex:
    """faiss IndexIVFFlat over inner product: exact scores inside the visited lists."""

    def __init__(self, vectors: FloatMatrix, config: DenseConfig) -> None:
        import faiss  # noqa: PLC0415 - only large knowledge bases pay for faiss

        matrix = np.ascontiguousarray(vectors, dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape[0] == 0:
            raise ValueError("an IVF index needs a non-empty 2-d array of vectors")
        n, dimension = matrix.shape
        if config.threads is not None:
            faiss.omp_set_num_threads(config.threads)
        # faiss wants about 39 training points per list; small indexes get fewer lists.
        nlist = config.nlist or max(1, min(65_536, round(math.sqrt(n)), n // 39))
        nlist = min(nlist, n)
        quantizer = faiss.IndexFlatIP(dimension)
        index = faiss.IndexIVFFlat(quantizer, dimension, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = config.seed
        # Train on a sample: k-means cost grows with points x lists, and a few dozen points per
        # list place the centroids as well as all of them would.
        sample_size = min(n, nlist * config.train_points_per_list)
        rng = np.random.default_rng(config.seed)
        sample = matrix if sample_size == n else matrix[rng.choice(n, sample_size, replace=False)]
        index.cp.max_points_per_centroid = config.train_points_per_list
        index.train(sample)
        index.add(matrix)
        index.nprobe = min(config.nprobe, nlist)
        self._index: Any = index
        self._dimension = int(dimension)
        self._size = int(n)
        self.nlist = int(nlist)

    def __len__(self) -> int:
        return self._size

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def exact(self) -> bool:
        return False

    def top_k(self, queries: FloatMatrix, k: int) -> tuple[FloatMatrix, IntMatrix]:
        matrix = _check_queries(queries, self._dimension)
        distances, labels = self._index.search(matrix, k)
        scores = np.asarray(distances, dtype=np.float32)
        rows = np.asarray(labels, dtype=np.int64)
        scores[rows < 0] = -np.inf
        return scores, rows


def build_dense_index(vectors: FloatMatrix, config: DenseConfig) -> ExactIndex | IvfIndex:
    """Exact search for a help desk's usual knowledge base, IVF above the threshold."""
    if vectors.shape[0] > config.approximate_above:
        return IvfIndex(vectors, config)
    return ExactIndex(vectors)
