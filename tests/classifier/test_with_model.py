"""The classifier with the real sentence encoder (all-MiniLM-L6-v2): marked `model`."""

import numpy as np
import pytest

from classifier.classify import Classifier
from classifier.labels import Priority, Target
from classifier.storage import model_from_bytes, model_to_bytes
from classifier.training import TrainingConfig, train
from classifier.tree import CategoryTree
from classifier.zeroshot import ZeroShotModel

from .conftest import MiniLMEncoder, synthetic_tickets

pytestmark = pytest.mark.model

TICKETS = [
    ("I forgot my password and now I can't sign in to my computer", "accounts"),
    ("The printer on the second floor says paper jam and nothing prints", "hardware"),
    ("VPN keeps disconnecting when I work from home", "network"),
    ("I got a strange email asking me to confirm my bank details, I clicked the link", "security"),
    ("My mailbox is full and I can no longer send mail", "email"),
    ("Excel crashes with an error every time I open a large spreadsheet", "software"),
]


@pytest.fixture(scope="module")
def zero_shot_classifier(default_tree: CategoryTree, minilm: MiniLMEncoder) -> Classifier:
    model = ZeroShotModel(default_tree, minilm, encoder_name="all-MiniLM-L6-v2")
    return Classifier(default_tree, model, encoder=minilm)


def test_zero_shot_puts_everyday_tickets_in_the_right_category(
    zero_shot_classifier: Classifier,
) -> None:
    results = zero_shot_classifier.classify_many([text for text, _ in TICKETS])
    got = [result.category.label for result in results]
    assert got == [category for _, category in TICKETS]
    for result in results:
        assert result.subcategory.label is not None
        assert result.subcategory.label.startswith(f"{result.category.label}/")


def test_zero_shot_abstains_on_text_that_is_no_it_request(
    zero_shot_classifier: Classifier,
) -> None:
    result = zero_shot_classifier.classify("The quarterly picnic menu: grilled fish and salad")
    assert result.category.abstained


def test_priority_end_to_end(zero_shot_classifier: Classifier) -> None:
    result = zero_shot_classifier.classify("Production down: nobody in the company can log in")
    assert result.priority is Priority.P1


def test_trained_model_with_embeddings_round_trips(
    default_tree: CategoryTree, minilm: MiniLMEncoder
) -> None:
    examples = list(synthetic_tickets(default_tree, per_sub=4, seed=2))
    model = train(
        examples,
        default_tree,
        encoder=minilm,
        encoder_name="all-MiniLM-L6-v2",
        config=TrainingConfig(folds=2),
    )
    assert model.metadata.embedding_dim == 384
    loaded = model_from_bytes(model_to_bytes(model))
    texts = [text for text, _ in TICKETS]
    before = model.predict(texts, Target.CATEGORY, encoder=minilm)
    after = loaded.predict(texts, Target.CATEGORY, encoder=minilm)
    assert before is not None
    assert after is not None
    np.testing.assert_allclose(before.probabilities, after.probabilities, rtol=1e-5)
