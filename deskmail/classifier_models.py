"""Model versions of the classifier: train with promotion, evaluate, list, roll back.

The use cases behind `deskmail classifier train|evaluate|versions|rollback` and the web UI's
model page. Every trained model is stored in `classifier_model` (status candidate, active or
retired) with its metrics and the promotion decision; the classify stage of every process loads
the active one (`deskmail.classification.ClassificationService`).

A retrain is compared with the model in use on the held-out examples (a fixed share, chosen by
a hash of each text, that no model is trained on) and promoted only if it is not worse
(docs/decisions/0043). Both sides are measured as they would classify: a trained model with the
zero-shot model behind it for the targets it lacks (typically subcategories before anyone
labelled one), so a first model with categories only can replace zero-shot without being
blamed for the subcategories zero-shot keeps predicting.

Training is CPU-heavy (seconds to minutes). The CLI runs it synchronously; a server calls it
through `TrainingRunner`, which runs one training at a time on a thread of its own, so an event
loop never waits for it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from classifier import (
    EvaluationReport,
    LabelledExample,
    PromotionDecision,
    Target,
    TextEncoder,
    TrainedModel,
    TrainingProgress,
    ZeroShotModel,
    evaluate,
    holdout_split,
    model_from_bytes,
    model_to_bytes,
    should_promote,
    train,
)
from classifier import Predictor as PredictorProtocol
from deskmail.classification import (
    ClassificationError,
    ClassificationService,
    promotion_policy,
    training_config,
)
from deskmail.training_data import load_examples
from models import ClassifierModel, Event, ModelStatus, utcnow

if TYPE_CHECKING:
    # The return type of the public `classifier.Predictor` protocol.
    from classifier.predictor import TargetProbabilities

log = logging.getLogger(__name__)

ProgressCallback = Callable[[TrainingProgress], None]
# Texts embedded per step of the progress bar (each step's vectors are stored at once).
EMBED_CHUNK = 256


class WithFallback:
    """A trained model with the zero-shot model behind it for the targets it does not predict:
    what `classifier.Classifier` runs, as one `Predictor` for evaluation."""

    def __init__(self, primary: PredictorProtocol, fallback: PredictorProtocol | None) -> None:
        self.primary = primary
        self.fallback = fallback

    @property
    def version(self) -> str:
        return self.primary.version

    @property
    def needs_encoder(self) -> bool:
        return self.primary.needs_encoder or (
            self.fallback is not None and self.fallback.needs_encoder
        )

    def targets(self) -> frozenset[Target]:
        extra = self.fallback.targets() if self.fallback is not None else frozenset()
        return self.primary.targets() | extra

    def predict(
        self,
        texts: Sequence[str],
        target: Target,
        *,
        encoder: TextEncoder | None = None,
        embeddings: npt.NDArray[np.float32] | None = None,
    ) -> TargetProbabilities | None:
        if target in self.primary.targets():
            return self.primary.predict(texts, target, encoder=encoder, embeddings=embeddings)
        if self.fallback is not None:
            return self.fallback.predict(texts, target, encoder=encoder, embeddings=embeddings)
        return None


def in_use(trained: TrainedModel | None, zero_shot: ZeroShotModel | None) -> PredictorProtocol:
    """The predictor a process classifies with: a trained model over zero-shot, or zero-shot."""
    if trained is not None:
        return WithFallback(trained, zero_shot)
    if zero_shot is None:
        raise ClassificationError("there are no active categories to classify into")
    return zero_shot


# --- training -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainResult:
    """A training run: the candidate, both held-out reports and what was decided."""

    version: str
    promoted: bool
    reasons: tuple[str, ...]
    compared_with: str
    candidate_report: EvaluationReport
    current_report: EvaluationReport | None
    n_examples: int
    n_training: int
    n_heldout: int
    already_stored: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "promoted": self.promoted,
            "reasons": list(self.reasons),
            "compared_with": self.compared_with,
            "examples": self.n_examples,
            "training": self.n_training,
            "heldout": self.n_heldout,
            "already_stored": self.already_stored,
            "candidate": report_json(self.candidate_report),
            "current": report_json(self.current_report) if self.current_report else None,
        }


def report_json(report: EvaluationReport) -> dict[str, Any]:
    """A held-out report as plain data (per target: figures and per-class precision/recall)."""
    return {
        "model_version": report.model_version,
        "heldout_fingerprint": report.heldout_fingerprint,
        "target_precision": report.target_precision,
        "targets": {
            str(target): {
                "n": metrics.n,
                "accuracy": round(metrics.accuracy, 4),
                "macro_f1": round(metrics.macro_f1, 4),
                "coverage_at_target": round(metrics.coverage_at_target, 4),
                "abstain_coverage": round(metrics.abstain_coverage, 4),
                "abstain_precision": round(metrics.abstain_precision, 4),
                "per_class": [
                    {
                        "label": c.label,
                        "precision": round(c.precision, 4),
                        "recall": round(c.recall, 4),
                        "f1": round(c.f1, 4),
                        "support": c.support,
                    }
                    for c in metrics.per_class
                ],
            }
            for target, metrics in report.targets.items()
        },
    }


def embed_examples(
    service: ClassificationService,
    examples: Sequence[LabelledExample],
    progress: ProgressCallback | None = None,
    step: str = "embedding",
) -> npt.NDArray[np.float32]:
    """Vectors of the examples' texts, in chunks (each stored as it is made: a rerun is cheap)."""
    parts: list[npt.NDArray[np.float32]] = []
    total = len(examples)
    for start in range(0, total, EMBED_CHUNK):
        if progress is not None:
            progress(TrainingProgress(step, start, total))
        chunk = [example.text for example in examples[start : start + EMBED_CHUNK]]
        parts.append(service.embed(chunk))
    if progress is not None:
        progress(TrainingProgress(step, total, total))
    if not parts:
        return np.zeros((0, 0), dtype=np.float32)
    return np.vstack(parts).astype(np.float32)


