"""Dense search latency at help-desk and far larger scales: exact numpy vs faiss IVF.

    python bench/matcher_latency.py [--sizes 1000,10000,100000,1000000] [--queries 200]

Synthetic unit vectors of 384 dimensions (all-MiniLM-L6-v2's size) in two shapes: uniform on
the sphere (no structure: the worst case for an inverted file) and clustered (a mixture of
topics, like real embeddings). For each size: top-5 latency per single query (p50, p95) of
exact search and of IVF, IVF build time and its recall@5 against exact search. One core is
used (faiss and BLAS threads pinned to 1), like one worker process on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from knowledge.dense import DenseConfig, ExactIndex, IvfIndex

DIMENSION = 384


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix


def make_vectors(n: int, shape: str, rng: np.random.Generator) -> np.ndarray:
    """n unit vectors, generated in blocks to keep the peak memory near the result's size."""
    out = np.empty((n, DIMENSION), dtype=np.float32)
    centres = unit_rows(rng.standard_normal((256, DIMENSION)).astype(np.float32))
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        block = rng.standard_normal((stop - start, DIMENSION)).astype(np.float32)
        if shape == "clustered":
            topic = rng.integers(0, len(centres), size=stop - start)
            block = centres[topic] * 4.0 + block / np.sqrt(DIMENSION) * 4.0
        out[start:stop] = unit_rows(block)
    return out


def queries_near(vectors: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Queries close to stored vectors (a ticket resembles some passage), not copies."""
    rows = rng.integers(0, vectors.shape[0], size=count)
    noise = rng.standard_normal((count, DIMENSION)).astype(np.float32) * 0.02
    return unit_rows(vectors[rows] + noise)


def percentiles(samples: Sequence[float]) -> tuple[float, float]:
    values = np.asarray(samples) * 1000.0
    return float(np.percentile(values, 50)), float(np.percentile(values, 95))


def measure(
    index: ExactIndex | IvfIndex, queries: np.ndarray, k: int
) -> tuple[list[float], np.ndarray]:
    timings: list[float] = []
    found = np.empty((len(queries), k), dtype=np.int64)
    index.top_k(queries[:1], k)  # warm-up
    for position, query in enumerate(queries):
        started = time.perf_counter()
        _, rows = index.top_k(query[None, :], k)
        timings.append(time.perf_counter() - started)
        found[position] = rows[0]
    return timings, found


def recall(approx: np.ndarray, exact: np.ndarray) -> float:
    hits = sum(len(set(a) & set(e)) for a, e in zip(approx, exact, strict=True))
    return hits / exact.size


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--shapes", default="uniform,clustered")
    parser.add_argument("--nprobe", type=int, default=DenseConfig().nprobe)
    args = parser.parse_args(argv)
    import faiss  # noqa: PLC0415 - after the thread variables above are set

    faiss.omp_set_num_threads(1)
    k = 5
    results = []
    header = (
        f"{'shape':9} {'passages':>9} {'exact p50':>9} {'exact p95':>9} {'ivf p50':>8} "
        f"{'ivf p95':>8} {'nlist':>6} {'build s':>7} {'recall@5':>8}"
    )
    print(f"top-{k}, {args.queries} single queries, one thread, ms; IVF nprobe {args.nprobe}")
    print(header)
    for shape in args.shapes.split(","):
        for size in (int(value) for value in args.sizes.split(",")):
            rng = np.random.default_rng(size)
            vectors = make_vectors(size, shape, rng)
            queries = queries_near(vectors, args.queries, rng)
            exact = ExactIndex(vectors)
            exact_times, exact_rows = measure(exact, queries, k)
            started = time.perf_counter()
            ivf = IvfIndex(vectors, DenseConfig(nprobe=args.nprobe, threads=1))
            build = time.perf_counter() - started
            ivf_times, ivf_rows = measure(ivf, queries, k)
            e50, e95 = percentiles(exact_times)
            i50, i95 = percentiles(ivf_times)
            rec = recall(ivf_rows, exact_rows)
            print(
                f"{shape:9} {size:9d} {e50:9.2f} {e95:9.2f} {i50:8.2f} {i95:8.2f} "
                f"{ivf.nlist:6d} {build:7.1f} {rec:8.3f}",
                flush=True,
            )
            results.append(
                {
                    "shape": shape,
                    "passages": size,
                    "exact_p50_ms": round(e50, 3),
                    "exact_p95_ms": round(e95, 3),
                    "ivf_p50_ms": round(i50, 3),
                    "ivf_p95_ms": round(i95, 3),
                    "nlist": ivf.nlist,
                    "ivf_build_s": round(build, 2),
                    "recall_at_5": round(rec, 4),
                }
            )
            del vectors, exact, ivf
    print(json.dumps({"results": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
