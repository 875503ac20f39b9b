"""Training a model from labelled tickets (historical imports and agents' corrections).

Per target: out-of-fold scores of the base models (stratified K-fold) train the stacker that
calibrates them; a second cross-validation over those scores gives out-of-fold probabilities,
on which the abstention thresholds are chosen for the target precision. Base models are then
refitted on everything. All randomness comes from `TrainingConfig.seed`.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
from joblib import Parallel, delayed
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import RidgeClassifier
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits

from classifier.abstention import class_thresholds, coverage_at_precision
from classifier.combiner import (
    as_scorer,
    combined_logits,
    fit_combiner,
    log_prior,
    stack_scores,
)
from classifier.encoder import TextEncoder, encode_checked, normalise_rows
from classifier.errors import EncoderMismatchError, TrainingError
from classifier.features import FeatureConfig, TextFeatures, clean_text
from classifier.labels import Impact, LabelledExample, Target, Urgency
from classifier.linear import LinearScorer, softmax
from classifier.model import (
    BaseScorer,
    FeatureSet,
    ModelMetadata,
    TargetHead,
    TrainedModel,
    embedding_text,
)
from classifier.tree import CategoryTree


@dataclass(frozen=True, slots=True)
class TrainingProgress:
    """A progress report: `completed` of `total` steps done; `step` says what runs now."""

    step: str
    completed: int
    total: int


ProgressCallback = Callable[[TrainingProgress], None]


@dataclass(frozen=True, slots=True)
class TrainingConfig:
    """Settings of `train`; the defaults are the ones evaluated in `bench/`."""

    seed: int = 0
    folds: int = 5
    target_precision: float = 0.9
    features: FeatureConfig = field(default_factory=FeatureConfig)
    svm_c: float = 0.3
    word_svm_c: float = 0.3
    embedding_alpha: float = 1.0
    stacker_c: float = 1.0
    use_embeddings: bool = True
    # Candidate strengths of the prior correction (see `classifier.combiner`).
    prior_correction_grid: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
    # Fewer labelled examples than this (or a single label) and a target gets no head.
    min_examples: int = 10
    # A label predicted fewer times than this out of fold shares the pooled threshold.
    min_threshold_support: int = 20
    # Above this many examples, fewer folds: training time grows with folds x examples.
    large_dataset: int = 20_000
    large_dataset_folds: int = 3
    # Processes fitting folds at once (0: one per CPU), from `parallel_above` examples up (below
    # that, starting processes costs more than it saves). Processes, not threads: liblinear
    # draws from one C-global random generator, which threads would share. Every fit seeds it,
    # so the model does not depend on this number.
    jobs: int = 0
    parallel_above: int = 2_000

    def worker_count(self, n_examples: int, n_fits: int) -> int:
        """How many fits run at once for a head of `n_examples`."""
        if n_examples < self.parallel_above:
            return 1
        wanted = self.jobs if self.jobs > 0 else max(1, os.cpu_count() or 1)
        return max(1, min(wanted, n_fits))


@dataclass(frozen=True, slots=True)
class _Prepared:
    texts: tuple[str, ...]
    labels: dict[Target, list[str | None]]
    dropped: int
    # Position of each kept example in the input (to pick precomputed embedding rows).
    positions: tuple[int, ...]


def _prepare(examples: Iterable[LabelledExample], tree: CategoryTree) -> _Prepared:
    """Keep examples with text; keep labels that belong to the tree (never train on others)."""
    texts: list[str] = []
    labels: dict[Target, list[str | None]] = {target: [] for target in Target}
    dropped = 0
    positions: list[int] = []
    for position, example in enumerate(examples):
        if not example.text.strip():
            continue
        positions.append(position)
        category, subcategory = example.category, example.subcategory
        if subcategory is not None:
            if subcategory not in tree or tree.get(subcategory).parent is None:
                subcategory, dropped = None, dropped + 1
            elif category is None:
                category = tree.get(subcategory).parent
            elif not tree.is_subcategory_of(subcategory, category):
                subcategory, dropped = None, dropped + 1
        if category is not None and not tree.is_category(category):
            category, subcategory, dropped = None, None, dropped + 1
        texts.append(example.text)
        labels[Target.CATEGORY].append(category)
        labels[Target.SUBCATEGORY].append(subcategory)
        labels[Target.IMPACT].append(None if example.impact is None else str(example.impact))
        labels[Target.URGENCY].append(None if example.urgency is None else str(example.urgency))
    return _Prepared(tuple(texts), labels, dropped, tuple(positions))


def _label_order(target: Target, present: Iterable[str], tree: CategoryTree) -> tuple[str, ...]:
    """Labels in a stable order: tree order for categories, level order for impact/urgency."""
    seen = set(present)
    if target in (Target.CATEGORY, Target.SUBCATEGORY):
        order: Sequence[str] = tree.keys()
    elif target is Target.IMPACT:
        order = [level.value for level in Impact]
    else:
        order = [level.value for level in Urgency]
    return tuple(label for label in order if label in seen)


class _Steps:
    def __init__(self, total: int, callback: ProgressCallback | None) -> None:
        self.total, self.done, self._callback = total, 0, callback

    def advance(self, step: str) -> None:
        if self._callback is not None:
            self._callback(TrainingProgress(step, self.done, self.total))
        self.done += 1

    def finish(self) -> None:
        if self._callback is not None:
            self._callback(TrainingProgress("done", self.total, self.total))


Features = dict[FeatureSet, npt.NDArray[np.float32] | sparse.csr_matrix]


def _rows(
    matrix: npt.NDArray[np.float32] | sparse.csr_matrix, index: npt.NDArray[np.int64]
) -> npt.NDArray[np.float32] | sparse.csr_matrix:
    return matrix[index]


def _fit_bases(
    features: Features,
    index: npt.NDArray[np.int64],
    y: npt.NDArray[np.int64],
    n_labels: int,
    config: TrainingConfig,
) -> tuple[BaseScorer, ...]:
    # The word+character SVM weighs labels by inverse frequency (rare categories get found,
    # at almost no cost in accuracy); the word-only one does not, which keeps the two diverse.
    tfidf = LinearSVC(
        C=config.svm_c, class_weight="balanced", random_state=config.seed, max_iter=5000
    )
    words = LinearSVC(C=config.word_svm_c, random_state=config.seed, max_iter=5000)
    models: list[tuple[FeatureSet, LinearSVC | RidgeClassifier]] = [
        (FeatureSet.TFIDF, tfidf),
        (FeatureSet.WORDS, words),
    ]
    if FeatureSet.EMBEDDING in features:
        # Ridge on dense embeddings: as accurate as an SVM there and a hundred times faster
        # (one linear solve for all labels instead of a coordinate descent per label).
        models.append((FeatureSet.EMBEDDING, RidgeClassifier(alpha=config.embedding_alpha)))
    bases: list[BaseScorer] = []
    for feature_set, estimator in models:
        # One BLAS thread, in or outside a worker process: the sums of a multi-threaded BLAS
        # depend on the thread count, and the same examples must give the same model.
        with threadpool_limits(limits=1):
            estimator.fit(_rows(features[feature_set], index), y)
        scorer = LinearScorer.from_estimator(estimator, n_labels, halve_binary=False)
        bases.append(BaseScorer(feature_set, scorer))
    return tuple(bases)


def _meta(
    bases: Sequence[BaseScorer], features: Features, index: npt.NDArray[np.int64]
) -> npt.NDArray[np.float32]:
    return np.hstack([b.scorer.scores(_rows(features[b.features], index)) for b in bases])


def _choose_alpha(
    logits: npt.NDArray[np.float64],
    folds: Sequence[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]],
    y: npt.NDArray[np.int64],
    n_labels: int,
    config: TrainingConfig,
) -> float:
    """The prior correction with the best accuracy + macro-F1 out of fold (smallest on ties).

    Both count: accuracy is what most tickets feel, macro-F1 whether rare categories are ever
    found. The grid stops well short of full balancing, which swamps a help desk's common
    categories with guesses of labels seen a handful of times.
    """
    best_alpha, best_score = 0.0, -1.0
    for alpha in config.prior_correction_grid:
        adjusted = logits.copy()
        for train_part, test_part in folds:
            adjusted[test_part] -= alpha * log_prior(y[train_part], n_labels)
        predicted = adjusted.argmax(axis=1)
        score = float(np.mean(predicted == y)) + float(
            f1_score(y, predicted, average="macro", labels=np.arange(n_labels), zero_division=0)
        )
        if score > best_score + 1e-9:
            best_alpha, best_score = alpha, score
    return best_alpha


@dataclass(frozen=True)
class _HeadResult:
    head: TargetHead
    metrics: dict[str, float]


def _folds(
    y: npt.NDArray[np.int64], config: TrainingConfig
) -> list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
    wanted = config.large_dataset_folds if y.size > config.large_dataset else config.folds
    splitter = StratifiedKFold(n_splits=max(2, wanted), shuffle=True, random_state=config.seed)
    with warnings.catch_warnings():
        # Labels with fewer examples than folds are expected in a help desk's long tail.
        warnings.simplefilter("ignore", UserWarning)
        return [
            (tr.astype(np.int64), te.astype(np.int64))
            for tr, te in splitter.split(np.zeros(y.size), y)
        ]


@dataclass(frozen=True)
class _Plan:
    """One target to fit: its labels, the rows that carry one, their label numbers."""

    target: Target
    labels: tuple[str, ...]
    index: npt.NDArray[np.int64]
    y: npt.NDArray[np.int64]


def _fit_head(
    plan: _Plan, features: Features, config: TrainingConfig, steps: _Steps
) -> _HeadResult:
    target, labels, index, y = plan.target, plan.labels, plan.index, plan.y
    n_labels = len(labels)
    folds = _folds(y, config)
    width = (3 if FeatureSet.EMBEDDING in features else 2) * n_labels
    meta = np.zeros((y.size, width), dtype=np.float32)
    # The fold fits and the final fit are independent: run them side by side, collected in
    # order, so the result is the same whatever finishes first.
    parts = [train_part for train_part, _ in folds] + [np.arange(y.size, dtype=np.int64)]
    names = [f"{target}: fold {n} of {len(folds)}" for n in range(1, len(folds) + 1)]
    names.append(f"{target}: final fit")
    # With one worker joblib runs the fits in this process, one after another.
    workers = config.worker_count(y.size, len(parts))
    results: Iterable[tuple[BaseScorer, ...]] = Parallel(
        n_jobs=workers, backend="loky", return_as="generator"
    )(delayed(_fit_bases)(features, index[p], y[p], n_labels, config) for p in parts)
    fitted: list[tuple[BaseScorer, ...]] = []
    steps.advance(names[0])
    for number, bases in enumerate(results, start=1):
        fitted.append(bases)
        if number < len(names):
            steps.advance(names[number])
    for (_, test_part), fold_bases in zip(folds, fitted, strict=False):
        meta[test_part] = _meta(fold_bases, features, index[test_part])
    bases = fitted[-1]
    blocks = [meta[:, b * n_labels : (b + 1) * n_labels] for b in range(len(bases))]
    scores = stack_scores(blocks)
    # Out-of-fold combined logits (a second cross-validation over the base scores): the
    # prior correction and the thresholds are chosen on predictions for unseen examples.
    logits = np.zeros((y.size, n_labels))
    for train_part, test_part in folds:
        weights, bias = fit_combiner(scores[:, train_part], y[train_part], n_labels)
        logits[test_part] = combined_logits(scores[:, test_part], weights, bias)
    alpha = _choose_alpha(logits, folds, y, n_labels, config)
    correction = np.zeros_like(logits)
    for train_part, test_part in folds:
        correction[test_part] = alpha * log_prior(y[train_part], n_labels)
    probabilities = softmax((logits - correction).astype(np.float32))
    weights, bias = fit_combiner(scores, y, n_labels)
    stacker = as_scorer(weights, bias, alpha * log_prior(y, n_labels))
    predicted = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    correct = predicted == y
    thresholds = class_thresholds(
        predicted=predicted,
        confidence=confidence,
        correct=correct,
        n_labels=n_labels,
        target=config.target_precision,
        min_support=config.min_threshold_support,
    )
    kept = confidence >= thresholds[predicted]
    metrics = {
        f"oof.{target}.accuracy": float(correct.mean()),
        f"oof.{target}.macro_f1": float(f1_score(y, predicted, average="macro")),
        f"oof.{target}.coverage_at_target": coverage_at_precision(
            confidence, correct, config.target_precision
        ),
        f"oof.{target}.abstain_coverage": float(kept.mean()),
        f"oof.{target}.n": float(y.size),
        f"oof.{target}.prior_correction": alpha,
    }
    head = TargetHead(target, labels, bases, stacker, thresholds)
    return _HeadResult(head, metrics)


def _version(model_parts: Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for part in model_parts:
        digest.update(hashlib.sha256(part).digest())
    return "clf-" + digest.hexdigest()[:16]


def content_digest_parts(features: TextFeatures, heads: Iterable[TargetHead]) -> list[bytes]:
    """The bytes that identify a model's content (its version is a hash of them)."""
    parts: list[bytes] = []
    for state in features.states:
        parts.append(json.dumps([state.analyzer, state.ngram_range, state.terms]).encode())
        parts.append(state.idf.tobytes())
    for head in heads:
        parts.append(json.dumps([str(head.target), head.labels]).encode())
        for base in head.bases:
            parts.extend(
                [
                    str(base.features).encode(),
                    base.scorer.coef.tobytes(),
                    base.scorer.intercept.tobytes(),
                ]
            )
        parts.extend(
            [
                head.stacker.coef.tobytes(),
                head.stacker.intercept.tobytes(),
                head.thresholds.tobytes(),
            ]
        )
    return parts


