"""The outbox sender: claims due outbound rows, delivers them, records what the relay said.

Any number of senders may run against one database (DESIGN.md, scale-out): a claim is an
UPDATE guarded by the row's status (with `FOR UPDATE SKIP LOCKED` on PostgreSQL), as the
pipeline worker claims inbound mail. Each row's outcome is committed on its own, right after
the relay's answer:

- accepted (250 after the final dot): `sent`, committed at once, so a mail the relay took is
  never offered again. The one window left is a crash between the 250 and that commit; the
  claim then goes stale and the row is sent a second time (same bytes, same Message-ID, so
  the recipient's client shows one mail). A lost connection while waiting for the 250 is the
  same case seen from the other side (RFC 1047). If only the commit fails, the sender keeps
  the row claimed and retries the bookkeeping, never the delivery.
- 4yz, timeouts, refused or broken connections: back to `queued` with exponential backoff,
  for up to `max_age` (five days, like an MTA's queue lifetime); then `failed`.
- 5yz: `failed` at once, with a `mail_failed` event on the ticket (shown there).
- partial accept: the accepted recipients are recorded in `delivered_to`; recipients refused
  with 4yz stay in `rcpt_to` for a later try of the same mail, those refused with 5yz get a
  `mail_refused` event (and, for "no such mailbox" codes 5.1.x, their automatic mail muted).

When the relay itself is the problem (no connection, authentication, 421), the rest of the
claimed batch is put back to wait as long as the failed row, without counting a try.
"""

from __future__ import annotations

import logging
import os
import random
import re
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, sessionmaker

from models import Event, OutboundMessage, OutboundStatus, utcnow
from responder.suppression import mute_recipient
from responder.transport import Delivery, DeliveryError, Refusal, Transport

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 1000
# Enhanced status codes that say the mailbox does not exist (RFC 3463 §3.2): a hard bounce.
_NO_SUCH_MAILBOX = re.compile(r"^5\.1\.(?:1|2|3|6|10)\b")


@dataclass(frozen=True)
class OutboxConfig:
    """How the sender claims, retries and gives up (defaults like an MTA's queue)."""

    batch_size: int = 20
    poll_seconds: float = 1.0
    backoff_seconds: float = 60.0  # first retry after a minute, doubling...
    backoff_max_seconds: float = 3600.0  # ...up to an hour between tries
    max_age: timedelta = timedelta(days=5)  # Postfix's maximal_queue_lifetime
    # Longer than any one delivery may take (the relay's final-dot timeout is 10 minutes).
    claim_timeout: timedelta = timedelta(minutes=30)
    jitter: float = 0.1  # +-10 % on each delay, so many rows do not retry in one burst


@dataclass(frozen=True)
class SendResult:
    """What became of one claimed row in this round."""

    outbound_id: int
    status: OutboundStatus | None  # None: the row was not ours to send
    detail: str
    relay_down: bool = False  # the relay, not the mail, failed: the batch pauses


@dataclass(frozen=True)
class _Job:
    mail_from: str
    rcpt_to: list[str]
    raw: bytes
    message_id: str
    delivered_before: bool  # an earlier partial accept: the full bookkeeping path is needed


# Built once: the two statements every delivered mail runs (statement construction is a
# noticeable share of the per-mail cost otherwise).
_LOAD = select(
    OutboundMessage.mail_from,
    OutboundMessage.rcpt_to,
    OutboundMessage.raw,
    OutboundMessage.message_id,
    OutboundMessage.delivered_to,
).where(
    OutboundMessage.id == bindparam("b_id"),
    OutboundMessage.status == OutboundStatus.SENDING,
    OutboundMessage.claimed_by == bindparam("b_me"),
)
_COLUMNS = OutboundMessage.__table__.c
_MARK_SENT = (
    update(OutboundMessage)
    .where(
        OutboundMessage.id == bindparam("b_id"),
        OutboundMessage.status == OutboundStatus.SENDING,
        OutboundMessage.claimed_by == bindparam("b_me"),
    )
    .values(
        status=OutboundStatus.SENT,
        sent_at=bindparam("b_sent_at", type_=_COLUMNS.sent_at.type),
        delivered_to=bindparam("b_delivered_to", type_=_COLUMNS.delivered_to.type),
        relay_response=bindparam("b_relay_response"),
        claimed_by="",
        claimed_at=None,
        last_error="",
    )
)


