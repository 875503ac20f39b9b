"""Service levels: the business calendar, the targets per priority, and a ticket's SLA clock.

Where it sits: the acknowledge stage starts the clock of a new ticket (`start_clock`), the
lifecycle use cases pause it while the ticket waits for the requester or is resolved and
resume it when it is active again (`settle`), and the scheduler
(`deskmail.scheduler`) warns before and escalates after a due time passes. All times are
timezone-aware UTC in and out; the calendar works in its own zone (zoneinfo).

The bookkeeping on the ticket (docs/decisions/0122):

- `first_response_due`, `resolution_due`: the creation time plus the target plus the
  business time spent paused, in the policy's calendar (working hours, or around the clock);
- `first_response_warn_at`, `resolution_warn_at`: the same with the target shortened by the
  warn-before fraction, so the scheduler finds due warnings with an indexed comparison;
- `sla_priority`: the priority the due times were computed for; a ticket whose priority
  changed (reclassified by anyone) is recomputed;
- `sla_paused_at` / `sla_resumed_at` / `sla_paused_seconds`: an open pause, a pause ended
  but not yet added, and the business seconds of finished pauses.
  `ticket_actions.change_status` stamps the pause's start and end (it knows no calendar);
  `settle` adds its working time and moves the due times: at once in the lifecycle use
  cases, and in the scheduler's next round for a change made elsewhere.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holiday_tables

from deskmail.process_settings import ProcessSettings, parse_duration
from deskmail.settings import Settings, SettingsError
from deskmail.ticket_actions import SLA_PAUSED_STATUSES
from models import Ticket, TicketStatus, utcnow

# A target can never need more days than this: a calendar with no working day left (all
# holidays) must end with an error, not loop forever.
MAX_CALENDAR_DAYS = 3 * 366
# Statuses in which the clocks run; pending (waiting for the requester) and resolved pause them.
RUNNING_STATUSES = frozenset({TicketStatus.NEW, TicketStatus.OPEN})
PAUSED_STATUSES = frozenset(SLA_PAUSED_STATUSES)


class CalendarError(ValueError):
    """The calendar has no working time within reach (every day a holiday)."""


@dataclass(frozen=True)
class BusinessCalendar:
    """Working days and hours in one time zone, minus public and company holidays.

    `around_the_clock` calendars count every second. Holidays come from the `holidays`
    package for the configured country (and subdivision), one year at a time on first use.
    """

    zone: ZoneInfo
    weekdays: frozenset[int] = frozenset(range(5))
    start: time = time(9, 0)
    end: time = time(17, 0)
    holiday_country: str = ""
    holiday_subdivision: str = ""
    extra_holidays: frozenset[date] = frozenset()
    around_the_clock: bool = False
    _years: dict[int, frozenset[date]] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )
    _lock: threading.Lock = field(
        default_factory=threading.Lock, compare=False, hash=False, repr=False
    )

    @property
    def day_length(self) -> timedelta:
        """The working time of one working day (24 hours around the clock)."""
        if self.around_the_clock:
            return timedelta(days=1)
        return datetime.combine(date.min, self.end) - datetime.combine(date.min, self.start)

    def holidays_of(self, year: int) -> frozenset[date]:
        """The days off of one year: public holidays and company closures."""
        with self._lock:
            known = self._years.get(year)
            if known is None:
                public: set[date] = set()
                if self.holiday_country:
                    table = holiday_tables.country_holidays(
                        self.holiday_country,
                        subdiv=self.holiday_subdivision or None,
                        years=year,
                    )
                    public = set(table.keys())
                known = frozenset(public | {d for d in self.extra_holidays if d.year == year})
                self._years[year] = known
            return known

    def is_working_day(self, day: date) -> bool:
        """A working weekday that is no holiday."""
        if self.around_the_clock:
            return True
        return day.weekday() in self.weekdays and day not in self.holidays_of(day.year)

    def _windows(self, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working windows (UTC) from the day of `moment` on, the first one cut at `moment`."""
        local = moment.astimezone(self.zone)
        day = local.date()
        for _ in range(MAX_CALENDAR_DAYS):
            if self.is_working_day(day):
                if self.around_the_clock:
                    begin = datetime.combine(day, time(0), self.zone)
                    finish = datetime.combine(day + timedelta(days=1), time(0), self.zone)
                else:
                    begin = datetime.combine(day, self.start, self.zone)
                    finish = datetime.combine(day, self.end, self.zone)
                begin_utc, finish_utc = begin.astimezone(UTC), finish.astimezone(UTC)
                if finish_utc > moment:
                    yield max(begin_utc, moment), finish_utc
            day += timedelta(days=1)
        raise CalendarError(f"no working time within {MAX_CALENDAR_DAYS} days")

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The moment `duration` of working time after `start`."""
        start = start.astimezone(UTC)
        if duration <= timedelta(0):
            return start
        left = duration
        for begin, finish in self._windows(start):
            span = finish - begin
            if left <= span:
                return begin + left
            left -= span
        raise CalendarError("unreachable")  # pragma: no cover - _windows raises first

    def between(self, start: datetime, end: datetime) -> timedelta:
        """The working time from `start` to `end` (zero when `end` is not later)."""
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        total = timedelta(0)
        if end <= start:
            return total
        for begin, finish in self._windows(start):
            if begin >= end:
                break
            total += min(finish, end) - begin
            if finish >= end:
                break
        return total


@dataclass(frozen=True)
class SlaTarget:
    """A promise: so many working days, hours and minutes in a calendar."""

    days: float
    hours: float
    minutes: int
    calendar: BusinessCalendar

    @classmethod
    def parse(cls, text: str, calendar: BusinessCalendar) -> SlaTarget:
        days, hours, minutes = parse_duration(text)
        return cls(days, hours, minutes, calendar)

    @property
    def duration(self) -> timedelta:
        """The working time of the target (a day is one working day of the calendar)."""
        return self.calendar.day_length * self.days + timedelta(
            hours=self.hours, minutes=self.minutes
        )

    def words(self) -> str:
        """The promise as a requester reads it: "4 business hours", "1 hour", "3 business days"."""
        business = "" if self.calendar.around_the_clock else "business "
        parts: list[str] = []
        if self.days:
            parts.append(_count(self.days, f"{business}day"))
        if self.hours:
            parts.append(_count(self.hours, f"{business if not self.days else ''}hour"))
        if self.minutes:
            parts.append(_count(self.minutes, "minute"))
        return " and ".join(parts)


def _count(value: float, unit: str) -> str:
    number = f"{value:g}"
    return f"{number} {unit}" if value == 1 else f"{number} {unit}s"


@dataclass(frozen=True)
class SlaPolicy:
    """The first-response and resolution targets of one priority."""

    priority: str
    first_response: SlaTarget
    resolution: SlaTarget

    @property
    def calendar(self) -> BusinessCalendar:
        return self.first_response.calendar


@dataclass(frozen=True)
class SlaConfig:
    """Every policy, the business calendar and when to warn."""

    policies: dict[str, SlaPolicy]
    default_priority: str
    business: BusinessCalendar
    warn_before_fraction: float = 0.25

    def policy_for(self, priority: str | None) -> SlaPolicy:
        """The policy of a priority; unknown or missing priorities get the default policy."""
        key = (priority or "").upper()
        return self.policies.get(key) or self.policies[self.default_priority]


def zone_of(name: str) -> ZoneInfo:
    """The IANA zone, with a settings error naming it when unknown."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SettingsError(f"unknown time zone {name!r}") from exc


