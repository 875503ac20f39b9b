"""The scheduler: the help desk's timed work, in rounds, inside `deskmail serve` or on its own.

Where it sits: `SchedulerService` is one of the services of `deskmail serve` (and the only one
of `deskmail scheduler`, for scale-out against PostgreSQL: any number may run, every action
is claimed with a guarded update). Every `process.scheduler_seconds` a round does, in order:

1. `sla_watch.refresh_due_times` - start missing SLA clocks, fold finished pauses (pending,
   resolved) into the due times, follow priority changes;
2. `sla_watch.send_warnings` - warn before a target is missed;
3. `sla_watch.escalate_breaches` - escalate a missed target;
4. `auto_close.close_quiet_tickets` - close resolved tickets nobody answered.

Outbox retries need no round: a failed try puts the row back with `next_attempt_at`, and the
senders (`responder.sender`) pick it up when it falls due. Each step works in batches of
`process.scheduler_batch` tickets per round; a round that hits a batch limit runs again at
once rather than waiting for the next tick. An error in a round is logged and the next round
tries again: timed work must not stop because one ticket is broken (docs/decisions/0126).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from deskmail.app import App
from deskmail.auto_close import close_quiet_tickets
from deskmail.scheduler_context import TimedContext
from deskmail.serve import ServiceError
from deskmail.sla_watch import escalate_breaches, refresh_due_times, send_warnings
from models import utcnow

log = logging.getLogger(__name__)

# Rounds in a row that may run at once when a batch was full, before the scheduler waits for
# its next tick anyway (a backlog of thousands must not starve the rest of the process).
MAX_CATCH_UP_ROUNDS = 20


@dataclass(frozen=True)
class RoundReport:
    """What one round did."""

    refreshed: int = 0
    warned: int = 0
    escalated: int = 0
    closed: int = 0
    full: bool = False  # a batch limit was reached: more work may be waiting

    @property
    def total(self) -> int:
        """Every action of the round."""
        return self.refreshed + self.warned + self.escalated + self.closed


class Scheduler:
    """Runs rounds of timed work against the application's database."""

    def __init__(self, context: TimedContext, *, batch: int | None = None) -> None:
        self.context = context
        self.batch = batch or context.process.scheduler_batch

    @classmethod
    def for_app(cls, app: App) -> Scheduler:
        """A scheduler with the application's settings."""
        return cls(TimedContext.build(app))

    def run_once(self, now: datetime | None = None) -> RoundReport:
        """One round of every kind of timed work at `now` (default: the current time)."""
        moment = now or utcnow()
        limit = self.batch
        refreshed = refresh_due_times(self.context, now=moment, limit=limit)
        warned = send_warnings(self.context, now=moment, limit=limit)
        escalated = escalate_breaches(self.context, now=moment, limit=limit)
        closed = close_quiet_tickets(self.context, now=moment, limit=limit)
        full = any(count >= limit for count in (refreshed, warned, escalated, closed))
        report = RoundReport(refreshed, warned, escalated, closed, full)
        if report.total:
            log.info(
                "scheduler round: %d due times updated, %d warnings, %d escalations, %d closed",
                refreshed,
                warned,
                escalated,
                closed,
            )
        return report

    def run_forever(self, stop: threading.Event, *, clock: Callable[[], datetime] = utcnow) -> None:
        """Run rounds until `stop` is set; errors of a round are logged, not fatal."""
        interval = self.context.process.scheduler_seconds
        while not stop.is_set():
            for _ in range(MAX_CATCH_UP_ROUNDS):
                if stop.is_set():
                    return
                try:
                    report = self.run_once(clock())
                except Exception:  # the next round tries again (see the module docstring)
                    log.exception("scheduler round failed")
                    break
                if not report.full:
                    break
            stop.wait(interval)


class SchedulerService:
    """The scheduler as a service of `deskmail serve` and `deskmail scheduler` (one thread)."""

    name = "scheduler"

    def __init__(self, app: App, *, scheduler: Scheduler | None = None) -> None:
        self.app = app
        self._scheduler = scheduler
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def start(self) -> str:
        """Build the scheduler (checks the SLA calendar) and start its thread."""
        scheduler = self._scheduler or Scheduler.for_app(self.app)
        self._scheduler = scheduler
        self._thread = threading.Thread(
            target=self._run, args=(scheduler,), name="scheduler", daemon=True
        )
        self._thread.start()
        process = self.app.settings.process
        return (
            f"SLA checks and auto-close every {process.scheduler_seconds:g} s "
            f"(resolved tickets close after {process.auto_close_days} days)"
        )

    def _run(self, scheduler: Scheduler) -> None:
        try:
            scheduler.run_forever(self._stop)
        except BaseException as exc:  # reported through `failure()`
            log.exception("scheduler stopped")
            self._error = exc

    def stop(self, timeout: float) -> None:
        """Let the round in progress finish (each action is its own transaction)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("scheduler still busy at exit")

    def failure(self) -> BaseException | None:
        """Why the scheduler thread ended on its own."""
        if self._error is not None:
            return self._error
        if self._thread is not None and not self._stop.is_set() and not self._thread.is_alive():
            return ServiceError("the scheduler thread ended")
        return None