def _decide(
    service: ClassificationService,
    candidate: EvaluationReport,
    current: EvaluationReport,
    n_heldout: int,
) -> PromotionDecision:
    policy = promotion_policy(service.settings)
    if n_heldout < policy.min_heldout:
        return PromotionDecision(
            False,
            (f"too few held-out examples to compare ({n_heldout} < {policy.min_heldout})",),
        )
    return should_promote(candidate, current, policy)


def train_classifier(
    service: ClassificationService,
    *,
    actor: str,
    progress: ProgressCallback | None = None,
    promote: bool = True,
    now: datetime | None = None,
) -> TrainResult:
    """Train on every example, compare with the model in use, store, promote if not worse.

    `promote=False` stores the candidate without promoting it (its decision is recorded).
    Raises `classifier.TrainingError` when there are too few labelled examples.
    """
    app = service.app
    settings = service.settings
    snapshot = service.refresh(force=True)
    if snapshot.zero_shot is None:
        raise ClassificationError("there are no active categories to train for")
    with app.read_sessions() as session:
        examples = load_examples(session)
    training, heldout = holdout_split(examples, settings.heldout_fraction)
    train_rows = None
    if settings.use_embeddings and training:
        train_rows = embed_examples(service, training, progress, "embedding training examples")
    heldout_rows = (
        embed_examples(service, heldout, progress, "embedding held-out examples")
        if heldout
        else None
    )
    candidate = train(
        training,
        snapshot.tree,
        encoder=service.encoder,
        encoder_name=service.embedder.model_key,
        embeddings=train_rows,
        config=training_config(settings),
        progress=progress,
        now=now,
    )
    current = in_use(snapshot.trained, snapshot.zero_shot)
    target_precision = settings.target_precision
    candidate_report = evaluate(
        WithFallback(candidate, snapshot.zero_shot),
        heldout,
        snapshot.tree,
        encoder=service.encoder,
        embeddings=heldout_rows,
        target_precision=target_precision,
    )
    current_report = evaluate(
        current,
        heldout,
        snapshot.tree,
        encoder=service.encoder,
        embeddings=heldout_rows,
        target_precision=target_precision,
    )
    decision = _decide(service, candidate_report, current_report, len(heldout))
    candidate = candidate.with_metrics(candidate_report.flat())
    with app.sessions() as session, session.begin():
        promoted, reasons, existing = _store(
            session,
            candidate,
            decision,
            compared_with=current.version,
            expected_active=snapshot.active_version,
            promote=promote,
            actor=actor,
            current_metrics=current_report.flat(),
        )
    service.refresh(force=True)
    return TrainResult(
        version=candidate.version,
        promoted=promoted,
        reasons=reasons,
        compared_with=current.version,
        candidate_report=candidate_report,
        current_report=current_report,
        n_examples=len(examples),
        n_training=len(training),
        n_heldout=len(heldout),
        already_stored=existing,
    )


