"""The classify stage and the per-process classifier service; agents' corrections.

Sits between the database and the `classifier` package. Each process that classifies holds one
`ClassificationService`: the help desk's `CategoryTree` built from the `category` table, the
zero-shot model over that tree (rebuilt when the tree's fingerprint changes: an admin's edit
reaches the model within `reload_check_seconds`), and the active trained model from
`classifier_model` (reloaded when another process promotes or rolls back, so all workers use
the same version). Texts are embedded by the process's shared embedding store
(`deskmail.matching.EmbeddingStore`), through the mail's own transaction, so the suggest stage
that follows finds the ticket's vector already stored.

The classify stage (`ClassifyStage`, after `record`, before `suggest`) classifies each new
ticket: category, subcategory, impact, urgency and the priority from the configured matrix,
with confidences and model versions, stored as a `Classification` row and on the ticket. When
the category abstains (below its per-class threshold) the ticket is marked `needs_triage` and
gets no category: the model's best guess is kept in the row's details for the triage view,
never on the ticket (docs/decisions/0130). Impact and urgency are always set: the requester's
words, their VIP flag or role and an open major incident of the same category count.

`correct_classification` is the agents' use case (web UI, JSON API, `deskmail tickets
classify`): a new `Classification` row with `source=agent`, a `TrainingExample` naming who made
it, the ticket updated and an `Event`.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from classifier import (
    CategoryTree,
    Classifier,
    Impact,
    LabelPrediction,
    MajorIncident,
    ModelFormatError,
    PriorityConfig,
    PriorityMatrix,
    PromotionPolicy,
    Requester,
    TicketClassification,
    TicketContext,
    TrainedModel,
    TrainingConfig,
    Urgency,
    ZeroShotConfig,
    ZeroShotModel,
    assess_priority,
    find_signals,
    model_from_bytes,
)
from deskmail.app import App
from deskmail.categories import category_tree, ensure_categories
from deskmail.classifier_settings import ClassifierSettings
from deskmail.pipeline import MailContext
from deskmail.suggest import query_text, ticket_query_text
from deskmail.ticket_actions import Actor, get_ticket
from models import (
    Classification,
    ClassifierModel,
    Event,
    LabelSource,
    ModelStatus,
    Outcome,
    Person,
    Ticket,
    TicketStatus,
    TrainingExample,
    utcnow,
)
from models.errors import DeskmailError

log = logging.getLogger(__name__)

# Open tickets flagged as major incidents that a new ticket is compared with (newest first).
MAX_MAJOR_INCIDENTS = 20
_OPEN_STATUSES = (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING)


class ClassificationError(DeskmailError):
    """A classification use case was refused; the message says why (safe to show)."""


# --- configuration from the settings ------------------------------------------------------


def priority_config(settings: ClassifierSettings) -> PriorityConfig:
    """The classifier's priority policy from the settings."""
    return PriorityConfig(
        matrix=PriorityMatrix.from_rows(settings.priority_matrix),
        default_impact=Impact(settings.default_impact),
        default_urgency=Urgency(settings.default_urgency),
        vip_roles=frozenset(settings.vip_roles),
        vip_urgency_steps=settings.vip_urgency_steps,
        vip_max_urgency=Urgency(settings.vip_max_urgency),
        major_incident_min_urgency=Urgency(settings.major_incident_min_urgency),
    )


def zero_shot_config(settings: ClassifierSettings) -> ZeroShotConfig:
    zero = settings.zero_shot
    return ZeroShotConfig(
        temperature=zero.temperature,
        min_similarity=zero.min_similarity,
        min_confidence=zero.min_confidence,
    )


def training_config(settings: ClassifierSettings) -> TrainingConfig:
    return TrainingConfig(
        seed=settings.seed,
        folds=settings.folds,
        target_precision=settings.target_precision,
        use_embeddings=settings.use_embeddings,
        min_examples=settings.min_examples,
        jobs=settings.training_jobs,
    )


def promotion_policy(settings: ClassifierSettings) -> PromotionPolicy:
    return PromotionPolicy(
        accuracy_tolerance=settings.accuracy_tolerance,
        macro_f1_tolerance=settings.macro_f1_tolerance,
        coverage_tolerance=settings.coverage_tolerance,
        min_heldout=settings.min_heldout,
    )


