"""The pipeline worker: claims stored mail, runs the pipeline, retries, and dead-letters.

Any number of workers may run against one database. A claim is an UPDATE guarded by the row's
status (and `FOR UPDATE SKIP LOCKED` on PostgreSQL), so each mail goes to one worker. Each mail
is processed in its own transaction, which also records its outcome: a ticket and the
"processed" status are committed together or not at all. A failure rolls back, counts the
attempt and schedules a retry with exponential backoff; after the last attempt the mail waits
in the dead-letter state until `deskmail inbound retry` (DESIGN.md, One mail, step 3).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from deskmail.app import App
from deskmail.db import is_postgres
from deskmail.pipeline import MailContext, Pipeline
from deskmail.write_gate import wait_for_urgent_writers
from models import InboundMessage, InboundStatus, Outcome, utcnow

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 4000


@dataclass(frozen=True)
class Result:
    """What became of one mail (the CLI prints these; `inject --json` too)."""

    inbound_id: int
    outcome: Outcome | None
    ticket: int | None
    reason: str
    details: dict[str, object]
    error: str = ""


def worker_name() -> str:
    """A name for this worker in claims: host, process and thread."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def backoff(app: App, attempts: int) -> timedelta:
    """Exponential backoff after `attempts` failed tries, capped."""
    settings = app.settings.worker
    seconds = min(
        settings.backoff_seconds * (2 ** max(attempts - 1, 0)), settings.backoff_max_seconds
    )
    return timedelta(seconds=seconds)


class Worker:
    """Claims and processes stored mail."""

    def __init__(self, app: App, pipeline: Pipeline, name: str | None = None) -> None:
        self.app = app
        self.pipeline = pipeline
        self.name = name or worker_name()
        self._sqlite = app.engine.dialect.name == "sqlite"

    # Claiming -----------------------------------------------------------------------------

    def claim(self, limit: int) -> list[int]:
        """Claim up to `limit` mails that are due, oldest first."""
        now = utcnow()
        with self.app.sessions() as session, session.begin():
            query = (
                select(InboundMessage.id)
                .where(
                    InboundMessage.status == InboundStatus.RECEIVED,
                    InboundMessage.next_attempt_at <= now,
                )
                .order_by(InboundMessage.id)
                .limit(limit)
            )
            if is_postgres(self.app.engine):
                query = query.with_for_update(skip_locked=True)
            ids = list(session.execute(query).scalars())
            return [i for i in ids if self._mark_claimed(session, i)]

    def claim_one(self, inbound_id: int) -> bool:
        """Claim one given mail (used by `deskmail inject` and `inbound retry`)."""
        with self.app.sessions() as session, session.begin():
            return self._mark_claimed(session, inbound_id)

    def _mark_claimed(self, session: Session, inbound_id: int) -> bool:
        result = session.execute(
            update(InboundMessage)
            .where(
                InboundMessage.id == inbound_id,
                InboundMessage.status == InboundStatus.RECEIVED,
            )
            .values(status=InboundStatus.PROCESSING, claimed_by=self.name, claimed_at=utcnow())
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def release_stale_claims(self) -> int:
        """Give back mail claimed by a worker that died mid-way (claim older than the timeout)."""
        cutoff = utcnow() - timedelta(seconds=self.app.settings.worker.claim_timeout_seconds)
        with self.app.sessions() as session, session.begin():
            result = session.execute(
                update(InboundMessage)
                .where(
                    InboundMessage.status == InboundStatus.PROCESSING,
                    InboundMessage.claimed_at < cutoff,
                )
                .values(status=InboundStatus.RECEIVED, claimed_by="")
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    # Processing ---------------------------------------------------------------------------

    def process(self, inbound_id: int) -> Result:
        """Run the pipeline on one claimed mail, committing its outcome or its failure."""
        try:
            with self.app.sessions() as session, session.begin():
                inbound = session.get(InboundMessage, inbound_id)
                if inbound is None or inbound.status != InboundStatus.PROCESSING:
                    return Result(inbound_id, None, None, "not claimed", {})
                context = self.pipeline.run(session, inbound)
                self._finish(inbound, context)
                result = Result(
                    inbound_id,
                    context.outcome,
                    inbound.ticket_id,
                    context.reason,
                    dict(context.details),
                )
        except Exception as exc:  # recorded on the row and retried, never lost
            log.exception("inbound %s failed", inbound_id)
            return self._record_failure(inbound_id, exc)
        log.info(
            "inbound %s: %s%s",
            inbound_id,
            result.outcome,
            f" ticket #{result.ticket}" if result.ticket else "",
        )
        return result

    def _finish(self, inbound: InboundMessage, context: MailContext) -> None:
        inbound.outcome = context.outcome
        inbound.outcome_reason = context.reason[:4000]
        inbound.details = context.details
        if context.ticket is not None:
            inbound.ticket_id = context.ticket.id
        inbound.processed_at = utcnow()
        inbound.attempts += 1
        inbound.last_error = ""
        inbound.status = (
            InboundStatus.QUARANTINED
            if context.outcome is Outcome.QUARANTINED
            else InboundStatus.PROCESSED
        )

    def _record_failure(self, inbound_id: int, exc: BaseException) -> Result:
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        with self.app.sessions() as session, session.begin():
            inbound = session.get(InboundMessage, inbound_id)
            if inbound is None:
                return Result(inbound_id, None, None, "vanished", {}, error)
            inbound.attempts += 1
            inbound.last_error = error[:MAX_ERROR_CHARS]
            inbound.claimed_by = ""
            if inbound.attempts >= self.app.settings.worker.max_attempts:
                inbound.status = InboundStatus.DEAD
            else:
                inbound.status = InboundStatus.RECEIVED
                inbound.next_attempt_at = utcnow() + backoff(self.app, inbound.attempts)
            status = inbound.status
        return Result(inbound_id, None, None, f"failed ({status}): {error}", {}, error)

    def run_once(self) -> list[Result]:
        """Claim a batch and process it; returns what happened.

        Before each mail, SMTP intake and the sender waiting for SQLite's write lock go first
        (bounded by `worker.yield_seconds`, deskmail.write_gate).
        """
        results = []
        for inbound_id in self.claim(self.app.settings.worker.batch_size):
            if self._sqlite:
                wait_for_urgent_writers(self.app.settings.worker.yield_seconds)
            results.append(self.process(inbound_id))
        return results

    def run_forever(self, stop: threading.Event) -> None:
        """Process mail until `stop` is set; sleeps briefly when there is nothing to do."""
        self.release_stale_claims()
        while not stop.is_set():
            try:
                results = self.run_once()
            except Exception:  # database down: keep the worker alive, retry
                log.exception("worker %s could not claim mail", self.name)
                results = []
            if not results:
                stop.wait(self.app.settings.worker.poll_seconds)


def retry_dead(app: App, inbound_id: int) -> bool:
    """Put a dead-lettered (or quarantined) mail back in the queue for one more round.

    A mail kept as its header section only (too large to fetch from IMAP) cannot be processed
    again: its body waits on the IMAP server, so it stays quarantined.
    """
    with app.sessions() as session, session.begin():
        row = session.get(InboundMessage, inbound_id, with_for_update=True)
        if row is None or row.status not in (InboundStatus.DEAD, InboundStatus.QUARANTINED):
            return False
        if row.details.get("headers_only"):
            return False
        row.status = InboundStatus.RECEIVED
        row.attempts = 0
        row.next_attempt_at = utcnow()
        row.claimed_by = ""
        row.outcome = None
        return True
