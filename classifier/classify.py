"""The classify stage's entry point: one ticket text in, category, subcategory, priority out.

`Classifier` holds the help desk's tree, the current model and (optionally) a fallback model
for the targets the current one does not predict (typically the zero-shot model behind a
trained model that has no subcategory labels yet). Every label comes from the tree: labels a
model knows but the tree no longer has are never chosen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from classifier.assessment import (
    ImpactDecision,
    ModelLevel,
    PriorityConfig,
    TicketContext,
    UrgencyDecision,
    assess_priority,
)
from classifier.decode import Decisions, decide
from classifier.encoder import TextEncoder, encode_checked
from classifier.labels import Priority, Target
from classifier.model import embedding_text
from classifier.predictor import Predictor
from classifier.signals import Signal, find_signals
from classifier.tree import CategoryTree


@dataclass(frozen=True, slots=True)
class LabelPrediction:
    """A category or subcategory decision.

    `label` is a key of the tree, or None when nothing can be said (no model predicts it, or
    the category has no subcategories). `abstained` sends the ticket to triage: the label is
    the model's best guess, below the confidence the help desk asked for.
    """

    label: str | None
    confidence: float
    abstained: bool
    model_version: str


@dataclass(frozen=True, slots=True)
class TicketClassification:
    """Everything the classify stage decides for one ticket."""

    category: LabelPrediction
    subcategory: LabelPrediction
    impact: ImpactDecision
    urgency: UrgencyDecision
    priority: Priority
    signals: tuple[Signal, ...]
    major_incident: str | None
    model_version: str

    @property
    def needs_triage(self) -> bool:
        """True when a person should check the category (abstained or unknown)."""
        return self.category.abstained or self.category.label is None


_NOTHING = LabelPrediction(label=None, confidence=0.0, abstained=True, model_version="")


class Classifier:
    """Classifies ticket texts with a model, a fallback, the tree and the priority policy."""

    def __init__(
        self,
        tree: CategoryTree,
        model: Predictor,
        *,
        fallback: Predictor | None = None,
        encoder: TextEncoder | None = None,
        priority: PriorityConfig | None = None,
    ) -> None:
        self.tree = tree
        self.model = model
        self.fallback = fallback
        self.encoder = encoder
        self.priority = priority or PriorityConfig()

    def _for(self, target: Target) -> Predictor | None:
        if target in self.model.targets():
            return self.model
        if self.fallback is not None and target in self.fallback.targets():
            return self.fallback
        return None

    def classify(
        self,
        text: str,
        context: TicketContext | None = None,
        *,
        embedding: npt.NDArray[np.float32] | None = None,
    ) -> TicketClassification:
        """Classify one ticket (subject and body as one text)."""
        rows = None if embedding is None else embedding.reshape(1, -1)
        return self.classify_many([text], [context or TicketContext()], embeddings=rows)[0]

    def classify_many(
        self,
        texts: Sequence[str],
        contexts: Sequence[TicketContext] | None = None,
        *,
        embeddings: npt.NDArray[np.float32] | None = None,
    ) -> list[TicketClassification]:
        """Classify a batch (embeddings, if given, must come from the models' encoder)."""
        if not texts:
            return []
        contexts = contexts or [TicketContext()] * len(texts)
        predictors = {target: self._for(target) for target in Target}
        needs_embeddings = any(p is not None and p.needs_encoder for p in predictors.values())
        if embeddings is None and needs_embeddings and self.encoder is not None:
            embeddings = encode_checked(self.encoder, [embedding_text(t) for t in texts])
        decisions: dict[Target, tuple[Decisions, str]] = {}
        categories: tuple[str | None, ...] = (None,) * len(texts)
        for target in Target:
            predictor = predictors[target]
            if predictor is None:
                continue
            result = predictor.predict(texts, target, encoder=self.encoder, embeddings=embeddings)
            if result is None:
                continue
            if target is Target.CATEGORY:
                top = frozenset(node.key for node in self.tree.top_level())
                allowed: list[frozenset[str] | None] = [top] * len(texts)
            elif target is Target.SUBCATEGORY:
                allowed = [
                    frozenset(node.key for node in self.tree.children(label))
                    if label
                    else frozenset()
                    for label in categories
                ]
            else:
                allowed = [None] * len(texts)
            decided = decide(result, allowed)
            decisions[target] = (decided, predictor.version)
            if target is Target.CATEGORY:
                categories = decided.labels
        return [
            self._assemble(row, text, context, decisions)
            for row, (text, context) in enumerate(zip(texts, contexts, strict=True))
        ]

    def _assemble(
        self,
        row: int,
        text: str,
        context: TicketContext,
        decisions: dict[Target, tuple[Decisions, str]],
    ) -> TicketClassification:
        def label(target: Target) -> LabelPrediction:
            if target not in decisions:
                return _NOTHING
            decided, version = decisions[target]
            chosen = decided.labels[row]
            if chosen is None:
                return LabelPrediction(None, 0.0, True, version)
            return LabelPrediction(
                chosen, float(decided.confidence[row]), bool(decided.abstained[row]), version
            )

        def level(target: Target) -> ModelLevel | None:
            found = label(target)
            if found.label is None:
                return None
            return ModelLevel(found.label, found.confidence, found.abstained)

        category = label(Target.CATEGORY)
        subcategory = label(Target.SUBCATEGORY)
        if category.label is None:
            subcategory = _NOTHING
        elif category.abstained and subcategory.label is not None:
            # A subcategory under an uncertain category is no more certain than it.
            subcategory = LabelPrediction(
                subcategory.label, subcategory.confidence, True, subcategory.model_version
            )
        signals = find_signals(text)
        assessment = assess_priority(
            signals,
            category=category.label,
            model_impact=level(Target.IMPACT),
            model_urgency=level(Target.URGENCY),
            context=context,
            config=self.priority,
        )
        return TicketClassification(
            category=category,
            subcategory=subcategory,
            impact=assessment.impact,
            urgency=assessment.urgency,
            priority=assessment.priority,
            signals=signals.signals,
            major_incident=assessment.major_incident,
            model_version=self.model.version,
        )
