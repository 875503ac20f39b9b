"""Measuring a model on held-out tickets, and the rule that decides a promotion.

`holdout_split` puts each ticket text on a fixed side by a hash of the text, so the held-out
part stays the same as examples accumulate and no model (current or candidate) is ever trained
on it: the comparison of a retrain with the current model is on the same unseen tickets.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import numpy.typing as npt
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from classifier.abstention import coverage_at_precision
from classifier.decode import Decisions, decide
from classifier.encoder import TextEncoder, encode_checked
from classifier.errors import ComparisonError
from classifier.labels import LabelledExample, Target
from classifier.model import embedding_text
from classifier.predictor import Predictor
from classifier.tree import CategoryTree


@dataclass(frozen=True, slots=True)
class ClassMetrics:
    """Precision, recall and F1 of one label, and how many held-out examples have it."""

    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class TargetMetrics:
    """Held-out quality of one target.

    `coverage_at_target`: the largest share of predictions one global confidence threshold can
    keep with precision >= the target (the precision-coverage curve). `abstain_coverage` and
    `abstain_precision`: what the model's own per-label thresholds keep, and how precise that is.
    """

    target: Target
    n: int
    accuracy: float
    macro_f1: float
    per_class: tuple[ClassMetrics, ...]
    coverage_at_target: float
    abstain_coverage: float
    abstain_precision: float


@dataclass(frozen=True)
class EvaluationReport:
    """Metrics of one model on one held-out set (identified by `heldout_fingerprint`)."""

    model_version: str
    heldout_fingerprint: str
    target_precision: float
    targets: Mapping[Target, TargetMetrics] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "targets", MappingProxyType(dict(self.targets)))

    def flat(self, prefix: str = "heldout") -> dict[str, float]:
        """Metrics as `{"heldout.category.accuracy": 0.91, ...}` for model metadata."""
        values: dict[str, float] = {}
        for target, metrics in self.targets.items():
            base = f"{prefix}.{target}"
            values[f"{base}.n"] = float(metrics.n)
            values[f"{base}.accuracy"] = metrics.accuracy
            values[f"{base}.macro_f1"] = metrics.macro_f1
            values[f"{base}.coverage_at_target"] = metrics.coverage_at_target
            values[f"{base}.abstain_coverage"] = metrics.abstain_coverage
        return values


def holdout_split(
    examples: Iterable[LabelledExample], fraction: float = 0.2, salt: str = "deskmail"
) -> tuple[list[LabelledExample], list[LabelledExample]]:
    """Split into (training, held-out) by a hash of each text: stable as examples are added."""
    if not 0.0 < fraction < 1.0:
        raise ValueError("fraction must be between 0 and 1")
    training: list[LabelledExample] = []
    heldout: list[LabelledExample] = []
    for example in examples:
        (heldout if is_heldout(example.text, fraction, salt) else training).append(example)
    return training, heldout


def is_heldout(text: str, fraction: float = 0.2, salt: str = "deskmail") -> bool:
    """The side of `holdout_split` a text falls on."""
    digest = hashlib.sha256(f"{salt}\0{text}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def heldout_fingerprint(examples: Sequence[LabelledExample]) -> str:
    """A hash of the held-out texts and labels: two reports compare only if theirs are equal."""
    digest = hashlib.sha256()
    for example in examples:
        for part in (
            example.text,
            example.category,
            example.subcategory,
            example.impact,
            example.urgency,
        ):
            digest.update(b"\1" if part is None else str(part).encode() + b"\0")
    return digest.hexdigest()[:16]


def decide_targets(
    predictor: Predictor,
    texts: Sequence[str],
    tree: CategoryTree,
    *,
    encoder: TextEncoder | None = None,
    embeddings: npt.NDArray[np.float32] | None = None,
) -> dict[Target, Decisions]:
    """Decisions for every target the predictor knows, the way `classify` makes them."""
    decisions: dict[Target, Decisions] = {}
    if embeddings is None and encoder is not None and predictor.needs_encoder:
        # Once for every target, not once per target.
        embeddings = encode_checked(encoder, [embedding_text(text) for text in texts])
    top = frozenset(node.key for node in tree.top_level())
    category = predictor.predict(texts, Target.CATEGORY, encoder=encoder, embeddings=embeddings)
    if category is not None:
        decisions[Target.CATEGORY] = decide(category, [top] * len(texts))
    sub = predictor.predict(texts, Target.SUBCATEGORY, encoder=encoder, embeddings=embeddings)
    if sub is not None:
        if Target.CATEGORY in decisions:
            chosen = decisions[Target.CATEGORY].labels
            allowed: list[frozenset[str] | None] = [
                frozenset(node.key for node in tree.children(label)) if label else frozenset()
                for label in chosen
            ]
        else:
            allowed = [frozenset(node.key for node in tree.subcategories())] * len(texts)
        decisions[Target.SUBCATEGORY] = decide(sub, allowed)
    for target in (Target.IMPACT, Target.URGENCY):
        result = predictor.predict(texts, target, encoder=encoder, embeddings=embeddings)
        if result is not None:
            decisions[target] = decide(result, [None] * len(texts))
    return decisions


def target_metrics(
    target: Target,
    truth: Sequence[str],
    decisions: Decisions,
    target_precision: float,
) -> TargetMetrics:
    """Metrics of one target from true labels and decisions (rows aligned)."""
    predicted = [label if label is not None else "\0none" for label in decisions.labels]
    correct = np.array([p == t for p, t in zip(predicted, truth, strict=True)], dtype=np.bool_)
    labels = sorted(set(truth) | {p for p in predicted if p != "\0none"})
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=labels, zero_division=0
    )
    per_class = tuple(
        ClassMetrics(label, float(p), float(r), float(f), int(s))
        for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
    )
    kept = ~decisions.abstained
    return TargetMetrics(
        target=target,
        n=len(truth),
        accuracy=float(accuracy_score(truth, predicted)),
        macro_f1=float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0)),
        per_class=per_class,
        coverage_at_target=coverage_at_precision(decisions.confidence, correct, target_precision),
        abstain_coverage=float(kept.mean()) if kept.size else 0.0,
        abstain_precision=float(correct[kept].mean()) if kept.any() else 0.0,
    )


def evaluate(
    predictor: Predictor,
    examples: Sequence[LabelledExample],
    tree: CategoryTree,
    *,
    encoder: TextEncoder | None = None,
    embeddings: npt.NDArray[np.float32] | None = None,
    target_precision: float = 0.9,
) -> EvaluationReport:
    """Accuracy, macro-F1, per-class figures and coverage of a model on held-out examples.

    Each target is measured on the examples that carry its label; the subcategory is decided
    under the predicted category, as in production.
    """
    texts = [example.text for example in examples]
    decisions = decide_targets(predictor, texts, tree, encoder=encoder, embeddings=embeddings)
    results: dict[Target, TargetMetrics] = {}
    for target, decided in decisions.items():
        rows = [i for i, example in enumerate(examples) if example.label(target) is not None]
        if not rows:
            continue
        truth = [str(examples[i].label(target)) for i in rows]
        subset = Decisions(
            labels=tuple(decided.labels[i] for i in rows),
            confidence=decided.confidence[rows],
            abstained=decided.abstained[rows],
        )
        results[target] = target_metrics(target, truth, subset, target_precision)
    return EvaluationReport(
        model_version=predictor.version,
        heldout_fingerprint=heldout_fingerprint(examples),
        target_precision=target_precision,
        targets=results,
    )


@dataclass(frozen=True, slots=True)
class PromotionPolicy:
    """How much worse than the current model a candidate may be and still be "not worse".

    Small tolerances absorb the noise of a held-out set of a few hundred tickets (one ticket in
    200 is 0.005); anything beyond is a real regression.
    """

    accuracy_tolerance: float = 0.005
    macro_f1_tolerance: float = 0.01
    coverage_tolerance: float = 0.02
    min_heldout: int = 20


@dataclass(frozen=True, slots=True)
class PromotionDecision:
    """Whether to promote, and why (one line per target compared)."""

    promote: bool
    reasons: tuple[str, ...]


def should_promote(
    new: EvaluationReport,
    current: EvaluationReport | None,
    policy: PromotionPolicy | None = None,
) -> PromotionDecision:
    """Promote `new` only if it is not worse than `current` on the same held-out examples.

    "Not worse" means, for every target both models predict: accuracy not lower by more than
    `accuracy_tolerance`, macro-F1 not lower by more than `macro_f1_tolerance`, and coverage at
    the target precision not lower by more than `coverage_tolerance`. A target the current model
    predicts and the candidate does not is a regression. With no current model, or no held-out
    example for any target, the candidate is promoted only when it has been measured at all.
    Raises `ComparisonError` when the reports come from different held-out sets.
    """
    policy = policy or PromotionPolicy()
    if current is None:
        measured = any(m.n >= policy.min_heldout for m in new.targets.values())
        reason = "no current model" if measured else "too few held-out examples to measure"
        return PromotionDecision(measured, (reason,))
    if new.heldout_fingerprint != current.heldout_fingerprint:
        raise ComparisonError("the two reports were measured on different held-out examples")
    reasons: list[str] = []
    promote = True
    for target, old in current.targets.items():
        candidate = new.targets.get(target)
        if candidate is None:
            promote = False
            reasons.append(f"{target}: the candidate does not predict it")
            continue
        checks = (
            ("accuracy", candidate.accuracy, old.accuracy, policy.accuracy_tolerance),
            ("macro-F1", candidate.macro_f1, old.macro_f1, policy.macro_f1_tolerance),
            (
                "coverage",
                candidate.coverage_at_target,
                old.coverage_at_target,
                policy.coverage_tolerance,
            ),
        )
        for name, mine, theirs, tolerance in checks:
            worse = mine < theirs - tolerance
            promote = promote and not worse
            verdict = "worse" if worse else "ok"
            reasons.append(f"{target} {name}: {mine:.3f} vs {theirs:.3f} ({verdict})")
    return PromotionDecision(promote, tuple(reasons))
