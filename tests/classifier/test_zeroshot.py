"""Zero-shot classification from the tree's descriptions (fake encoder: no model)."""

import numpy as np
import pytest

from classifier.classify import Classifier
from classifier.errors import EncoderMismatchError
from classifier.labels import Target
from classifier.tree import CategoryTree
from classifier.zeroshot import ZeroShotConfig, ZeroShotModel

from .conftest import FakeEncoder


@pytest.fixture
def zero_shot(default_tree: CategoryTree, fake_encoder: FakeEncoder) -> ZeroShotModel:
    return ZeroShotModel(default_tree, fake_encoder, encoder_name="fake")


@pytest.mark.parametrize(
    "case",
    [
        ("Forgotten password, it expired and I cannot log in", "accounts", "accounts/password"),
        (
            "Printer offline, paper jam, print job stuck in the queue",
            "hardware",
            "hardware/printer",
        ),
        ("VPN does not connect, certificate error from home", "network", "network/vpn"),
    ],
)
def test_classifies_from_descriptions(
    zero_shot: ZeroShotModel,
    default_tree: CategoryTree,
    fake_encoder: FakeEncoder,
    case: tuple[str, str, str],
) -> None:
    text, category, subcategory = case
    result = Classifier(default_tree, zero_shot, encoder=fake_encoder).classify(text)
    assert result.category.label == category
    assert result.subcategory.label == subcategory
    assert result.model_version.startswith("zeroshot-")


def test_out_of_domain_text_abstains(
    zero_shot: ZeroShotModel, default_tree: CategoryTree, fake_encoder: FakeEncoder
) -> None:
    result = Classifier(default_tree, zero_shot, encoder=fake_encoder).classify(
        "zebra quantum banana orchestra"
    )
    assert result.category.abstained
    assert result.needs_triage


def test_probabilities_cover_the_tree_only(
    zero_shot: ZeroShotModel, default_tree: CategoryTree
) -> None:
    result = zero_shot.predict(["outlook mailbox full"], Target.CATEGORY)
    assert result is not None
    assert set(result.labels) == {node.key for node in default_tree.top_level()}
    np.testing.assert_allclose(result.probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert zero_shot.predict(["x"], Target.URGENCY) is None


def test_version_follows_tree_and_settings(
    default_tree: CategoryTree, fake_encoder: FakeEncoder
) -> None:
    one = ZeroShotModel(default_tree, fake_encoder)
    assert one.version == ZeroShotModel(default_tree, fake_encoder).version
    other = ZeroShotModel(default_tree, fake_encoder, config=ZeroShotConfig(temperature=0.1))
    assert other.version != one.version


def test_precomputed_embeddings_of_the_wrong_size_are_refused(zero_shot: ZeroShotModel) -> None:
    with pytest.raises(EncoderMismatchError):
        zero_shot.predict(["a"], Target.CATEGORY, embeddings=np.zeros((1, 7), np.float32))
