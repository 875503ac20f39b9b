"""Impact, urgency and priority from model levels, signals and context."""

from classifier.assessment import (
    MajorIncident,
    ModelLevel,
    PriorityConfig,
    Requester,
    Source,
    TicketContext,
    assess_priority,
)
from classifier.labels import Impact, Priority, Urgency
from classifier.signals import find_signals


def test_whole_office_widens_impact_over_the_model() -> None:
    result = assess_priority(
        find_signals("the whole office cannot print"),
        category="hardware",
        model_impact=ModelLevel("individual", 0.8, abstained=False),
    )
    assert result.impact.level is Impact.SITE
    assert result.impact.source is Source.SIGNAL
    assert result.impact.model_level is Impact.INDIVIDUAL


def test_production_down_is_critical_and_top_priority_when_widespread() -> None:
    result = assess_priority(find_signals("Production down for all users"), category=None)
    assert result.urgency.level is Urgency.CRITICAL
    assert result.impact.level is Impact.ORGANISATION
    assert result.priority is Priority.P1


def test_vip_raises_urgency_one_step_but_not_to_critical() -> None:
    text = find_signals("my monitor flickers")
    plain = assess_priority(text, category="hardware")
    vip = assess_priority(
        text, category="hardware", context=TicketContext(requester=Requester(vip=True))
    )
    assert plain.urgency.level is Urgency.MEDIUM
    assert vip.urgency.level is Urgency.HIGH
    assert vip.urgency.source is Source.VIP
    blocked = assess_priority(
        find_signals("I cannot work"),
        category="hardware",
        context=TicketContext(requester=Requester(role="Executive")),
    )
    assert blocked.urgency.level is Urgency.HIGH


def test_open_major_incident_in_the_same_category_is_joined() -> None:
    incident = MajorIncident("INC-7", category="network", impact=Impact.SITE)
    context = TicketContext(open_major_incidents=(incident,))
    joined = assess_priority(find_signals("vpn is slow"), category="network", context=context)
    assert joined.major_incident == "INC-7"
    assert joined.impact.level is Impact.SITE
    assert joined.urgency.level is Urgency.HIGH
    other = assess_priority(find_signals("printer jam"), category="hardware", context=context)
    assert other.major_incident is None
    assert other.impact.level is Impact.INDIVIDUAL


def test_model_level_used_unless_abstained() -> None:
    text = find_signals("something odd")
    used = assess_priority(
        text, category=None, model_urgency=ModelLevel("high", 0.95, abstained=False)
    )
    assert used.urgency.level is Urgency.HIGH
    assert used.urgency.source is Source.MODEL
    ignored = assess_priority(
        text, category=None, model_urgency=ModelLevel("high", 0.4, abstained=True)
    )
    assert ignored.urgency.level is PriorityConfig().default_urgency
    assert ignored.urgency.source is Source.DEFAULT


def test_no_rush_sets_low_even_over_the_model() -> None:
    result = assess_priority(
        find_signals("no rush: new keyboard"),
        category=None,
        model_urgency=ModelLevel("high", 0.9, abstained=False),
    )
    assert result.urgency.level is Urgency.LOW
    assert result.priority is Priority.P4
