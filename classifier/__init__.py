"""Classification: category, subcategory and priority (impact x urgency) of a ticket.

Zero-shot from the category descriptions at first, a trained scikit-learn model once labelled
tickets exist; abstains below a per-class threshold. Imports only `models`.

Flow inside the package: `tree` (the help desk's categories, passed in) -> a model
(`zeroshot.ZeroShotModel`, or `training.train` -> `model.TrainedModel`, stored by `storage`)
-> `classify.Classifier` (decisions within the tree, `signals` and `assessment` for impact,
urgency and the `priority` matrix). `evaluation` measures a model on held-out tickets and
decides promotions; `csv_import` turns exported historical tickets into training examples.
"""

from classifier.assessment import (
    ImpactDecision,
    MajorIncident,
    PriorityAssessment,
    PriorityConfig,
    Requester,
    Source,
    TicketContext,
    UrgencyDecision,
    assess_priority,
)
from classifier.classify import Classifier, LabelPrediction, TicketClassification
from classifier.csv_import import CsvMapping, ImportedRow, iter_csv_rows, read_labelled_csv
from classifier.encoder import TextEncoder
from classifier.errors import (
    CategoryTreeError,
    ClassifierError,
    ComparisonError,
    CsvImportError,
    EncoderMismatchError,
    ModelFormatError,
    TrainingError,
)
from classifier.evaluation import (
    EvaluationReport,
    PromotionDecision,
    PromotionPolicy,
    evaluate,
    holdout_split,
    should_promote,
)
from classifier.labels import Impact, LabelledExample, Priority, Target, Urgency
from classifier.model import ModelMetadata, TrainedModel
from classifier.predictor import Predictor
from classifier.priority import PriorityMatrix
from classifier.retrain import RetrainResult, retrain
from classifier.signals import Signal, TextSignals, find_signals
from classifier.storage import model_from_bytes, model_to_bytes
from classifier.training import TrainingConfig, TrainingProgress, train
from classifier.tree import CategoryNode, CategoryTree
from classifier.zeroshot import ZeroShotConfig, ZeroShotModel

__all__ = [
    "CategoryNode",
    "CategoryTree",
    "CategoryTreeError",
    "Classifier",
    "ClassifierError",
    "ComparisonError",
    "CsvImportError",
    "CsvMapping",
    "EncoderMismatchError",
    "EvaluationReport",
    "Impact",
    "ImpactDecision",
    "ImportedRow",
    "LabelPrediction",
    "LabelledExample",
    "MajorIncident",
    "ModelFormatError",
    "ModelMetadata",
    "Predictor",
    "Priority",
    "PriorityAssessment",
    "PriorityConfig",
    "PriorityMatrix",
    "PromotionDecision",
    "PromotionPolicy",
    "Requester",
    "RetrainResult",
    "Signal",
    "Source",
    "Target",
    "TextEncoder",
    "TextSignals",
    "TicketClassification",
    "TicketContext",
    "TrainedModel",
    "TrainingConfig",
    "TrainingError",
    "TrainingProgress",
    "Urgency",
    "UrgencyDecision",
    "ZeroShotConfig",
    "ZeroShotModel",
    "assess_priority",
    "evaluate",
    "find_signals",
    "holdout_split",
    "iter_csv_rows",
    "model_from_bytes",
    "model_to_bytes",
    "read_labelled_csv",
    "retrain",
    "should_promote",
    "train",
]
