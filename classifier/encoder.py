"""The embedding function the classifier consumes, as a Protocol.

The real encoder (sentence-transformers all-MiniLM-L6-v2) belongs to the `knowledge` package,
which the classifier must not import; `deskmail` wires it in. Anything with this method works,
which also lets the tests use a small deterministic encoder.
"""

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from classifier.errors import EncoderMismatchError


class TextEncoder(Protocol):
    """Turns texts into sentence embeddings."""

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """One float32 row per text, each row L2-normalised (so a dot product is a cosine)."""
        ...


def encode_checked(encoder: TextEncoder, texts: Sequence[str]) -> npt.NDArray[np.float32]:
    """Call the encoder and make sure the answer has the promised shape and norm.

    Rows are re-normalised because a dot product is only a cosine on unit vectors and an
    injected encoder may be slightly off (float16 models, a forgotten flag); an all-zero row
    (an encoder's answer to an empty text) stays zero.
    """
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    matrix = np.asarray(encoder.encode(list(texts)))
    if matrix.ndim != 2 or matrix.shape[0] != len(texts):
        raise EncoderMismatchError(
            f"encoder returned shape {matrix.shape} for {len(texts)} texts; expected (n, dim)"
        )
    return normalise_rows(matrix)


def normalise_rows(matrix: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
    """A float32 copy with unit-length rows (all-zero rows stay zero).

    Applied to encoder output and to precomputed embeddings alike, so both paths give
    bit-identical features.
    """
    unit = np.array(matrix, dtype=np.float32)
    norms = np.linalg.norm(unit, axis=1, keepdims=True)
    np.divide(unit, norms, out=unit, where=norms > 0)
    return unit
