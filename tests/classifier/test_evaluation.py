"""Held-out evaluation, the promotion rule and retraining."""

import random
from collections.abc import Sequence

import numpy as np
import pytest

from classifier.abstention import class_thresholds, coverage_at_precision, precision_threshold
from classifier.errors import ComparisonError
from classifier.evaluation import (
    EvaluationReport,
    PromotionPolicy,
    TargetMetrics,
    evaluate,
    heldout_fingerprint,
    holdout_split,
    should_promote,
)
from classifier.labels import LabelledExample, Target
from classifier.model import TrainedModel
from classifier.retrain import retrain
from classifier.training import TrainingConfig
from classifier.tree import CategoryTree

from .conftest import FakeEncoder, synthetic_tickets


def _report(
    accuracy: float, macro_f1: float, coverage: float, fingerprint: str = "f"
) -> EvaluationReport:
    metrics = TargetMetrics(Target.CATEGORY, 200, accuracy, macro_f1, (), coverage, 0.5, 0.9)
    return EvaluationReport("v", fingerprint, 0.9, {Target.CATEGORY: metrics})


def test_not_worse_within_tolerance_is_promoted() -> None:
    current = _report(0.90, 0.80, 0.70)
    assert should_promote(_report(0.897, 0.795, 0.69), current).promote
    assert should_promote(_report(0.95, 0.85, 0.80), current).promote


@pytest.mark.parametrize("candidate", [(0.88, 0.80, 0.70), (0.90, 0.78, 0.70), (0.90, 0.80, 0.60)])
def test_worse_on_any_measure_is_not_promoted(candidate: tuple[float, float, float]) -> None:
    decision = should_promote(_report(*candidate), _report(0.90, 0.80, 0.70))
    assert not decision.promote
    assert any("worse" in reason for reason in decision.reasons)


def test_reports_from_different_heldout_sets_do_not_compare() -> None:
    with pytest.raises(ComparisonError):
        should_promote(_report(0.9, 0.9, 0.9, "a"), _report(0.9, 0.9, 0.9, "b"))


def test_first_model_needs_enough_heldout_examples() -> None:
    assert should_promote(_report(0.5, 0.5, 0.5), None).promote
    assert not should_promote(
        _report(0.5, 0.5, 0.5), None, PromotionPolicy(min_heldout=500)
    ).promote


def test_holdout_split_is_stable_as_examples_grow() -> None:
    first = [LabelledExample(f"ticket {i}", category="a") for i in range(200)]
    more = first + [LabelledExample(f"ticket {i}", category="a") for i in range(200, 400)]
    _, heldout_small = holdout_split(first)
    _, heldout_large = holdout_split(more)
    assert {e.text for e in heldout_small} <= {e.text for e in heldout_large}
    assert 20 < len(heldout_small) < 60
    assert heldout_fingerprint(heldout_small) != heldout_fingerprint(heldout_large)


def test_evaluate_reports_per_class_figures(
    trained: TrainedModel, default_tree: CategoryTree
) -> None:
    heldout = list(synthetic_tickets(default_tree, per_sub=2, seed=5))
    report = evaluate(trained, heldout, default_tree, encoder=FakeEncoder())
    category = report.targets[Target.CATEGORY]
    assert category.n == len(heldout)
    assert {c.label for c in category.per_class} >= {"accounts", "hardware"}
    assert 0.0 <= category.coverage_at_target <= 1.0
    assert set(report.flat()) >= {"heldout.category.accuracy", "heldout.urgency.macro_f1"}


def _shuffled(examples: Sequence[LabelledExample], seed: int) -> list[LabelledExample]:
    rng = random.Random(seed)
    labels = [(e.category, e.subcategory) for e in examples]
    rng.shuffle(labels)
    return [
        LabelledExample(e.text, category=c, subcategory=s)
        for e, (c, s) in zip(examples, labels, strict=True)
    ]


def test_a_worse_retrain_is_not_promoted(
    trained: TrainedModel, default_tree: CategoryTree, synthetic: list[LabelledExample]
) -> None:
    config = TrainingConfig(folds=2, seed=3)
    encoder = FakeEncoder()
    good = retrain(synthetic, default_tree, current=None, encoder=encoder, config=config)
    assert good.decision.promote
    assert good.candidate.metadata.metrics["heldout.category.accuracy"] > 0.8
    # A bad import scrambles the labels of new training examples; the held-out tickets keep
    # theirs. The candidate learns noise and must not replace the current model.
    training, heldout = holdout_split(synthetic)
    noisy = _shuffled(training, seed=11) + heldout
    bad = retrain(noisy, default_tree, current=good.candidate, encoder=encoder, config=config)
    assert not bad.decision.promote
    assert bad.current_report is not None
    assert bad.current_report.heldout_fingerprint == bad.candidate_report.heldout_fingerprint
    assert bad.candidate_report.targets[Target.CATEGORY].accuracy < 0.5


def test_precision_threshold_and_coverage() -> None:
    confidence = np.array([0.99, 0.95, 0.9, 0.8, 0.7, 0.6])
    correct = np.array([True, True, True, False, True, False])
    assert precision_threshold(confidence, correct, 0.8) == pytest.approx(0.7)
    assert precision_threshold(confidence, correct, 1.0) == pytest.approx(0.9)
    assert coverage_at_precision(confidence, correct, 1.0) == pytest.approx(0.5)
    assert coverage_at_precision(confidence, ~correct, 0.9) == 0.0
    thresholds = class_thresholds(
        predicted=np.array([0, 0, 0, 1, 1, 1]),
        confidence=confidence,
        correct=correct,
        n_labels=3,
        target=1.0,
        min_support=2,
    )
    assert thresholds[0] == pytest.approx(0.9)
    assert thresholds[1] > 1.0  # label 1 is never right often enough: always abstain
    assert thresholds[2] == pytest.approx(0.9)  # never predicted: the pooled threshold


def test_retrain_with_precomputed_embeddings(
    synthetic: list[LabelledExample], default_tree: CategoryTree
) -> None:
    examples = [LabelledExample(e.text, category=e.category) for e in synthetic]
    encoder = FakeEncoder()
    config = TrainingConfig(folds=2)
    direct = retrain(examples, default_tree, current=None, encoder=encoder, config=config)
    vectors = encoder.encode([e.text for e in examples])
    reused = retrain(examples, default_tree, current=None, embeddings=vectors, config=config)
    assert reused.candidate.version == direct.candidate.version
    assert reused.candidate_report.flat() == direct.candidate_report.flat()