def sender_name() -> str:
    """A name for this sender in claims: host, process and thread."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def backoff(config: OutboxConfig, attempts: int, rng: random.Random | None = None) -> timedelta:
    """The wait after `attempts` failed tries: doubling from `backoff_seconds`, capped, jittered."""
    seconds = min(config.backoff_seconds * (2 ** max(attempts - 1, 0)), config.backoff_max_seconds)
    if config.jitter and rng is not None:
        seconds *= rng.uniform(1 - config.jitter, 1 + config.jitter)
    return timedelta(seconds=seconds)


class OutboxSender:
    """Claims and delivers outbound mail through one transport (one thread's connection)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        transport: Transport,
        config: OutboxConfig | None = None,
        *,
        name: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.transport = transport
        self.config = config or OutboxConfig()
        self.name = name or sender_name()
        self.clock = clock
        self._rng = random.Random()
        # Rows the relay accepted whose "sent" could not be committed yet: never resent.
        self._unrecorded: dict[int, Delivery] = {}

    # Claiming -----------------------------------------------------------------------------

    def claim(self, limit: int) -> list[int]:
        """Claim up to `limit` rows that are due, oldest due first."""
        now = self.clock()
        with self.sessions() as session, session.begin():
            query = (
                select(OutboundMessage.id)
                .where(
                    OutboundMessage.status == OutboundStatus.QUEUED,
                    OutboundMessage.next_attempt_at <= now,
                )
                .order_by(OutboundMessage.next_attempt_at, OutboundMessage.id)
                .limit(limit)
            )
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            ids = list(session.execute(query).scalars())
            return [i for i in ids if self._mark_claimed(session, i, now)]

    def _mark_claimed(self, session: Session, outbound_id: int, now: datetime) -> bool:
        result = session.execute(
            update(OutboundMessage)
            .where(
                OutboundMessage.id == outbound_id,
                OutboundMessage.status == OutboundStatus.QUEUED,
            )
            .values(status=OutboundStatus.SENDING, claimed_by=self.name, claimed_at=now)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def release_stale_claims(self) -> int:
        """Give back rows claimed by a sender that died mid-way (older than `claim_timeout`).

        Such a row may have reached the relay before its sender died: it will be sent again
        (see the module's docstring). That is the price of never losing one.
        """
        now = self.clock()
        with self.sessions() as session, session.begin():
            result = session.execute(
                update(OutboundMessage)
                .where(
                    OutboundMessage.status == OutboundStatus.SENDING,
                    OutboundMessage.claimed_at < now - self.config.claim_timeout,
                )
                .values(
                    status=OutboundStatus.QUEUED,
                    claimed_by="",
                    claimed_at=None,
                    next_attempt_at=now,
                )
            )
            count = int(result.rowcount)  # type: ignore[attr-defined]
        if count:
            log.warning("released %d stale outbound claim(s); they may be sent twice", count)
        return count

    def _put_back(self, ids: Sequence[int], until: datetime) -> None:
        """Return claimed rows unsent, without counting a try (the relay is down, or stopping)."""
        if not ids:
            return
        with self.sessions() as session, session.begin():
            session.execute(
                update(OutboundMessage)
                .where(
                    OutboundMessage.id.in_(list(ids)),
                    OutboundMessage.status == OutboundStatus.SENDING,
                    OutboundMessage.claimed_by == self.name,
                )
                .values(
                    status=OutboundStatus.QUEUED,
                    claimed_by="",
                    claimed_at=None,
                    next_attempt_at=until,
                )
            )

    # Delivering ---------------------------------------------------------------------------

    def run_once(self, stop: threading.Event | None = None) -> list[SendResult]:
        """Claim a batch and deliver it; returns what happened to each row."""
        self._record_unrecorded()
        ids = self.claim(self.config.batch_size)
        if not ids:
            self.transport.close()  # relays drop idle sessions anyway (RFC 5321 §4.5.3.2.7)
            return []
        results: list[SendResult] = []
        for index, outbound_id in enumerate(ids):
            if stop is not None and stop.is_set():
                self._put_back(ids[index:], self.clock())
                break
            result = self.deliver(outbound_id)
            results.append(result)
            if result.relay_down:
                self._put_back(ids[index + 1 :], self._next_try_of(outbound_id))
                break
        return results

    def run_forever(self, stop: threading.Event) -> None:
        """Deliver until `stop` is set; sleeps briefly when nothing is due."""
        try:
            self.release_stale_claims()
        except Exception:  # the database may come back; the loop retries
            log.exception("sender %s could not release stale claims", self.name)
        while not stop.is_set():
            try:
                results = self.run_once(stop)
            except Exception:  # database down: keep the sender alive, retry
                log.exception("sender %s could not claim mail", self.name)
                results = []
            if not results or all(r.relay_down for r in results):
                stop.wait(self.config.poll_seconds)
        self.transport.close()

    def deliver(self, outbound_id: int) -> SendResult:
        """Send one claimed row and commit its outcome."""
        job = self._load(outbound_id)
        if job is None:
            return SendResult(outbound_id, None, "not claimed by this sender")
        try:
            delivery = self.transport.send(job.mail_from, job.rcpt_to, job.raw)
        except DeliveryError as exc:
            return self._record_failure(outbound_id, exc)
        except Exception as exc:  # an unexpected library error: retried later
            log.exception("outbound %s: unexpected error while sending", outbound_id)
            error = DeliveryError(f"unexpected error: {type(exc).__name__}", connection=True)
            return self._record_failure(outbound_id, error)
        try:
            if not delivery.refused and not job.delivered_before:
                return self._record_sent(outbound_id, job, delivery)
            return self._record_delivery(outbound_id, delivery)
        except Exception:  # the relay has it: keep the claim, retry the record
            log.exception("outbound %s was accepted but could not be marked sent", outbound_id)
            self._unrecorded[outbound_id] = delivery
            return SendResult(outbound_id, OutboundStatus.SENT, "accepted; not yet recorded")

    def _load(self, outbound_id: int) -> _Job | None:
        with self.sessions() as session:
            found = session.execute(_LOAD, {"b_id": outbound_id, "b_me": self.name}).first()
        if found is None:
            return None
        mail_from, rcpt_to, raw, message_id, delivered_to = found
        return _Job(mail_from, list(rcpt_to), raw, message_id, bool(delivered_to))

    def _record_unrecorded(self) -> None:
        for outbound_id, delivery in list(self._unrecorded.items()):
            try:
                self._record_delivery(outbound_id, delivery)
            except Exception:  # tried again next round
                log.exception("outbound %s: still cannot record its delivery", outbound_id)
                return
            del self._unrecorded[outbound_id]

    def _next_try_of(self, outbound_id: int) -> datetime:
        with self.sessions() as session:
            row = session.get(OutboundMessage, outbound_id)
            if row is not None and row.status == OutboundStatus.QUEUED:
                return row.next_attempt_at
        return self.clock() + backoff(self.config, 1)

    # Recording outcomes -------------------------------------------------------------------

    def _record_sent(self, outbound_id: int, job: _Job, delivery: Delivery) -> SendResult:
        """The common case, in one statement: every recipient accepted at the first delivery."""
        with self.sessions() as session, session.begin():
            result = session.execute(
                _MARK_SENT,
                {
                    "b_id": outbound_id,
                    "b_me": self.name,
                    "b_sent_at": self.clock(),
                    "b_delivered_to": list(delivery.accepted),
                    "b_relay_response": delivery.response[:1000],
                },
            )
            updated = result.rowcount == 1  # type: ignore[attr-defined]
        if not updated:
            # Not ours any more (an operator intervened): the careful path decides.
            return self._record_delivery(outbound_id, delivery)
        log.info(
            "outbound %s <%s>: accepted for %d recipient(s): %s",
            outbound_id,
            job.message_id,
            len(delivery.accepted),
            delivery.response,
        )
        return SendResult(outbound_id, OutboundStatus.SENT, delivery.response)

    def _record_delivery(self, outbound_id: int, delivery: Delivery) -> SendResult:
        now = self.clock()
        with self.sessions() as session, session.begin():
            row = session.get(OutboundMessage, outbound_id)
            if row is None:
                return SendResult(outbound_id, None, "vanished after sending")
            row.delivered_to = [
                *row.delivered_to,
                *(a for a in delivery.accepted if a not in row.delivered_to),
            ]
            row.relay_response = delivery.response[:1000]
            row.sent_at = row.sent_at or now
            row.claimed_by = ""
            row.claimed_at = None
            permanent = [r for r in delivery.refused if r.permanent]
            temporary = [r for r in delivery.refused if not r.permanent]
            if permanent:
                self._refused(session, row, permanent, now)
            if temporary:
                row.rcpt_to = [r.address for r in temporary]
                self._retry_later(session, row, _refusals_text(temporary), now)
            else:
                row.status = OutboundStatus.SENT
                row.last_error = _refusals_text(permanent)
            status, message_id = row.status, row.message_id
        log.info(
            "outbound %s <%s>: accepted for %d recipient(s)%s: %s",
            outbound_id,
            message_id,
            len(delivery.accepted),
            f", {len(delivery.refused)} refused" if delivery.refused else "",
            delivery.response,
        )
        return SendResult(outbound_id, status, delivery.response)

    def _record_failure(self, outbound_id: int, error: DeliveryError) -> SendResult:
        now = self.clock()
        summary = error.summary()
        if error.maybe_delivered:
            summary += " (the relay may have accepted it; a retry may deliver it twice)"
        with self.sessions() as session, session.begin():
            row = session.get(OutboundMessage, outbound_id)
            if row is None:
                return SendResult(outbound_id, None, "vanished", error.connection)
            row.claimed_by = ""
            row.claimed_at = None
            permanent = [r for r in error.refused if r.permanent]
            temporary = [r for r in error.refused if not r.permanent]
            if permanent:
                self._refused(session, row, permanent, now)
            if error.permanent:
                row.attempts += 1
                self._fail(session, row, summary, now)
            else:
                if temporary:
                    row.rcpt_to = [r.address for r in temporary]
                self._retry_later(session, row, summary, now)
            status, message_id = row.status, row.message_id
        log.warning("outbound %s <%s>: %s -> %s", outbound_id, message_id, summary, status)
        return SendResult(outbound_id, status, summary, error.connection)

    def _retry_later(
        self, session: Session, row: OutboundMessage, error: str, now: datetime
    ) -> None:
        row.attempts += 1
        row.last_error = error[:MAX_ERROR_CHARS]
        age = now - row.created_at
        if age >= self.config.max_age:
            days = age.total_seconds() / 86_400
            self._fail(session, row, f"gave up after {days:.1f} days of trying: {error}", now)
            return
        row.status = OutboundStatus.QUEUED
        row.next_attempt_at = now + backoff(self.config, row.attempts, self._rng)
        if row.attempts == 1:
            # The first delay shows on the ticket; later ones would only repeat it.
            session.add(
                Event(
                    ticket_id=row.ticket_id,
                    kind="mail_deferred",
                    data={
                        "outbound": row.id,
                        "message_id": row.message_id,
                        "error": error[:MAX_ERROR_CHARS],
                        "next_attempt": row.next_attempt_at.isoformat(),
                    },
                    created_at=now,
                )
            )

    def _fail(self, session: Session, row: OutboundMessage, reason: str, now: datetime) -> None:
        row.status = OutboundStatus.FAILED
        row.status_reason = reason[:MAX_ERROR_CHARS]
        row.last_error = reason[:MAX_ERROR_CHARS]
        session.add(
            Event(
                ticket_id=row.ticket_id,
                kind="mail_failed",
                data={
                    "outbound": row.id,
                    "mail": row.kind,
                    "message_id": row.message_id,
                    "to": list(row.rcpt_to),
                    "delivered_to": list(row.delivered_to),
                    "error": reason[:MAX_ERROR_CHARS],
                },
                created_at=now,
            )
        )

    def _refused(
        self, session: Session, row: OutboundMessage, refusals: Sequence[Refusal], now: datetime
    ) -> None:
        session.add(
            Event(
                ticket_id=row.ticket_id,
                kind="mail_refused",
                data={
                    "outbound": row.id,
                    "message_id": row.message_id,
                    "recipients": [
                        {"address": r.address, "code": r.code, "text": r.text} for r in refusals
                    ],
                },
                created_at=now,
            )
        )
        for refusal in refusals:
            if _NO_SUCH_MAILBOX.match(refusal.text):
                mute_recipient(
                    session,
                    refusal.address,
                    f"relay refused: {refusal.code} {refusal.text}",
                    now=now,
                )


def _refusals_text(refusals: Sequence[Refusal]) -> str:
    return "; ".join(f"{r.address}: {r.code} {r.text}" for r in refusals)[:MAX_ERROR_CHARS]
