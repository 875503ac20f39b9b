"""SLA due times with a frozen clock: working hours in a time zone, weekends, public holidays
(the `holidays` package), around-the-clock P1, and pauses while a ticket waits (pending)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from deskmail.app import App
from deskmail.settings import SettingsError
from deskmail.sla import (
    BusinessCalendar,
    SlaConfig,
    needs_refresh,
    refresh,
    settle,
    sla_config,
    sla_view,
    start_clock,
)
from deskmail.ticket_actions import Actor, change_status
from models import Person, Ticket, TicketStatus
from tests.conftest import make_settings

BERLIN = ZoneInfo("Europe/Berlin")
AGENT = Actor("agent@example.org", "Agent")


def berlin(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    """A Berlin wall-clock time as aware UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


def german_config(tmp_path: Path, **process: object) -> SlaConfig:
    settings = make_settings(
        tmp_path / "data",
        f"sqlite:///{tmp_path / 'unused.db'}",
        process={
            "calendar": {
                "timezone": "Europe/Berlin",
                "holiday_country": "DE",
                "holiday_subdivision": "BE",
                "extra_holidays": ["2025-12-24"],
            },
            **process,
        },
    )
    return sla_config(settings)


def ticket_at(created: datetime, priority: str | None) -> Ticket:
    return Ticket(id=1, subject="x", status=TicketStatus.NEW, priority=priority, created_at=created)


def test_due_times_skip_the_weekend_and_a_public_holiday(tmp_path: Path) -> None:
    config = german_config(tmp_path)
    # Thursday 2 October 2025, 15:00 in Berlin; Friday 3 October is German Unity Day.
    ticket = ticket_at(berlin(2025, 10, 2, 15, 0), "P2")
    start_clock(ticket, config)
    # P2: first response in 4 business hours: 2 h on Thursday, then Monday 9:00 + 2 h.
    assert ticket.first_response_due == berlin(2025, 10, 6, 11, 0)
    # Resolution in 1 business day (8 working hours): 2 h Thursday + 6 h Monday.
    assert ticket.resolution_due == berlin(2025, 10, 6, 15, 0)
    # Warnings with 25 % of the target left: after 3 h and after 6 h of working time.
    assert ticket.first_response_warn_at == berlin(2025, 10, 6, 10, 0)
    assert ticket.resolution_warn_at == berlin(2025, 10, 6, 13, 0)
    assert ticket.sla_priority == "P2"
    words = config.policy_for("P2").first_response.words()
    assert words == "4 business hours"


def test_p1_runs_around_the_clock_and_a_company_closure_counts_as_a_holiday(
    tmp_path: Path,
) -> None:
    config = german_config(tmp_path)
    ticket = ticket_at(berlin(2025, 10, 3, 22, 30), "P1")  # on the holiday, at night
    start_clock(ticket, config)
    assert ticket.first_response_due == berlin(2025, 10, 3, 23, 30)
    assert ticket.resolution_due == berlin(2025, 10, 4, 2, 30)
    assert config.policy_for("P1").first_response.words() == "1 hour"
    # 23 December 2025 is a Tuesday; the 24th is a company closure (extra holiday), the
    # 25th and 26th public holidays: 2 business days of P3 resolution... from Tuesday 16:00.
    late = ticket_at(berlin(2025, 12, 23, 16, 0), "P3")
    start_clock(late, config)
    # First response "1d" = 8 working hours: 1 h on Tuesday, then Monday 29th 9:00 + 7 h.
    assert late.first_response_due == berlin(2025, 12, 29, 16, 0)


def test_unknown_priority_uses_the_default_policy_and_a_change_recomputes(
    tmp_path: Path,
) -> None:
    config = german_config(tmp_path)
    ticket = ticket_at(berlin(2025, 10, 6, 9, 0), None)
    start_clock(ticket, config)
    assert ticket.sla_priority == ""
    # P3 (the default) promises 1 business day: 8 working hours, Monday 9:00 to 17:00.
    assert ticket.first_response_due == berlin(2025, 10, 6, 17, 0)
    ticket.priority = "P2"  # reclassified
    assert needs_refresh(ticket)
    assert refresh(ticket, config)
    assert ticket.first_response_due == berlin(2025, 10, 6, 13, 0)
    assert not needs_refresh(ticket)
    assert not refresh(ticket, config)


def test_pending_pauses_the_clock_in_business_time(sqlite_app: App, tmp_path: Path) -> None:
    config = german_config(tmp_path)
    created = berlin(2025, 10, 6, 9, 0)  # Monday 9:00
    with sqlite_app.sessions() as session, session.begin():
        person = Person(email="carol@example.com", name="Carol")
        session.add(person)
        session.flush()
        ticket = Ticket(subject="VPN", requester_id=person.id, priority="P3", created_at=created)
        session.add(ticket)
        session.flush()
        start_clock(ticket, config)
        number = ticket.id
    assert ticket.first_response_due == berlin(2025, 10, 6, 17, 0)

    with sqlite_app.sessions() as session, session.begin():
        change_status(session, number, TicketStatus.OPEN, actor=AGENT, now=created)
        # Waiting for the requester from Monday 13:00 to Wednesday 10:00: 4 + 8 + 1 = 13
        # working hours paused.
        change_status(
            session, number, TicketStatus.PENDING, actor=AGENT, now=berlin(2025, 10, 6, 13, 0)
        )
        paused = session.get_one(Ticket, number)
        view = sla_view(paused, berlin(2025, 10, 8, 9, 30))
        assert view["paused"] is True
        first = view["first_response"]
        assert isinstance(first, dict)
        assert first["breached"] is False  # past the old due time, but the clock stands
        change_status(
            session, number, TicketStatus.OPEN, actor=AGENT, now=berlin(2025, 10, 8, 10, 0)
        )
        resumed = session.get_one(Ticket, number)
        assert needs_refresh(resumed)
        settle(resumed, config)
        assert resumed.sla_paused_seconds == 13 * 3600
        assert resumed.sla_paused_at is None
        assert resumed.sla_resumed_at is None
    with sqlite_app.sessions() as session:
        stored = session.get_one(Ticket, number)
        # 8 h target + 13 h paused from Monday 9:00: Monday 8 h, Tuesday 8 h, Wednesday 5 h.
        assert stored.first_response_due == berlin(2025, 10, 8, 14, 0)
        # 3 days = 24 h + 13 h = 37 working hours: Mon..Thu 32 h, Friday 9:00 + 5 h.
        assert stored.resolution_due == berlin(2025, 10, 10, 14, 0)


def test_calendar_between_and_add_agree_across_a_weekend() -> None:
    calendar = BusinessCalendar(zone=BERLIN)
    start = berlin(2025, 10, 10, 16, 0)  # Friday
    end = calendar.add(start, timedelta(hours=3))
    assert end == berlin(2025, 10, 13, 11, 0)
    assert calendar.between(start, end) == timedelta(hours=3)
    assert calendar.is_working_day(date(2025, 10, 13))
    assert not calendar.is_working_day(date(2025, 10, 11))


def test_bad_calendar_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="no public holidays"):
        german_config(tmp_path, calendar={"holiday_country": "XX"})
    with pytest.raises(SettingsError, match="time zone"):
        german_config(tmp_path, calendar={"timezone": "Mars/Olympus"})
    with pytest.raises((ValidationError, SettingsError)):
        german_config(tmp_path, sla={"P2": {"first_response": "soon", "resolution": "1d"}})
