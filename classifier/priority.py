"""The ITIL priority matrix: impact x urgency -> P1..P4.

A help desk tunes its matrix (a setting); the default below is the common ITIL shape: priority
rises with both impact and urgency, an organisation-wide outage that is business-critical is P1,
and one person's request that can wait is P4.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from classifier.errors import ClassifierError
from classifier.labels import Impact, Priority, Urgency

_P1, _P2, _P3, _P4 = Priority.P1, Priority.P2, Priority.P3, Priority.P4

# Rows: impact (narrowest first); columns: urgency low, medium, high, critical.
_DEFAULT_ROWS: dict[Impact, tuple[Priority, Priority, Priority, Priority]] = {
    Impact.INDIVIDUAL: (_P4, _P4, _P3, _P2),
    Impact.TEAM: (_P4, _P3, _P2, _P2),
    Impact.SITE: (_P3, _P3, _P2, _P1),
    Impact.ORGANISATION: (_P3, _P2, _P1, _P1),
}


def _default_cells() -> Mapping[tuple[Impact, Urgency], Priority]:
    cells = {
        (impact, urgency): row[index]
        for impact, row in _DEFAULT_ROWS.items()
        for index, urgency in enumerate(Urgency)
    }
    return MappingProxyType(cells)


@dataclass(frozen=True)
class PriorityMatrix:
    """A complete impact x urgency table; every pair of levels has a priority."""

    cells: Mapping[tuple[Impact, Urgency], Priority] = field(default_factory=_default_cells)

    def __post_init__(self) -> None:
        missing = [
            f"{impact}/{urgency}"
            for impact in Impact
            for urgency in Urgency
            if (impact, urgency) not in self.cells
        ]
        if missing:
            raise ClassifierError(f"priority matrix lacks {', '.join(missing)}")
        # Freeze a caller's dict so the dataclass really is immutable.
        object.__setattr__(self, "cells", MappingProxyType(dict(self.cells)))

    @classmethod
    def from_rows(cls, rows: Mapping[str, Mapping[str, str]]) -> PriorityMatrix:
        """Build from a settings table: `{"individual": {"low": "P4", ...}, ...}`."""
        cells: dict[tuple[Impact, Urgency], Priority] = {}
        for impact_name, row in rows.items():
            try:
                impact = Impact(impact_name)
                for urgency_name, priority_name in row.items():
                    cells[(impact, Urgency(urgency_name))] = Priority(priority_name)
            except ValueError as error:
                raise ClassifierError(f"priority matrix: {error}") from error
        return cls(cells)

    def priority(self, impact: Impact, urgency: Urgency) -> Priority:
        """The priority of a ticket with this impact and urgency."""
        return self.cells[(impact, urgency)]
