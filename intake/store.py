"""Durable storage of raw mail: the one write SMTP and IMAP intake do before acknowledging.

Nothing is parsed here (parsing happens later, in the worker), so the write is cheap. The raw
bytes' SHA-256 is unique: storing the same bytes again is a no-op that reports the existing row,
which makes SMTP retries and IMAP redeliveries harmless (DESIGN.md, One mail, step 1).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from models import InboundMessage, InboundStatus, utcnow


@dataclass(frozen=True)
class Envelope:
    """What the transport knew about a mail besides its bytes."""

    source: str  # "smtp", "imap:<account>/<mailbox>", "inject"
    mail_from: str = ""
    rcpt_to: tuple[str, ...] = ()
    peer: str = ""
    received_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class Stored:
    """The row a mail is stored in, and whether this call created it."""

    inbound_id: int
    created: bool


# Built once: constructing the statement per mail costs about a millisecond of CPU, which the
# SMTP server's single writer thread cannot spare (bench/smtp_throughput.py).
_TABLE = InboundMessage.__table__
_INSERTS = {
    name: dml.insert(_TABLE)
    .on_conflict_do_nothing(index_elements=["raw_sha256"])
    .returning(_TABLE.c.id)
    for name, dml in (("sqlite", sqlite), ("postgresql", postgresql))
}
_FIND = select(_TABLE.c.id).where(_TABLE.c.raw_sha256 == bindparam("digest"))


def raw_digest(raw: bytes) -> str:
    """The dedupe key of a mail's bytes."""
    return hashlib.sha256(raw).hexdigest()


def _clean(text: str, limit: int) -> str:
    # Envelope values come from the network: no control characters, bounded length.
    return "".join(ch for ch in text if ch.isprintable())[:limit]


def store_raw(session: Session, raw: bytes, envelope: Envelope) -> Stored:
    """Insert the mail unless the same bytes are stored already; the caller commits."""
    digest = raw_digest(raw)
    values = {
        "raw_sha256": digest,
        "raw": raw,
        "size": len(raw),
        "source": _clean(envelope.source, 200),
        "mail_from": _clean(envelope.mail_from, 998),
        "rcpt_to": [_clean(r, 998) for r in envelope.rcpt_to],
        "peer": _clean(envelope.peer, 200),
        "received_at": envelope.received_at,
        "status": InboundStatus.RECEIVED,
        "attempts": 0,
        "next_attempt_at": envelope.received_at,
        "claimed_by": "",
        "last_error": "",
        "outcome_reason": "",
        "message_id_header": "",
        "details": {},
    }
    connection = session.connection()
    new_id = connection.execute(_INSERTS[connection.dialect.name], values).scalar_one_or_none()
    if new_id is not None:
        return Stored(inbound_id=new_id, created=True)
    existing = connection.execute(_FIND, {"digest": digest}).scalar_one()
    return Stored(inbound_id=existing, created=False)
