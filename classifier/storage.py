"""A trained model to bytes and back, for the database's model-version blobs.

The format is a NumPy `.npz` archive (zip) read with `allow_pickle=False`: a JSON header
(format name and version, metadata, the layout of the heads) and plain numeric arrays. Nothing
in it can execute code on load, and it does not depend on scikit-learn's pickle layout, which
changes between releases.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import numpy as np
import numpy.typing as npt

from classifier.errors import ModelFormatError
from classifier.features import TextFeatures, VectoriserState
from classifier.labels import Target
from classifier.linear import LinearScorer
from classifier.model import BaseScorer, FeatureSet, ModelMetadata, TargetHead, TrainedModel

FORMAT = "deskmail-classifier"
FORMAT_VERSION = 1


def _text_array(value: Any) -> npt.NDArray[np.uint8]:
    return np.frombuffer(json.dumps(value, ensure_ascii=False).encode(), dtype=np.uint8)


def _from_text_array(array: npt.NDArray[np.uint8]) -> Any:
    return json.loads(array.tobytes().decode())


def model_to_bytes(model: TrainedModel) -> bytes:
    """Serialise a trained model (compressed; typically a few MB)."""
    meta = model.metadata
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "metadata": {
            "version": meta.version,
            "trained_at": meta.trained_at,
            "n_examples": meta.n_examples,
            "label_sets": {key: list(value) for key, value in meta.label_sets.items()},
            "metrics": dict(meta.metrics),
            "embedding_dim": meta.embedding_dim,
            "encoder_name": meta.encoder_name,
            "seed": meta.seed,
            "target_precision": meta.target_precision,
            "tree_fingerprint": meta.tree_fingerprint,
        },
        "features": [
            {"analyzer": s.analyzer, "ngram_range": list(s.ngram_range)}
            for s in model.features.states
        ],
        "heads": [
            {
                "target": str(head.target),
                "labels": list(head.labels),
                "bases": [str(base.features) for base in head.bases],
            }
            for head in model.heads.values()
        ],
    }
    arrays: dict[str, npt.NDArray[Any]] = {"header": _text_array(header)}
    for number, state in enumerate(model.features.states):
        arrays[f"terms_{number}"] = _text_array(list(state.terms))
        arrays[f"idf_{number}"] = state.idf
    for head in model.heads.values():
        prefix = f"head_{head.target}"
        for number, base in enumerate(head.bases):
            arrays[f"{prefix}_base{number}_coef"] = base.scorer.coef
            arrays[f"{prefix}_base{number}_intercept"] = base.scorer.intercept
        arrays[f"{prefix}_stacker_coef"] = head.stacker.coef
        arrays[f"{prefix}_stacker_intercept"] = head.stacker.intercept
        arrays[f"{prefix}_thresholds"] = head.thresholds
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def model_from_bytes(data: bytes) -> TrainedModel:
    """Read a model written by `model_to_bytes`; `ModelFormatError` on anything else."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        header = _from_text_array(arrays["header"])
        if header.get("format") != FORMAT:
            raise ModelFormatError("not a Deskmail classifier model")
        if header.get("format_version") != FORMAT_VERSION:
            raise ModelFormatError(f"unsupported model format {header.get('format_version')}")
        return _build(header, arrays)
    except ModelFormatError:
        raise
    except (
        KeyError,
        ValueError,
        TypeError,
        IndexError,
        zipfile.BadZipFile,
        OSError,
        EOFError,
        UnicodeDecodeError,
    ) as error:
        raise ModelFormatError(f"damaged model: {error}") from error


def _float32(arrays: dict[str, npt.NDArray[Any]], name: str) -> npt.NDArray[np.float32]:
    array = arrays[name]
    if array.dtype != np.float32:
        raise ModelFormatError(f"{name} has type {array.dtype}")
    return array


def _build(header: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]) -> TrainedModel:
    states = []
    for number, spec in enumerate(header["features"]):
        terms = tuple(str(term) for term in _from_text_array(arrays[f"terms_{number}"]))
        idf = _float32(arrays, f"idf_{number}")
        if idf.shape != (len(terms),):
            raise ModelFormatError("idf weights do not match the vocabulary")
        low, high = (int(value) for value in spec["ngram_range"])
        states.append(VectoriserState(str(spec["analyzer"]), (low, high), terms, idf))
    features = TextFeatures(states)
    meta = header["metadata"]
    dims = {
        FeatureSet.TFIDF: features.n_features,
        FeatureSet.WORDS: len(states[0].terms) if states else 0,
        FeatureSet.EMBEDDING: int(meta["embedding_dim"]),
    }
    heads: dict[Target, TargetHead] = {}
    for spec in header["heads"]:
        target = Target(spec["target"])
        labels = tuple(str(label) for label in spec["labels"])
        prefix = f"head_{target}"
        bases = []
        for number, name in enumerate(spec["bases"]):
            feature_set = FeatureSet(name)
            coef = _float32(arrays, f"{prefix}_base{number}_coef")
            intercept = _float32(arrays, f"{prefix}_base{number}_intercept")
            if coef.shape != (len(labels), dims[feature_set]) or intercept.shape != (len(labels),):
                raise ModelFormatError(f"{prefix} base {number} has the wrong shape")
            bases.append(BaseScorer(feature_set, LinearScorer(coef, intercept)))
        stacker = LinearScorer(
            _float32(arrays, f"{prefix}_stacker_coef"),
            _float32(arrays, f"{prefix}_stacker_intercept"),
        )
        if stacker.coef.shape != (len(labels), len(labels) * len(bases)):
            raise ModelFormatError(f"{prefix} stacker has the wrong shape")
        thresholds = _float32(arrays, f"{prefix}_thresholds")
        if thresholds.shape != (len(labels),):
            raise ModelFormatError(f"{prefix} thresholds have the wrong shape")
        heads[target] = TargetHead(target, labels, tuple(bases), stacker, thresholds)
    metadata = ModelMetadata(
        version=str(meta["version"]),
        trained_at=str(meta["trained_at"]),
        n_examples=int(meta["n_examples"]),
        label_sets={
            str(k): tuple(str(v) for v in values) for k, values in meta["label_sets"].items()
        },
        metrics={str(k): float(v) for k, v in meta["metrics"].items()},
        embedding_dim=int(meta["embedding_dim"]),
        encoder_name=str(meta["encoder_name"]),
        seed=int(meta["seed"]),
        target_precision=float(meta["target_precision"]),
        tree_fingerprint=str(meta["tree_fingerprint"]),
    )
    return TrainedModel(features, heads, metadata)
