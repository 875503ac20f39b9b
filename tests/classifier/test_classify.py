"""The classify entry point: fallback model, tree consistency, priority context."""

from classifier.assessment import MajorIncident, Requester, TicketContext
from classifier.classify import Classifier
from classifier.labels import Impact, LabelledExample, Priority, Target, Urgency
from classifier.model import TrainedModel
from classifier.training import TrainingConfig, train
from classifier.tree import CategoryTree
from classifier.zeroshot import ZeroShotModel

from .conftest import FakeEncoder


def test_fallback_predicts_what_the_trained_model_lacks(
    synthetic: list[LabelledExample], default_tree: CategoryTree
) -> None:
    # Only categories were ever labelled: subcategories come from the zero-shot fallback.
    examples = [LabelledExample(e.text, category=e.category) for e in synthetic]
    encoder = FakeEncoder()
    model = train(examples, default_tree, config=TrainingConfig(folds=2))
    assert model.targets() == frozenset({Target.CATEGORY})
    fallback = ZeroShotModel(default_tree, encoder)
    classifier = Classifier(default_tree, model, fallback=fallback, encoder=encoder)
    result = classifier.classify("printer offline paper jam print job stuck in the queue")
    assert result.category.label == "hardware"
    assert result.category.model_version == model.version
    assert result.subcategory.label == "hardware/printer"
    assert result.subcategory.model_version == fallback.version
    assert result.model_version == model.version


def test_subcategory_always_under_the_category(
    trained: TrainedModel, default_tree: CategoryTree
) -> None:
    classifier = Classifier(default_tree, trained, encoder=FakeEncoder())
    texts = ["vpn certificate home", "toner printer", "mailbox full quota", "zebra banana"]
    for result in classifier.classify_many(texts):
        if result.subcategory.label is not None:
            assert default_tree.is_subcategory_of(
                result.subcategory.label, result.category.label or ""
            )


def test_context_reaches_the_priority(default_tree: CategoryTree) -> None:
    encoder = FakeEncoder()
    classifier = Classifier(default_tree, ZeroShotModel(default_tree, encoder), encoder=encoder)
    texts = ["VPN does not connect, certificate error", "VPN does not connect, certificate error"]
    incident = MajorIncident("INC-1", category="network", impact=Impact.ORGANISATION)
    contexts = [
        TicketContext(),
        TicketContext(requester=Requester(vip=True), open_major_incidents=(incident,)),
    ]
    plain, special = classifier.classify_many(texts, contexts)
    assert plain.category.label == "network"
    assert plain.priority is Priority.P4
    assert special.major_incident == "INC-1"
    assert special.impact.level is Impact.ORGANISATION
    assert special.urgency.level is Urgency.HIGH
    assert special.priority is Priority.P1


def test_empty_batch() -> None:
    tree = CategoryTree.flat(["a", "b"])
    assert Classifier(tree, ZeroShotModel(tree, FakeEncoder())).classify_many([]) == []
