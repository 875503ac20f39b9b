"""Impact, urgency and priority of a ticket: the model's levels, the text's signals, context.

The order of evidence, each step only raising a level: the model's prediction (or a default
when there is no model or it abstained), the phrases in the text (`classifier.signals`), an
open major incident in the same category (the ticket is another report of it), and the
requester's VIP status (urgency one step up, capped). The priority is then looked up in the
help desk's matrix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from classifier.labels import Impact, Priority, Urgency
from classifier.priority import PriorityMatrix
from classifier.signals import TextSignals


class Source(StrEnum):
    """What decided a level."""

    MODEL = "model"
    SIGNAL = "signal"
    DEFAULT = "default"
    MAJOR_INCIDENT = "major-incident"
    VIP = "vip"


@dataclass(frozen=True, slots=True)
class Requester:
    """Who wrote the ticket, as far as priority cares: a role and a VIP flag."""

    role: str | None = None
    vip: bool = False


@dataclass(frozen=True, slots=True)
class MajorIncident:
    """An open major incident; `category` None means it may concern any ticket."""

    reference: str
    category: str | None = None
    impact: Impact = Impact.ORGANISATION


@dataclass(frozen=True, slots=True)
class TicketContext:
    """What the pipeline knows besides the text."""

    requester: Requester = field(default_factory=Requester)
    open_major_incidents: tuple[MajorIncident, ...] = ()


@dataclass(frozen=True, slots=True)
class PriorityConfig:
    """Settings of the priority assessment (a help desk's policy)."""

    matrix: PriorityMatrix = field(default_factory=PriorityMatrix)
    default_impact: Impact = Impact.INDIVIDUAL
    default_urgency: Urgency = Urgency.MEDIUM
    # Roles that count as VIP even when the person's VIP flag is not set.
    vip_roles: frozenset[str] = frozenset(
        {"vip", "executive", "director", "board", "ceo", "cfo", "cio", "cto", "coo", "president"}
    )
    vip_urgency_steps: int = 1
    # VIP status alone never declares a business-critical outage; the situation must.
    vip_max_urgency: Urgency = Urgency.HIGH
    major_incident_min_urgency: Urgency = Urgency.HIGH
    # Reported as the confidence of a level set by a rule rather than the model.
    signal_confidence: float = 0.9
    default_confidence: float = 0.5


@dataclass(frozen=True, slots=True)
class ModelLevel:
    """A level the model predicted, with its confidence; `abstained` below its threshold."""

    level: str
    confidence: float
    abstained: bool


@dataclass(frozen=True, slots=True)
class ImpactDecision:
    """The impact given to a ticket and what decided it."""

    level: Impact
    confidence: float
    source: Source
    model_level: Impact | None = None


@dataclass(frozen=True, slots=True)
class UrgencyDecision:
    """The urgency given to a ticket and what decided it."""

    level: Urgency
    confidence: float
    source: Source
    model_level: Urgency | None = None


@dataclass(frozen=True, slots=True)
class PriorityAssessment:
    """Impact, urgency, the resulting priority, and the major incident it joined (if any)."""

    impact: ImpactDecision
    urgency: UrgencyDecision
    priority: Priority
    major_incident: str | None = None


def is_vip(requester: Requester, config: PriorityConfig) -> bool:
    """A VIP by flag or by role (roles compared case-insensitively)."""
    role = (requester.role or "").strip().casefold()
    return requester.vip or role in {r.casefold() for r in config.vip_roles}


def _step_up(level: Urgency, steps: int, cap: Urgency) -> Urgency:
    levels = list(Urgency)
    raised = levels[min(level.rank + max(steps, 0), len(levels) - 1)]
    return max(level, min(raised, cap))


def _impact(
    signals: TextSignals, model: ModelLevel | None, config: PriorityConfig
) -> ImpactDecision:
    predicted = Impact(model.level) if model else None
    if model is not None and not model.abstained:
        decision = ImpactDecision(
            predicted or config.default_impact, model.confidence, Source.MODEL, predicted
        )
    else:
        decision = ImpactDecision(
            config.default_impact, config.default_confidence, Source.DEFAULT, predicted
        )
    floor = signals.impact_floor
    if floor is not None and floor > decision.level:
        decision = ImpactDecision(floor, config.signal_confidence, Source.SIGNAL, predicted)
    return decision


def _urgency(
    signals: TextSignals, model: ModelLevel | None, config: PriorityConfig
) -> UrgencyDecision:
    predicted = Urgency(model.level) if model else None
    if signals.says_it_can_wait:
        # The writer's own "no rush" outweighs what similar tickets needed.
        return UrgencyDecision(Urgency.LOW, config.signal_confidence, Source.SIGNAL, predicted)
    if model is not None and not model.abstained:
        decision = UrgencyDecision(
            predicted or config.default_urgency, model.confidence, Source.MODEL, predicted
        )
    else:
        decision = UrgencyDecision(
            config.default_urgency, config.default_confidence, Source.DEFAULT, predicted
        )
    raised = signals.urgency_floor
    if raised is not None and raised > decision.level:
        decision = UrgencyDecision(raised, config.signal_confidence, Source.SIGNAL, predicted)
    return decision


def assess_priority(
    signals: TextSignals,
    *,
    category: str | None,
    model_impact: ModelLevel | None = None,
    model_urgency: ModelLevel | None = None,
    context: TicketContext | None = None,
    config: PriorityConfig | None = None,
) -> PriorityAssessment:
    """Combine the model's levels, the text's signals and the context into a priority."""
    context = context or TicketContext()
    config = config or PriorityConfig()
    impact = _impact(signals, model_impact, config)
    urgency = _urgency(signals, model_urgency, config)

    joined: str | None = None
    for incident in context.open_major_incidents:
        if incident.category is not None and incident.category != category:
            continue
        joined = incident.reference
        if incident.impact > impact.level:
            impact = ImpactDecision(
                incident.impact, config.signal_confidence, Source.MAJOR_INCIDENT, impact.model_level
            )
        if config.major_incident_min_urgency > urgency.level:
            urgency = UrgencyDecision(
                config.major_incident_min_urgency,
                config.signal_confidence,
                Source.MAJOR_INCIDENT,
                urgency.model_level,
            )
        break

    if is_vip(context.requester, config):
        bumped = _step_up(urgency.level, config.vip_urgency_steps, config.vip_max_urgency)
        if bumped > urgency.level:
            urgency = UrgencyDecision(
                bumped, config.signal_confidence, Source.VIP, urgency.model_level
            )

    priority = config.matrix.priority(impact.level, urgency.level)
    return PriorityAssessment(impact, urgency, priority, joined)