# --- the encoder --------------------------------------------------------------------------

FloatMatrix = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Texts to unit vectors, stored by content (`deskmail.matching.EmbeddingStore`)."""

    @property
    def model_key(self) -> str:
        """The name of the sentence-transformers model (recorded with trained models)."""
        ...

    def vectors(self, texts: Sequence[str], *, session: Session | None = None) -> FloatMatrix:
        """One unit row per text; through `session` when given, else a transaction of its own."""
        ...


class SessionEncoder:
    """The classifier's `TextEncoder` over the process's embedder.

    Inside `bound(session)` (per thread) vectors are read and written through that session:
    inside a mail's transaction, which holds SQLite's write lock, a second connection could
    not write. Outside, the embedder uses a short transaction of its own.
    """

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder
        self._local = threading.local()

    @property
    def name(self) -> str:
        return self._embedder.model_key

    @contextmanager
    def bound(self, session: Session | None) -> Iterator[None]:
        previous = getattr(self._local, "session", None)
        self._local.session = session
        try:
            yield
        finally:
            self._local.session = previous

    def encode(self, texts: Sequence[str]) -> FloatMatrix:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return self._embedder.vectors(list(texts), session=getattr(self._local, "session", None))


# --- the model in use ---------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """One loaded state: the tree, its zero-shot model, the active trained model if usable.

    `active_version` is what the database calls active; `problem` says why it is not used
    (damaged, or trained with another sentence encoder), in which case zero-shot classifies.
    """

    tree: CategoryTree
    zero_shot: ZeroShotModel | None
    trained: TrainedModel | None
    active_version: str | None
    problem: str
    classifier: Classifier | None

    @property
    def fingerprint(self) -> str:
        return self.tree.fingerprint()

    @property
    def version(self) -> str:
        """The version that classifies (the trained model's, else the zero-shot one's)."""
        if self.classifier is None:
            return ""
        return self.classifier.model.version


@dataclass(frozen=True)
class _Stored:
    tree: CategoryTree
    active_id: int | None
    active_version: str | None


class ClassificationService:
    """The classifier of one process, reloading when the tree or the active model changes."""

    def __init__(
        self,
        app: App,
        embedder: Embedder,
        settings: ClassifierSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.embedder = embedder
        self.settings = settings or app.settings.classifier
        self.encoder = SessionEncoder(embedder)
        self.priority = priority_config(self.settings)
        self._zero_config = zero_shot_config(self.settings)
        self._clock = clock
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._checked_at = float("-inf")
        self._warned: set[str] = set()

    @property
    def loaded(self) -> Snapshot | None:
        """The snapshot loaded last (None before the first refresh)."""
        return self._snapshot

    def refresh(self, session: Session | None = None, *, force: bool = False) -> Snapshot:
        """The current snapshot, reloaded if the tree or the active model changed.

        The database is asked at most once per `reload_check_seconds` unless `force`. With
        `session` (the mail's transaction) everything goes through it, including seeding the
        default tree on first start; without, short transactions of its own are used.
        """
        now = self._clock()
        snapshot = self._snapshot
        if (
            not force
            and snapshot is not None
            and now - self._checked_at < self.settings.reload_check_seconds
        ):
            return snapshot
        with self._lock:
            if session is not None:
                snapshot = self._refresh_in(session, may_seed=True)
            else:
                with self.app.read_sessions() as own:
                    empty = not category_tree(own, include_inactive=True)
                if empty and self.settings.seed_default_categories:
                    with self.app.sessions() as own, own.begin():
                        ensure_categories(own, self.settings.categories_file)
                with self.app.read_sessions() as own:
                    snapshot = self._refresh_in(own, may_seed=False)
            self._snapshot = snapshot
            self._checked_at = now
            return snapshot

    def _refresh_in(self, session: Session, *, may_seed: bool) -> Snapshot:
        stored = self._read(session, may_seed=may_seed)
        previous = self._snapshot
        tree = stored.tree
        if previous is not None and previous.fingerprint == tree.fingerprint():
            zero_shot = previous.zero_shot
            tree = previous.tree
        else:
            zero_shot = self._zero_shot(tree, session)
        if previous is not None and previous.active_version == stored.active_version:
            trained, problem = previous.trained, previous.problem
        else:
            trained, problem = self._load_model(session, stored)
        classifier = None
        if zero_shot is not None:
            classifier = Classifier(
                tree,
                trained or zero_shot,
                fallback=zero_shot if trained is not None else None,
                encoder=self.encoder,
                priority=self.priority,
            )
        if previous is None or previous.version != (classifier.model.version if classifier else ""):
            log.info(
                "classifier: %s (tree %s, %s categories)",
                classifier.model.version if classifier else "no categories",
                tree.fingerprint(),
                len(tree.top_level()),
            )
        return Snapshot(tree, zero_shot, trained, stored.active_version, problem, classifier)

    def _read(self, session: Session, *, may_seed: bool) -> _Stored:
        tree = category_tree(session)
        # First start: seed the default tree (only through a session that may write).
        if (
            not len(tree)
            and may_seed
            and self.settings.seed_default_categories
            and ensure_categories(session, self.settings.categories_file)
        ):
            session.flush()
            tree = category_tree(session)
        row = session.execute(
            select(ClassifierModel.id, ClassifierModel.version)
            .where(ClassifierModel.status == ModelStatus.ACTIVE)
            .order_by(ClassifierModel.promoted_at.desc(), ClassifierModel.id.desc())
            .limit(1)
        ).first()
        return _Stored(tree, row[0] if row else None, row[1] if row else None)

    def _zero_shot(self, tree: CategoryTree, session: Session | None) -> ZeroShotModel | None:
        if not tree.top_level():
            return None
        with self.encoder.bound(session):
            return ZeroShotModel(
                tree, self.encoder, encoder_name=self.embedder.model_key, config=self._zero_config
            )

    def _load_model(self, session: Session, stored: _Stored) -> tuple[TrainedModel | None, str]:
        if stored.active_id is None:
            return None, ""
        blob = session.execute(
            select(ClassifierModel.blob).where(ClassifierModel.id == stored.active_id)
        ).scalar_one()
        try:
            model = model_from_bytes(blob)
        except ModelFormatError as exc:
            return None, self._warn(stored.active_version, f"cannot be read: {exc}")
        if model.needs_encoder and model.metadata.encoder_name != self.embedder.model_key:
            return None, self._warn(
                stored.active_version,
                f"was trained with the encoder {model.metadata.encoder_name!r}, this process "
                f"embeds with {self.embedder.model_key!r}; retrain it",
            )
        return model, ""

    def _warn(self, version: str | None, problem: str) -> str:
        if version not in self._warned:
            self._warned.add(str(version))
            log.warning("classifier model %s %s: classifying zero-shot", version, problem)
        return problem

    def zero_shot_for(self, tree: CategoryTree) -> ZeroShotModel | None:
        """The zero-shot model of a tree (the loaded one when the tree is the same)."""
        snapshot = self._snapshot
        if snapshot is not None and snapshot.fingerprint == tree.fingerprint():
            return snapshot.zero_shot
        return self._zero_shot(tree, None)

    def embed(self, texts: Sequence[str], *, session: Session | None = None) -> FloatMatrix:
        """Unit vectors of texts from the process's embedder (stored for everyone)."""
        with self.encoder.bound(session):
            return self.encoder.encode(texts)

    def classify(
        self,
        text: str,
        context: TicketContext | None = None,
        *,
        session: Session | None = None,
    ) -> TicketClassification:
        """Classify one ticket text (subject and first message) with the model in use."""
        snapshot = self.refresh(session)
        context = context or TicketContext()
        if snapshot.classifier is None or not text.strip():
            return _without_categories(text, context, self.priority)
        vector = self.embed([text], session=session)[0]
        with self.encoder.bound(session):
            return snapshot.classifier.classify(text, context, embedding=vector)

    def warm_up(self) -> None:
        """Load the tree, the models and (through the zero-shot model) the encoder now."""
        self.refresh(force=True)


def _without_categories(
    text: str, context: TicketContext, config: PriorityConfig
) -> TicketClassification:
    """No tree (or no text): no category, but the priority still follows the words and context."""
    signals = find_signals(text)
    assessment = assess_priority(signals, category=None, context=context, config=config)
    nothing = LabelPrediction(label=None, confidence=0.0, abstained=True, model_version="")
    return TicketClassification(
        category=nothing,
        subcategory=nothing,
        impact=assessment.impact,
        urgency=assessment.urgency,
        priority=assessment.priority,
        signals=signals.signals,
        major_incident=assessment.major_incident,
        model_version="",
    )


# --- classifying a ticket -----------------------------------------------------------------


def ticket_context(session: Session, ticket: Ticket) -> TicketContext:
    """What counts besides the text: the requester's VIP flag and role, open major incidents."""
    requester = ticket.requester
    incidents = session.execute(
        select(Ticket.id, Ticket.category, Ticket.impact)
        .where(
            Ticket.major_incident.is_(True),
            Ticket.status.in_(_OPEN_STATUSES),
            Ticket.id != ticket.id,
        )
        .order_by(Ticket.id.desc())
        .limit(MAX_MAJOR_INCIDENTS)
    ).all()
    known_impacts = {level.value for level in Impact}
    return TicketContext(
        requester=Requester(role=requester.role or None, vip=requester.vip),
        open_major_incidents=tuple(
            MajorIncident(
                reference=str(number),
                category=category,
                impact=Impact(impact) if impact in known_impacts else Impact.ORGANISATION,
            )
            for number, category, impact in incidents
        ),
    )


def _given(prediction: LabelPrediction) -> str | None:
    """The label the ticket gets: none when the model abstained (triage, not a guess)."""
    return None if prediction.abstained else prediction.label


def _confidences(result: TicketClassification) -> dict[str, float]:
    values = {
        "category": result.category.confidence if result.category.label else None,
        "subcategory": result.subcategory.confidence if result.subcategory.label else None,
        "impact": result.impact.confidence,
        "urgency": result.urgency.confidence,
    }
    return {key: round(float(value), 4) for key, value in values.items() if value is not None}


def classification_details(result: TicketClassification, context: TicketContext) -> dict[str, Any]:
    """Why the ticket got its labels (stored on the `Classification` row)."""
    return {
        "guess": {"category": result.category.label, "subcategory": result.subcategory.label},
        "abstained": {
            "category": result.category.abstained,
            "subcategory": result.subcategory.abstained,
        },
        "versions": {
            "category": result.category.model_version,
            "subcategory": result.subcategory.model_version,
        },
        "impact": {
            "source": str(result.impact.source),
            "model_level": str(result.impact.model_level) if result.impact.model_level else None,
        },
        "urgency": {
            "source": str(result.urgency.source),
            "model_level": str(result.urgency.model_level) if result.urgency.model_level else None,
        },
        "signals": [
            {"kind": str(s.kind), "level": s.level, "phrase": s.phrase} for s in result.signals
        ],
        "major_incident": int(result.major_incident) if result.major_incident else None,
        "requester": {"vip": context.requester.vip, "role": context.requester.role or ""},
    }


def apply_classification(
    session: Session,
    ticket: Ticket,
    result: TicketClassification,
    context: TicketContext,
    *,
    zero_shot_version: str = "",
) -> Classification:
    """Store a classification and give the ticket its labels, priority and triage flag."""
    category = _given(result.category)
    subcategory = _given(result.subcategory) if category is not None else None
    source = (
        LabelSource.ZERO_SHOT
        if result.category.model_version == zero_shot_version or not result.model_version
        else LabelSource.MODEL
    )
    row = Classification(
        ticket_id=ticket.id,
        category=category,
        subcategory=subcategory,
        impact=str(result.impact.level),
        urgency=str(result.urgency.level),
        priority=str(result.priority),
        confidences=_confidences(result),
        abstained=result.needs_triage,
        model_version=result.model_version,
        source=source,
        details=classification_details(result, context),
    )
    session.add(row)
    ticket.category = category
    ticket.subcategory = subcategory
    ticket.impact = str(result.impact.level)
    ticket.urgency = str(result.urgency.level)
    ticket.priority = str(result.priority)
    ticket.needs_triage = result.needs_triage
    if result.major_incident is not None and ticket.parent_id is None:
        # ITIL: an incident that reports an open major incident is linked to it as its child.
        ticket.parent_id = int(result.major_incident)
    session.add(
        Event(
            ticket_id=ticket.id,
            kind="classified",
            actor="system",
            data={
                "category": category,
                "subcategory": subcategory,
                "priority": str(result.priority),
                "needs_triage": result.needs_triage,
                "confidence": round(float(result.category.confidence), 4),
                "model_version": result.model_version,
                "major_incident": row.details["major_incident"],
            },
        )
    )
    return row


def classify_ticket(
    session: Session, service: ClassificationService, ticket: Ticket, new_text: str
) -> Classification:
    """Classify a ticket from its subject and the requester's new text, and store it."""
    context = ticket_context(session, ticket)
    result = service.classify(query_text(ticket.subject, new_text), context, session=session)
    snapshot = service.loaded
    zero_shot = snapshot.zero_shot.version if snapshot and snapshot.zero_shot else ""
    row = apply_classification(session, ticket, result, context, zero_shot_version=zero_shot)
    log.info(
        "ticket #%s: %s %s (%.2f)%s, %s",
        ticket.id,
        row.category or "-",
        row.subcategory or "",
        result.category.confidence,
        " needs triage" if row.abstained else "",
        row.priority,
    )
    return row


class ClassifyStage:
    """The pipeline stage: `ClassifyStage(service)(ctx)` classifies each new ticket."""

    def __init__(self, service: ClassificationService) -> None:
        self.service = service

    def __call__(self, ctx: MailContext) -> None:
        # Follow-ups keep their ticket's labels: an agent may have corrected them already.
        if ctx.outcome is not Outcome.TICKET_CREATED or ctx.ticket is None:
            return
        row = classify_ticket(ctx.session, self.service, ctx.ticket, ctx.new_text)
        ctx.details["classification"] = {
            "category": row.category,
            "subcategory": row.subcategory,
            "priority": row.priority,
            "needs_triage": row.abstained,
            "model_version": row.model_version,
        }


# --- agents' corrections ------------------------------------------------------------------


def _person_id(session: Session, actor: Actor) -> int | None:
    if actor.person_id is not None:
        return actor.person_id
    email = actor.email.strip().lower()
    if "@" not in email:
        return None
    found = session.execute(select(Person.id).where(Person.email == email)).scalar_one_or_none()
    return int(found) if found is not None else None


def _level(value: str | None, levels: type[Impact] | type[Urgency], what: str) -> str | None:
    if value is None:
        return None
    cleaned = value.strip().lower()
    if cleaned not in {level.value for level in levels}:
        names = ", ".join(level.value for level in levels)
        raise ClassificationError(f"{what} must be one of {names}, not {value[:40]!r}")
    return cleaned


def correct_classification(
    session: Session,
    number: int,
    *,
    actor: Actor,
    settings: ClassifierSettings,
    category: str | None = None,
    subcategory: str | None = None,
    impact: str | None = None,
    urgency: str | None = None,
    priority: str | None = None,
) -> Classification:
    """An agent sets a ticket's labels; what they set becomes a training example.

    Labels not given keep their value (a new category clears a subcategory that is not under
    it). Category and subcategory are keys or names of active categories. The priority follows
    the matrix from impact and urgency unless given. The training example carries only what
    the agent set, never the labels the model guessed, so the model does not learn from
    itself; it names who made it.
    """
    if all(value is None for value in (category, subcategory, impact, urgency, priority)):
        raise ClassificationError("nothing to change: give a category, level or priority")
    ticket = get_ticket(session, number)
    tree = category_tree(session)
    chosen_category = _resolve_category(tree, category)
    chosen_sub = _resolve_subcategory(tree, subcategory, chosen_category)
    if chosen_sub is not None and chosen_category is None:
        chosen_category = tree.get(chosen_sub).parent
    new_impact = _level(impact, Impact, "impact")
    new_urgency = _level(urgency, Urgency, "urgency")
    if priority is not None and priority.strip().upper() not in ("P1", "P2", "P3", "P4"):
        raise ClassificationError(f"priority must be P1..P4, not {priority[:10]!r}")

    before = {
        "category": ticket.category,
        "subcategory": ticket.subcategory,
        "impact": ticket.impact,
        "urgency": ticket.urgency,
        "priority": ticket.priority,
        "needs_triage": ticket.needs_triage,
    }
    if chosen_category is not None:
        if ticket.subcategory and not tree.is_subcategory_of(ticket.subcategory, chosen_category):
            ticket.subcategory = None
        ticket.category = chosen_category
    if chosen_sub is not None:
        ticket.subcategory = chosen_sub
    ticket.impact = new_impact or ticket.impact or settings.default_impact
    ticket.urgency = new_urgency or ticket.urgency or settings.default_urgency
    if priority is not None:
        ticket.priority = priority.strip().upper()
    elif new_impact or new_urgency or ticket.priority is None:
        ticket.priority = settings.priority_matrix[ticket.impact][ticket.urgency]
    ticket.needs_triage = ticket.category is None
    ticket.updated_at = utcnow()

    person_id = _person_id(session, actor)
    given = {
        "category": chosen_category,
        "subcategory": chosen_sub,
        "impact": new_impact,
        "urgency": new_urgency,
        "priority": priority.strip().upper() if priority else None,
    }
    row = Classification(
        ticket_id=ticket.id,
        category=ticket.category,
        subcategory=ticket.subcategory,
        impact=ticket.impact,
        urgency=ticket.urgency,
        priority=ticket.priority,
        confidences={key: 1.0 for key in ("category", "subcategory") if given[key]}
        | {key: 1.0 for key in ("impact", "urgency") if given[key]},
        abstained=ticket.needs_triage,
        model_version="",
        source=LabelSource.AGENT,
        corrected_by_id=person_id,
        details={"previous": before, "given": given, "corrected_by": actor.email},
    )
    session.add(row)
    text = ticket_query_text(session, ticket)
    if text and any(given[key] for key in ("category", "subcategory", "impact", "urgency")):
        session.add(
            TrainingExample(
                text=text,
                category=chosen_category,
                subcategory=chosen_sub,
                impact=new_impact,
                urgency=new_urgency,
                source=LabelSource.AGENT,
                ticket_id=ticket.id,
                created_by_id=person_id,
                created_by=actor.email[:320],
                text_sha256=text_digest(text),
            )
        )
    after = {key: getattr(ticket, key) for key in before}
    session.add(
        Event(
            ticket_id=ticket.id,
            kind="reclassified",
            actor=actor.email,
            data={"from": before, "to": after},
        )
    )
    session.flush()
    return row


def _resolve_category(tree: CategoryTree, value: str | None) -> str | None:
    if value is None:
        return None
    key = tree.resolve(value)
    if key is None or not tree.is_category(key):
        raise ClassificationError(f"no active category {value.strip()[:100]!r}")
    return key


def _resolve_subcategory(tree: CategoryTree, value: str | None, category: str | None) -> str | None:
    if value is None:
        return None
    key = tree.resolve(value)
    if key is None and category is not None:
        key = tree.resolve(f"{category}/{value.strip()}")
    if key is None or tree.is_category(key):
        raise ClassificationError(f"no active subcategory {value.strip()[:100]!r}")
    if category is not None and not tree.is_subcategory_of(key, category):
        raise ClassificationError(f"{key!r} is not a subcategory of {category!r}")
    return key


def text_digest(text: str) -> str:
    """The SHA-256 of an example's text (how re-imports are recognised)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def latest_classification(session: Session, ticket_id: int) -> Classification | None:
    """The ticket's most recent classification (an agent's correction included)."""
    return session.execute(
        select(Classification)
        .where(Classification.ticket_id == ticket_id)
        .order_by(Classification.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def classification_view(row: Classification) -> dict[str, Any]:
    """A classification as plain data (`deskmail tickets show N --json`, the API)."""
    details = dict(row.details or {})
    return {
        "category": row.category,
        "subcategory": row.subcategory,
        "impact": row.impact,
        "urgency": row.urgency,
        "priority": row.priority,
        "confidences": dict(row.confidences or {}),
        "needs_triage": row.abstained,
        "model_version": row.model_version,
        "source": str(row.source),
        "guess": details.get("guess"),
        "impact_source": (details.get("impact") or {}).get("source"),
        "urgency_source": (details.get("urgency") or {}).get("source"),
        "signals": details.get("signals", []),
        "major_incident": details.get("major_incident"),
        "corrected_by": details.get("corrected_by"),
        "created": row.created_at.isoformat() if row.created_at else None,
    }


__all__ = [
    "ClassificationError",
    "ClassificationService",
    "ClassifyStage",
    "Embedder",
    "SessionEncoder",
    "Snapshot",
    "apply_classification",
    "classification_view",
    "classify_ticket",
    "correct_classification",
    "latest_classification",
    "priority_config",
    "promotion_policy",
    "text_digest",
    "ticket_context",
    "training_config",
    "zero_shot_config",
]
