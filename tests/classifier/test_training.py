"""Contract tests of the trained model (synthetic tickets, fake encoder: seconds)."""

from dataclasses import replace

import numpy as np
import pytest

from classifier.classify import Classifier
from classifier.errors import EncoderMismatchError, ModelFormatError, TrainingError
from classifier.evaluation import evaluate
from classifier.labels import LabelledExample, Target
from classifier.model import TrainedModel
from classifier.storage import model_from_bytes, model_to_bytes
from classifier.training import TrainingConfig, TrainingProgress, train
from classifier.tree import CategoryNode, CategoryTree

from .conftest import FakeEncoder, synthetic_tickets


def test_learns_every_target_from_synthetic_tickets(
    trained: TrainedModel, default_tree: CategoryTree
) -> None:
    assert trained.targets() == frozenset(Target)
    heldout = list(synthetic_tickets(default_tree, per_sub=3, seed=99))
    report = evaluate(trained, heldout, default_tree, encoder=FakeEncoder())
    assert report.targets[Target.CATEGORY].accuracy > 0.8
    assert report.targets[Target.SUBCATEGORY].accuracy > 0.6
    assert report.targets[Target.URGENCY].accuracy > 0.8
    assert trained.metadata.metrics["oof.category.accuracy"] > 0.8


def test_labels_always_come_from_the_tree(
    synthetic: list[LabelledExample], default_tree: CategoryTree, fast_config: TrainingConfig
) -> None:
    strays = [LabelledExample("printer toner jam scanner", category="printing-dept")] * 20
    model = train(synthetic + strays, default_tree, config=fast_config)
    assert "printing-dept" not in model.metadata.label_sets["category"]
    assert model.metadata.metrics["dropped_labels"] == 20
    # A tree that lost a category since training: that label is never chosen.
    smaller = CategoryTree(
        node for node in default_tree if node.key != "hardware" and node.parent != "hardware"
    )
    result = Classifier(smaller, model).classify("printer paper jam toner queue scanner")
    assert result.category.label in {node.key for node in smaller.top_level()}
    assert result.subcategory.label is None or smaller.is_subcategory_of(
        result.subcategory.label, result.category.label or ""
    )


def test_same_seed_same_model(
    synthetic: list[LabelledExample], default_tree: CategoryTree, fast_config: TrainingConfig
) -> None:
    first = train(synthetic, default_tree, config=fast_config)
    second = train(synthetic, default_tree, config=fast_config)
    assert first.version == second.version
    texts = ["vpn certificate error from home", "toner empty"]
    a = first.predict(texts, Target.CATEGORY)
    b = second.predict(texts, Target.CATEGORY)
    assert a is not None
    assert b is not None
    np.testing.assert_array_equal(a.probabilities, b.probabilities)


def test_fitting_folds_in_several_processes_gives_the_same_model(
    synthetic: list[LabelledExample], default_tree: CategoryTree, fast_config: TrainingConfig
) -> None:
    # liblinear's random generator is C-global and a multi-threaded BLAS sums in an order
    # that depends on its thread count: neither may make the model depend on the process count.
    encoder = FakeEncoder()
    alone = replace(fast_config, jobs=1, parallel_above=0)
    together = replace(fast_config, jobs=2, parallel_above=0)
    assert together.worker_count(len(synthetic), 4) == 2
    first = train(synthetic, default_tree, encoder=encoder, encoder_name="fake", config=alone)
    second = train(synthetic, default_tree, encoder=encoder, encoder_name="fake", config=together)
    assert first.version == second.version


def test_round_trip_to_bytes(trained: TrainedModel, default_tree: CategoryTree) -> None:
    data = model_to_bytes(trained)
    loaded = model_from_bytes(data)
    assert loaded.version == trained.version
    assert loaded.metadata == trained.metadata
    encoder = FakeEncoder()
    texts = ["outlook asks for my password again", "laptop battery overheats"]
    for target in Target:
        before = trained.predict(texts, target, encoder=encoder)
        after = loaded.predict(texts, target, encoder=encoder)
        assert before is not None
        assert after is not None
        np.testing.assert_allclose(before.probabilities, after.probabilities, rtol=1e-6)
        np.testing.assert_array_equal(before.thresholds, after.thresholds)


@pytest.mark.parametrize("damage", [b"", b"PK\x03\x04garbage", b"\x00" * 100])
def test_damaged_bytes_are_a_format_error(damage: bytes) -> None:
    with pytest.raises(ModelFormatError):
        model_from_bytes(damage)


def test_truncated_model_is_a_format_error(trained: TrainedModel) -> None:
    data = model_to_bytes(trained)
    with pytest.raises(ModelFormatError):
        model_from_bytes(data[: len(data) // 2])


def test_abstains_on_out_of_domain_and_ambiguous_text(default_tree: CategoryTree) -> None:
    # A quarter of the tickets speak of two categories; their labels are a coin toss.
    examples = list(synthetic_tickets(default_tree, per_sub=10, seed=3, mixed=0.25))
    strict = TrainingConfig(folds=3, seed=1, target_precision=0.95, min_threshold_support=5)
    model = train(examples, default_tree, config=strict)
    classifier = Classifier(default_tree, model)
    assert classifier.classify("zebra quantum banana orchestra").category.abstained
    mixed = classifier.classify("printer offline paper jam toner vpn connect certificate home")
    assert mixed.category.abstained
    assert mixed.needs_triage
    clear = classifier.classify("printer offline paper jam toner queue scan")
    assert clear.category.label == "hardware"
    assert not clear.category.abstained


def test_model_with_embeddings_needs_the_encoder(trained: TrainedModel) -> None:
    assert trained.needs_encoder
    with pytest.raises(EncoderMismatchError):
        trained.predict(["x"], Target.CATEGORY)
    with pytest.raises(EncoderMismatchError):
        trained.predict(["x"], Target.CATEGORY, embeddings=np.zeros((1, 3), np.float32))


def test_progress_reports_every_step(
    synthetic: list[LabelledExample], default_tree: CategoryTree
) -> None:
    seen: list[TrainingProgress] = []
    examples = [LabelledExample(e.text, category=e.category) for e in synthetic]
    train(examples, default_tree, config=TrainingConfig(folds=2), progress=seen.append)
    assert [p.completed for p in seen] == list(range(len(seen)))
    assert seen[-1].step == "done"
    assert seen[-1].completed == seen[-1].total


def test_cannot_train_without_two_labels() -> None:
    tree = CategoryTree([CategoryNode("a", "A"), CategoryNode("b", "B")])
    with pytest.raises(TrainingError):
        train([LabelledExample(f"text {i}", category="a") for i in range(30)], tree)
    with pytest.raises(TrainingError):
        train([LabelledExample("", category="a"), LabelledExample("x", category="b")], tree)


def test_precomputed_embeddings_give_the_same_model(
    synthetic: list[LabelledExample], default_tree: CategoryTree
) -> None:
    examples = [LabelledExample(e.text, category=e.category) for e in synthetic]
    examples.insert(3, LabelledExample("   ", category="hardware"))  # dropped: no text
    encoder = FakeEncoder()
    config = TrainingConfig(folds=2)
    direct = train(examples, default_tree, encoder=encoder, config=config)
    vectors = encoder.encode([e.text for e in examples])
    reused = train(examples, default_tree, embeddings=vectors, config=config)
    assert reused.version == direct.version
    assert reused.metadata.embedding_dim == encoder.dim