def _active(session: Session) -> ClassifierModel | None:
    return session.execute(
        select(ClassifierModel)
        .where(ClassifierModel.status == ModelStatus.ACTIVE)
        .order_by(ClassifierModel.promoted_at.desc(), ClassifierModel.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def _activate(session: Session, row: ClassifierModel) -> None:
    """Make `row` the one active model (every other active one is retired)."""
    for other in session.execute(
        select(ClassifierModel).where(
            ClassifierModel.status == ModelStatus.ACTIVE, ClassifierModel.id != row.id
        )
    ).scalars():
        other.status = ModelStatus.RETIRED
    row.status = ModelStatus.ACTIVE
    row.promoted_at = utcnow()


def _store(
    session: Session,
    model: TrainedModel,
    decision: PromotionDecision,
    *,
    compared_with: str,
    expected_active: str | None,
    promote: bool,
    actor: str,
    current_metrics: dict[str, float],
) -> tuple[bool, tuple[str, ...], bool]:
    reasons = list(decision.reasons)
    will_promote = decision.promote and promote
    if decision.promote and not promote:
        reasons.append("not promoted: asked to store the candidate only")
    active = _active(session)
    if will_promote and (active.version if active else None) != expected_active:
        # Another process promoted or rolled back while this one trained: the comparison no
        # longer holds.
        will_promote = False
        reasons.append("not promoted: the active model changed during training; train again")
    meta = model.metadata
    row = session.execute(
        select(ClassifierModel).where(ClassifierModel.version == model.version)
    ).scalar_one_or_none()
    existing = row is not None
    if row is None:
        row = ClassifierModel(
            version=model.version,
            status=ModelStatus.CANDIDATE,
            blob=model_to_bytes(model),
            n_examples=meta.n_examples,
            trained_at=datetime.fromisoformat(meta.trained_at),
        )
        session.add(row)
    elif row.status == ModelStatus.ACTIVE:
        will_promote = False
        reasons.append("identical to the active model")
    row.metrics = dict(meta.metrics)
    row.label_sets = {key: list(value) for key, value in meta.label_sets.items()}
    row.encoder_name = meta.encoder_name
    row.embedding_dim = meta.embedding_dim
    row.tree_fingerprint = meta.tree_fingerprint
    row.decision = {
        "promote": will_promote,
        "reasons": reasons,
        "compared_with": compared_with,
        "current_metrics": current_metrics,
        "trained_by": actor,
    }
    session.flush()
    if will_promote:
        _activate(session, row)
    session.add(
        Event(
            ticket_id=None,
            kind="classifier_promoted" if will_promote else "classifier_trained",
            actor=actor,
            data={"version": model.version, "compared_with": compared_with, "reasons": reasons},
        )
    )
    log.info(
        "classifier %s trained on %s examples: %s",
        model.version,
        meta.n_examples,
        "promoted" if will_promote else "not promoted",
    )
    return will_promote, tuple(reasons), existing


# --- evaluation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EvaluationResult:
    """A model measured on the held-out examples."""

    version: str
    report: EvaluationReport
    n_heldout: int

    def as_json(self) -> dict[str, Any]:
        return {"version": self.version, "heldout": self.n_heldout, **report_json(self.report)}


def evaluate_classifier(
    service: ClassificationService,
    *,
    version: str | None = None,
    progress: ProgressCallback | None = None,
) -> EvaluationResult:
    """Accuracy, macro-F1, per-class precision and recall and coverage at the target precision
    of the model in use (or a stored `version`, with zero-shot behind it) on the held-out part
    of the examples."""
    app = service.app
    snapshot = service.refresh(force=True)
    with app.read_sessions() as session:
        examples = load_examples(session)
        if version is None:
            predictor = in_use(snapshot.trained, snapshot.zero_shot)
        else:
            predictor = WithFallback(_stored_model(session, version), snapshot.zero_shot)
    _training, heldout = holdout_split(examples, service.settings.heldout_fraction)
    if not heldout:
        raise ClassificationError("no held-out examples: import or correct tickets first")
    rows = embed_examples(service, heldout, progress, "embedding held-out examples")
    report = evaluate(
        predictor,
        heldout,
        snapshot.tree,
        encoder=service.encoder,
        embeddings=rows,
        target_precision=service.settings.target_precision,
    )
    return EvaluationResult(predictor.version, report, len(heldout))


def _stored_model(session: Session, version: str) -> TrainedModel:
    blob = session.execute(
        select(ClassifierModel.blob).where(ClassifierModel.version == version)
    ).scalar_one_or_none()
    if blob is None:
        raise ClassificationError(f"no stored model {version[:100]!r}")
    return model_from_bytes(blob)


# --- versions and rollback ----------------------------------------------------------------


@dataclass(frozen=True)
class ModelVersion:
    """One stored model, for `deskmail classifier versions` and the web UI."""

    version: str
    status: str
    trained_at: str
    promoted_at: str | None
    n_examples: int
    encoder_name: str
    label_sets: dict[str, list[str]]
    metrics: dict[str, float]
    decision: dict[str, Any] = field(default_factory=dict)

    def heldout(self, target: str, name: str) -> float | None:
        value = self.metrics.get(f"heldout.{target}.{name}")
        return float(value) if isinstance(value, int | float) else None

    def as_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "status": self.status,
            "trained_at": self.trained_at,
            "promoted_at": self.promoted_at,
            "examples": self.n_examples,
            "encoder": self.encoder_name,
            "labels": {key: len(value) for key, value in self.label_sets.items()},
            "heldout": {
                key.removeprefix("heldout."): value
                for key, value in self.metrics.items()
                if key.startswith("heldout.")
            },
            "decision": self.decision,
        }


def list_versions(session: Session) -> list[ModelVersion]:
    """Every stored model, newest first."""
    rows = session.execute(
        select(
            ClassifierModel.version,
            ClassifierModel.status,
            ClassifierModel.trained_at,
            ClassifierModel.promoted_at,
            ClassifierModel.n_examples,
            ClassifierModel.encoder_name,
            ClassifierModel.label_sets,
            ClassifierModel.metrics,
            ClassifierModel.decision,
        ).order_by(ClassifierModel.trained_at.desc(), ClassifierModel.id.desc())
    ).all()
    return [
        ModelVersion(
            version=row.version,
            status=str(row.status),
            trained_at=row.trained_at.isoformat(),
            promoted_at=row.promoted_at.isoformat() if row.promoted_at else None,
            n_examples=row.n_examples,
            encoder_name=row.encoder_name,
            label_sets=dict(row.label_sets or {}),
            metrics=dict(row.metrics or {}),
            decision=dict(row.decision or {}),
        )
        for row in rows
    ]


@dataclass(frozen=True)
class RollbackResult:
    """Which model was active before and which is now (None: the zero-shot model)."""

    previous: str | None
    current: str | None

    def as_json(self) -> dict[str, str | None]:
        return {"previous": self.previous, "current": self.current}


def rollback(session: Session, *, actor: str, to_version: str | None = None) -> RollbackResult:
    """Go back to the model that was active before the current one (or to `to_version`).

    Without a version: the retired model promoted most recently before the active one, or
    zero-shot when there is none. The active model is retired, never deleted; a later
    `rollback --to` can bring it back.
    """
    active = _active(session)
    if to_version is not None:
        target = session.execute(
            select(ClassifierModel).where(ClassifierModel.version == to_version)
        ).scalar_one_or_none()
        if target is None:
            raise ClassificationError(f"no stored model {to_version[:100]!r}")
        if active is not None and target.id == active.id:
            raise ClassificationError(f"{to_version} is the active model already")
    else:
        if active is None:
            raise ClassificationError("no trained model is active: nothing to roll back")
        query = select(ClassifierModel).where(
            ClassifierModel.status == ModelStatus.RETIRED,
            ClassifierModel.promoted_at.is_not(None),
            ClassifierModel.id != active.id,
        )
        if active.promoted_at is not None:
            query = query.where(ClassifierModel.promoted_at < active.promoted_at)
        target = session.execute(
            query.order_by(ClassifierModel.promoted_at.desc(), ClassifierModel.id.desc()).limit(1)
        ).scalar_one_or_none()
    previous = active.version if active else None
    if target is None:
        assert active is not None
        active.status = ModelStatus.RETIRED
    else:
        model_from_bytes(target.blob)  # refuse a damaged blob before anything changes
        for other in session.execute(
            select(ClassifierModel).where(ClassifierModel.status == ModelStatus.ACTIVE)
        ).scalars():
            other.status = ModelStatus.RETIRED
        target.status = ModelStatus.ACTIVE
        # Its first promotion time is kept: a second rollback walks further back in history.
        target.promoted_at = target.promoted_at or utcnow()
    current = target.version if target else None
    session.add(
        Event(
            ticket_id=None,
            kind="classifier_rolled_back",
            actor=actor,
            data={"from": previous, "to": current},
        )
    )
    return RollbackResult(previous, current)


# --- training off the caller's thread -------------------------------------------------------


@dataclass(frozen=True)
class TrainingStatus:
    """What `TrainingRunner` is doing, for a progress display."""

    running: bool
    progress: TrainingProgress | None
    result: TrainResult | None
    error: str


class TrainingBusyError(ClassificationError):
    """A training is already running in this process."""


class TrainingRunner:
    """Runs one training at a time on a thread of its own (a server's event loop never waits).

    `start()` returns at once; `status` reports progress, the last result or error;
    `await run()` is the same from async code.
    """

    def __init__(self, service: ClassificationService) -> None:
        self.service = service
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._progress: TrainingProgress | None = None
        self._result: TrainResult | None = None
        self._error = ""

    @property
    def status(self) -> TrainingStatus:
        thread = self._thread
        return TrainingStatus(
            running=thread is not None and thread.is_alive(),
            progress=self._progress,
            result=self._result,
            error=self._error,
        )

    def _note(self, progress: TrainingProgress) -> None:
        self._progress = progress

    def _train(self, actor: str) -> TrainResult:
        try:
            result = train_classifier(self.service, actor=actor, progress=self._note)
        except Exception as exc:
            self._error = str(exc)[:2000]
            log.exception("classifier training failed")
            raise
        self._result = result
        return result

    def start(self, *, actor: str) -> bool:
        """Start a training in the background; False when one is running already."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return False
            self._error, self._progress = "", None
            self._thread = threading.Thread(
                target=self._run_quietly, args=(actor,), name="classifier-training", daemon=True
            )
            self._thread.start()
            return True

    def _run_quietly(self, actor: str) -> None:
        try:
            self._train(actor)
        except Exception:  # recorded in `status`
            return

    def wait(self, timeout: float | None = None) -> TrainingStatus:
        """Wait for the running training (if any) to finish."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.status

    async def run(self, *, actor: str) -> TrainResult:
        """Train on a worker thread and return its result (raises `TrainingBusyError`)."""
        if not self._lock.acquire(blocking=False):
            raise TrainingBusyError("a training is running already")
        try:
            if self._thread is not None and self._thread.is_alive():
                raise TrainingBusyError("a training is running already")
            self._error, self._progress = "", None
            return await asyncio.to_thread(self._train, actor)
        finally:
            self._lock.release()
