"""The impact x urgency matrix."""

import pytest

from classifier.errors import ClassifierError
from classifier.labels import Impact, Priority, Urgency
from classifier.priority import PriorityMatrix


def _number(priority: Priority) -> int:
    return int(priority.value[1:])


def test_default_corners() -> None:
    matrix = PriorityMatrix()
    assert matrix.priority(Impact.ORGANISATION, Urgency.CRITICAL) is Priority.P1
    assert matrix.priority(Impact.INDIVIDUAL, Urgency.LOW) is Priority.P4
    assert matrix.priority(Impact.INDIVIDUAL, Urgency.HIGH) is Priority.P3


def test_default_never_lowers_priority_when_impact_or_urgency_rises() -> None:
    matrix = PriorityMatrix()
    for impact in Impact:
        for urgency in Urgency:
            here = _number(matrix.priority(impact, urgency))
            if impact.rank + 1 < len(Impact):
                wider = list(Impact)[impact.rank + 1]
                assert _number(matrix.priority(wider, urgency)) <= here
            if urgency.rank + 1 < len(Urgency):
                sooner = list(Urgency)[urgency.rank + 1]
                assert _number(matrix.priority(impact, sooner)) <= here


def test_from_rows_and_incomplete_matrix() -> None:
    rows = {impact.value: {urgency.value: "P2" for urgency in Urgency} for impact in Impact}
    assert PriorityMatrix.from_rows(rows).priority(Impact.TEAM, Urgency.LOW) is Priority.P2
    del rows["site"]
    with pytest.raises(ClassifierError, match="site/low"):
        PriorityMatrix.from_rows(rows)
    with pytest.raises(ClassifierError):
        PriorityMatrix.from_rows({"galaxy": {"low": "P1"}})


def test_matrix_is_immutable() -> None:
    matrix = PriorityMatrix()
    with pytest.raises(TypeError):
        matrix.cells[(Impact.TEAM, Urgency.LOW)] = Priority.P1  # type: ignore[index]