def train(
    examples: Iterable[LabelledExample],
    tree: CategoryTree,
    *,
    encoder: TextEncoder | None = None,
    encoder_name: str = "",
    embeddings: npt.NDArray[np.float32] | None = None,
    config: TrainingConfig | None = None,
    progress: ProgressCallback | None = None,
    now: datetime | None = None,
) -> TrainedModel:
    """Train a model on labelled tickets; labels outside `tree` are ignored.

    With an encoder (and `config.use_embeddings`), sentence embeddings join the TF-IDF
    features; the model then needs the same encoder to predict. `encoder_name` is recorded so
    a change of embedding model can be noticed. `embeddings` (one row per example, in order,
    from that encoder) saves embedding texts again, e.g. vectors already stored for matching.
    Raises `TrainingError` when no target has
    enough labelled examples with two or more labels.
    """
    config = config or TrainingConfig()
    examples = list(examples)
    prepared = _prepare(examples, tree)
    plans: list[_Plan] = []
    for target in Target:
        values = prepared.labels[target]
        index = np.array([i for i, value in enumerate(values) if value is not None], np.int64)
        counts = Counter(value for value in values if value is not None)
        if index.size < config.min_examples or len(counts) < 2:
            continue
        labels = _label_order(target, counts, tree)
        position = {label: number for number, label in enumerate(labels)}
        y = np.array([position[str(values[i])] for i in index], dtype=np.int64)
        plans.append(_Plan(target, labels, index, y))
    if not plans:
        raise TrainingError(
            f"no target has {config.min_examples} labelled examples with two or more labels"
        )
    use_embeddings = (encoder is not None or embeddings is not None) and config.use_embeddings
    fold_count = sum(
        (config.large_dataset_folds if p.y.size > config.large_dataset else config.folds) + 1
        for p in plans
    )
    steps = _Steps(2 + fold_count, progress)

    steps.advance("text features")
    cleaned = [clean_text(text) for text in prepared.texts]
    text_features, tfidf = TextFeatures.fit_transform(cleaned, config.features)
    n_word = len(text_features.states[0].terms)
    features: Features = {FeatureSet.TFIDF: tfidf, FeatureSet.WORDS: tfidf[:, :n_word]}
    steps.advance("sentence embeddings")
    embedding_dim = 0
    if use_embeddings:
        if embeddings is not None:
            if embeddings.ndim != 2 or embeddings.shape[0] <= max(prepared.positions):
                raise EncoderMismatchError("one embedding row per example is needed")
            vectors = normalise_rows(embeddings[list(prepared.positions)])
        else:
            assert encoder is not None
            vectors = encode_checked(encoder, [embedding_text(t) for t in prepared.texts])
        if vectors.shape[0] != len(prepared.texts) or vectors.shape[1] == 0:
            raise EncoderMismatchError("encoder returned no usable embeddings")
        features[FeatureSet.EMBEDDING] = vectors
        embedding_dim = int(vectors.shape[1])

    heads: dict[Target, TargetHead] = {}
    metrics: dict[str, float] = {"dropped_labels": float(prepared.dropped)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for plan in plans:
            result = _fit_head(plan, features, config, steps)
            heads[plan.target] = result.head
            metrics.update(result.metrics)
    steps.finish()

    version = _version(content_digest_parts(text_features, heads.values()))
    metadata = ModelMetadata(
        version=version,
        trained_at=(now or datetime.now(UTC)).isoformat(timespec="seconds"),
        n_examples=len(prepared.texts),
        label_sets={str(target): head.labels for target, head in heads.items()},
        metrics=metrics,
        embedding_dim=embedding_dim,
        encoder_name=encoder_name if use_embeddings else "",
        seed=config.seed,
        target_precision=config.target_precision,
        tree_fingerprint=tree.fingerprint(),
    )
    return TrainedModel(text_features, heads, metadata)
