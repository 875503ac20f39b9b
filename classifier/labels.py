"""The values the classifier speaks in: impact and urgency levels, priorities, examples.

Impact and urgency follow ITIL's incident prioritisation: impact is how widely the business is
affected, urgency how fast it must be resolved; the priority is looked up from the two
(`classifier.priority`). Levels are ordered, so "at least team-wide" is a comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class _Level(StrEnum):
    """A StrEnum whose members are ordered by declaration (lowest first)."""

    @property
    def rank(self) -> int:
        return list(type(self)).index(self)

    def __lt__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, _Level)
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, _Level)
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, _Level)
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, _Level)
        return self.rank >= other.rank


class Impact(_Level):
    """How widely the business is affected (ITIL impact), narrowest first."""

    INDIVIDUAL = "individual"
    TEAM = "team"
    SITE = "site"
    ORGANISATION = "organisation"


class Urgency(_Level):
    """How soon it must be resolved (ITIL urgency), least urgent first.

    `low` can wait, `medium` hinders work, `high` blocks someone's work, `critical` is
    business-critical right now. `medium` exists because most tickets are neither "can wait"
    nor "blocked", and forcing them into one of the two makes the matrix swing.
    """

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Priority(StrEnum):
    """The resulting priority; P1 is handled first."""

    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"


class Target(StrEnum):
    """The four things the classifier predicts for a ticket."""

    CATEGORY = "category"
    SUBCATEGORY = "subcategory"
    IMPACT = "impact"
    URGENCY = "urgency"


@dataclass(frozen=True, slots=True)
class LabelledExample:
    """A ticket text with whatever labels are known; any label may be missing.

    `category` and `subcategory` are keys of the help desk's tree; `impact` and `urgency` are
    the level names (`Impact`, `Urgency` values).
    """

    text: str
    category: str | None = None
    subcategory: str | None = None
    impact: Impact | None = None
    urgency: Urgency | None = None

    def label(self, target: Target) -> str | None:
        """The label of one target, as a plain string (None when unknown)."""
        match target:
            case Target.CATEGORY:
                return self.category
            case Target.SUBCATEGORY:
                return self.subcategory
            case Target.IMPACT:
                return None if self.impact is None else str(self.impact)
            case Target.URGENCY:
                return None if self.urgency is None else str(self.urgency)


def parse_impact(value: str) -> Impact | None:
    """An impact level from its name or a common synonym (any case); None if unknown."""
    folded = value.strip().casefold()
    return _IMPACT_SYNONYMS.get(folded)


def parse_urgency(value: str) -> Urgency | None:
    """An urgency level from its name or a common synonym (any case); None if unknown."""
    folded = value.strip().casefold()
    return _URGENCY_SYNONYMS.get(folded)


_IMPACT_SYNONYMS: dict[str, Impact] = {
    **{level.value: level for level in Impact},
    "user": Impact.INDIVIDUAL,
    "single user": Impact.INDIVIDUAL,
    "person": Impact.INDIVIDUAL,
    "low": Impact.INDIVIDUAL,
    "group": Impact.TEAM,
    "department": Impact.TEAM,
    "multiple users": Impact.TEAM,
    "medium": Impact.TEAM,
    "location": Impact.SITE,
    "office": Impact.SITE,
    "building": Impact.SITE,
    "high": Impact.SITE,
    "organization": Impact.ORGANISATION,
    "company": Impact.ORGANISATION,
    "enterprise": Impact.ORGANISATION,
    "company-wide": Impact.ORGANISATION,
    "critical": Impact.ORGANISATION,
    "extensive": Impact.ORGANISATION,
    "widespread": Impact.ORGANISATION,
}

_URGENCY_SYNONYMS: dict[str, Urgency] = {
    **{level.value: level for level in Urgency},
    "normal": Urgency.MEDIUM,
    "moderate": Urgency.MEDIUM,
    "urgent": Urgency.HIGH,
    "blocked": Urgency.HIGH,
    "blocking": Urgency.HIGH,
    "business critical": Urgency.CRITICAL,
    "business-critical": Urgency.CRITICAL,
    "emergency": Urgency.CRITICAL,
}