def sla_config(settings: Settings, process: ProcessSettings | None = None) -> SlaConfig:
    """The SLA configuration from the settings (`Settings.process`)."""
    process = process or settings.process
    cal = process.calendar
    zone = zone_of(cal.timezone or settings.timezone)
    if cal.holiday_country:
        try:
            holiday_tables.country_holidays(
                cal.holiday_country, subdiv=cal.holiday_subdivision or None, years=2000
            )
        except NotImplementedError as exc:
            raise SettingsError(
                f"no public holidays known for {cal.holiday_country!r}"
                f"{' / ' + cal.holiday_subdivision if cal.holiday_subdivision else ''}"
            ) from exc
    business = BusinessCalendar(
        zone=zone,
        weekdays=cal.weekday_numbers,
        start=cal.start,
        end=cal.end,
        holiday_country=cal.holiday_country.upper(),
        holiday_subdivision=cal.holiday_subdivision.upper(),
        extra_holidays=frozenset(cal.extra_holidays),
    )
    clock = BusinessCalendar(zone=zone, around_the_clock=True)
    policies = {}
    for priority, policy in process.sla.items():
        calendar = clock if policy.around_the_clock else business
        policies[priority] = SlaPolicy(
            priority,
            SlaTarget.parse(policy.first_response, calendar),
            SlaTarget.parse(policy.resolution, calendar),
        )
    return SlaConfig(policies, process.default_priority, business, process.warn_before_fraction)


