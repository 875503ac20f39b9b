"""Settings of the incident process (`Settings.process`): SLAs, the business calendar, reopen
and auto-close windows, escalation, routing.

Read once with the rest of the settings (environment `DESKMAIL_PROCESS__*` or the `[process]`
table of the TOML file); `deskmail.sla` turns them into a frozen `SlaConfig` and
`deskmail.lifecycle` into the process's runtime context. The defaults are ITIL-like and
documented in docs/decisions/0121: P1 is measured around the clock (1 h / 4 h), P2 to P4 in
business hours (4 h / 1 business day, 1 / 3 business days, 2 / 5 business days).

Durations are short strings: `"30m"`, `"4h"`, `"1d"`, `"1d4h"`. A day (`d`) is one working
day of the calendar (its working hours), so "1d" means "by the same time next working day".
"""

from __future__ import annotations

import re
from datetime import date, time
from typing import Annotated, Any

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import NoDecode

PRIORITIES: tuple[str, ...] = ("P1", "P2", "P3", "P4")
_DURATION = re.compile(
    r"^\s*(?:(\d+(?:\.\d+)?)\s*d)?\s*(?:(\d+(?:\.\d+)?)\s*h)?\s*(?:(\d+)\s*m)?\s*$"
)
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_duration(text: str) -> tuple[float, float, int]:
    """`"1d4h30m"` as (days, hours, minutes); ValueError when malformed or zero."""
    match = _DURATION.match(text.lower())
    if match is None or not any(match.groups()):
        raise ValueError(f"not a duration like '4h', '1d' or '1d4h': {text[:40]!r}")
    days = float(match.group(1) or 0)
    hours = float(match.group(2) or 0)
    minutes = int(match.group(3) or 0)
    if days == hours == minutes == 0:
        raise ValueError("a target must be longer than zero")
    return days, hours, minutes


class SlaPolicySettings(BaseModel):
    """The two promises for one priority."""

    first_response: str
    resolution: str
    # Measured around the clock instead of in working hours (critical incidents).
    around_the_clock: bool = False

    @field_validator("first_response", "resolution")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value.strip()


def _default_policies() -> dict[str, SlaPolicySettings]:
    return {
        "P1": SlaPolicySettings(first_response="1h", resolution="4h", around_the_clock=True),
        "P2": SlaPolicySettings(first_response="4h", resolution="1d"),
        "P3": SlaPolicySettings(first_response="1d", resolution="3d"),
        "P4": SlaPolicySettings(first_response="2d", resolution="5d"),
    }


class CalendarSettings(BaseModel):
    """When the help desk works: days, hours, time zone and public holidays."""

    working_days: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"]
    )
    start: time = time(9, 0)
    end: time = time(17, 0)
    # An IANA zone ("Europe/Berlin"); empty: the help desk's `timezone` setting.
    timezone: str = ""
    # Public holidays of this country (ISO 3166 code for the `holidays` package, e.g. "DE"),
    # and optionally a subdivision ("BE" for Berlin); empty: no public holidays.
    holiday_country: str = ""
    holiday_subdivision: str = ""
    # Further days off (company closures), as ISO dates.
    extra_holidays: Annotated[list[date], NoDecode] = Field(default_factory=list)

    @field_validator("working_days", "extra_holidays", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("working_days")
    @classmethod
    def _weekdays(cls, value: list[str]) -> list[str]:
        days = [day.strip().lower()[:3] for day in value]
        unknown = [day for day in days if day not in _WEEKDAYS]
        if unknown:
            raise ValueError(f"unknown weekday(s): {', '.join(unknown)} (use mon..sun)")
        if not days:
            raise ValueError("at least one working day is needed")
        return days

    @model_validator(mode="after")
    def _hours(self) -> CalendarSettings:
        if self.end <= self.start:
            raise ValueError("the working day must end after it starts")
        return self

    @property
    def weekday_numbers(self) -> frozenset[int]:
        """The working days as `date.weekday()` numbers (Monday 0)."""
        return frozenset(_WEEKDAYS.index(day) for day in self.working_days)


class ProcessSettings(BaseModel):
    """The incident process: service levels, windows, escalation and routing."""

    sla: dict[str, SlaPolicySettings] = Field(default_factory=_default_policies)
    # The policy of a ticket whose priority is not known yet (waiting for triage).
    default_priority: str = "P3"
    calendar: CalendarSettings = Field(default_factory=CalendarSettings)
    # Warn this share of the target before it is due ("0.25": with 25 % of the time left).
    warn_before_fraction: float = Field(default=0.25, ge=0.0, lt=1.0)
    # A requester's reply within this many days of the resolution reopens the ticket; later
    # (or to a closed ticket) it starts a new ticket that follows the old one.
    reopen_days: int = Field(default=7, ge=0, le=365)
    # Resolved tickets close after this many days without an answer (closure mail).
    auto_close_days: int = Field(default=7, ge=1, le=365)
    # SLA breaches go to this address; empty: to the agents of the ticket's group.
    escalation_address: str = ""
    # Category (or "category/subcategory") -> assignment group; subcategories are looked up
    # first. Tickets of other categories go to `default_group` ("" for none).
    category_groups: dict[str, str] = Field(default_factory=dict)
    default_group: str = ""
    # New tickets of these priorities are announced to the agents of their group.
    notify_priorities: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["P1", "P2"])
    # After a mail from us to a person on a ticket, their next mails within this many hours
    # get no "we added your message" note: they just heard from us (docs/decisions/0120).
    followup_quiet_hours: float = Field(default=24.0, ge=0.0)
    # How often the scheduler looks for SLA warnings, breaches and tickets to close.
    scheduler_seconds: float = Field(default=30.0, gt=0.0)
    scheduler_batch: int = Field(default=200, ge=1)

    @field_validator("notify_priorities", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip().upper() for part in value.split(",") if part.strip()]
        return value

    @field_validator("escalation_address")
    @classmethod
    def _address(cls, value: str) -> str:
        cleaned = value.strip().lower()
        if cleaned and ("@" not in cleaned or any(c.isspace() or ord(c) < 32 for c in cleaned)):
            raise ValueError(f"not an e-mail address: {value[:80]!r}")
        return cleaned

    @model_validator(mode="after")
    def _policies(self) -> ProcessSettings:
        self.sla = {key.upper(): policy for key, policy in self.sla.items()}
        missing = [p for p in PRIORITIES if p not in self.sla]
        for priority in missing:
            self.sla[priority] = _default_policies()[priority]
        self.default_priority = self.default_priority.upper()
        if self.default_priority not in self.sla:
            raise ValueError(f"default_priority {self.default_priority!r} has no SLA policy")
        return self