# The clock of a ticket -----------------------------------------------------------------------


def _paused(ticket: Ticket) -> timedelta:
    return timedelta(seconds=ticket.sla_paused_seconds or 0)


def recompute(ticket: Ticket, config: SlaConfig) -> None:
    """Set the due and warning times from the creation time, the policy and the pauses."""
    policy = config.policy_for(ticket.priority)
    paused = _paused(ticket)
    calendar = policy.calendar
    # A ticket not flushed yet has no creation time: its clock starts now.
    ticket.created_at = ticket.created_at or utcnow()
    for target, due_name, warn_name in (
        (policy.first_response, "first_response_due", "first_response_warn_at"),
        (policy.resolution, "resolution_due", "resolution_warn_at"),
    ):
        duration = target.duration
        warn_after = duration * (1 - config.warn_before_fraction)
        setattr(ticket, due_name, calendar.add(ticket.created_at, duration + paused))
        setattr(ticket, warn_name, calendar.add(ticket.created_at, warn_after + paused))
    ticket.sla_priority = ticket.priority or ""


def start_clock(ticket: Ticket, config: SlaConfig) -> None:
    """A new ticket's due times (its clock started when it was created)."""
    ticket.sla_paused_seconds = ticket.sla_paused_seconds or 0
    recompute(ticket, config)


def settle(ticket: Ticket, config: SlaConfig) -> None:
    """Fold a finished pause (`sla_paused_at` .. `sla_resumed_at`) into the due times."""
    started, ended = ticket.sla_paused_at, ticket.sla_resumed_at
    if started is None or ended is None:
        return
    calendar = config.policy_for(ticket.priority).calendar
    extra = calendar.between(started, ended)
    ticket.sla_paused_seconds = (ticket.sla_paused_seconds or 0) + int(extra.total_seconds())
    ticket.sla_paused_at = None
    ticket.sla_resumed_at = None
    recompute(ticket, config)


def needs_refresh(ticket: Ticket) -> bool:
    """Whether the due times are stale: never computed, computed for another priority, or a
    finished pause is not folded in yet (the scheduler's sweep, `refresh`)."""
    if TicketStatus(ticket.status) == TicketStatus.CLOSED:
        return False
    return (
        ticket.sla_priority is None
        or ticket.first_response_due is None
        or ticket.sla_priority != (ticket.priority or "")
        or (ticket.sla_paused_at is not None and ticket.sla_resumed_at is not None)
    )


def refresh(ticket: Ticket, config: SlaConfig) -> bool:
    """Bring the due times up to date (`needs_refresh`); True when anything changed."""
    if not needs_refresh(ticket):
        return False
    if ticket.sla_paused_at is not None and ticket.sla_resumed_at is not None:
        settle(ticket, config)  # recomputes for the current priority too
    else:
        start_clock(ticket, config)
    return True


# Reading the state ------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetState:
    """One target of a ticket as the UI and reports show it."""

    due: datetime | None
    met_at: datetime | None  # first response or resolution time, if done
    breached: bool
    paused: bool

    def as_json(self) -> dict[str, object]:
        return {
            "due": self.due.isoformat() if self.due else None,
            "met_at": self.met_at.isoformat() if self.met_at else None,
            "breached": self.breached,
            "paused": self.paused,
        }


def target_state(
    due: datetime | None, met_at: datetime | None, *, paused: bool, now: datetime
) -> TargetState:
    """Whether a target was (or is being) missed."""
    if due is None:
        return TargetState(None, met_at, False, paused)
    breached = met_at > due if met_at is not None else (not paused and now > due)
    return TargetState(due, met_at, breached, paused)


def sla_view(ticket: Ticket, now: datetime) -> dict[str, object]:
    """The SLA part of a ticket's detail view."""
    paused = ticket.sla_paused_at is not None or TicketStatus(ticket.status) in PAUSED_STATUSES
    return {
        "policy": ticket.sla_priority or None,
        "paused": paused,
        "first_response": target_state(
            ticket.first_response_due, ticket.first_responded_at, paused=paused, now=now
        ).as_json(),
        "resolution": target_state(
            ticket.resolution_due, ticket.resolved_at, paused=paused, now=now
        ).as_json(),
    }
