"""The correlate stage: which ticket, if any, an incoming mail belongs to.

Signals, in order (DESIGN.md, Threading): our Message-IDs in In-Reply-To/References (every
Message-ID we send or receive is in `thread_ref`), a reply token in a recipient address or in
one of our Message-IDs, the ticket tag `[#1234]` in the subject. The deciding signal is
recorded. Only participants may add to a ticket: anyone else starts a new ticket. A mail whose
Message-ID and sender we already stored is a duplicate (the same mail delivered twice).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.reply_tokens import ReplyTokenKey, token_from_address, verify_token
from models import (
    Direction,
    Person,
    ThreadRef,
    ThreadSignal,
    Ticket,
    TicketParticipant,
)

# `[#1234]`, also `[Ticket#1234]`-style prefixes some clients or agents type; RFC 5322 subjects
# are free text, so only the bracketed form counts.
SUBJECT_TAG_RE = re.compile(r"\[(?:[A-Za-z ]{0,20})#(\d{1,12})\]")
MAX_REFERENCES = 100  # a hostile References header can name thousands of ids
MAX_MERGE_HOPS = 10


@dataclass(frozen=True)
class ThreadingConfig:
    """What correlation needs to know about the help desk."""

    helpdesk_addresses: frozenset[str]
    token_key: ReplyTokenKey
    message_id_domain: str


@dataclass(frozen=True)
class MailKeys:
    """The parts of a mail correlation looks at (from the parsed mail and the envelope)."""

    message_id: str | None
    in_reply_to: Sequence[str]
    references: Sequence[str]
    sender: str  # lower-cased From address ("" when missing)
    subject: str
    recipients: Sequence[str]  # envelope RCPT TO plus To and Cc addresses


@dataclass(frozen=True)
class Correlation:
    """The ticket a mail joins (None: a new ticket), the deciding signal, and why."""

    ticket_id: int | None
    signal: ThreadSignal
    reason: str
    duplicate: bool = False


def subject_ticket_number(subject: str) -> int | None:
    """The ticket number of a `[#1234]` tag in a subject, if any."""
    match = SUBJECT_TAG_RE.search(subject)
    return int(match.group(1)) if match else None


def _referenced_ids(keys: MailKeys) -> list[str]:
    # In-Reply-To names the direct parent; References lists the thread oldest first, so the
    # newest ids (most likely ours and on the right ticket after a merge) are tried first.
    ordered = [*keys.in_reply_to, *reversed(keys.references)]
    seen: dict[str, None] = {}
    for message_id in ordered[: MAX_REFERENCES * 2]:
        if message_id:
            seen.setdefault(message_id.strip("<> ").strip(), None)
    return list(seen)[:MAX_REFERENCES]


def _final_ticket(session: Session, ticket_id: int) -> Ticket | None:
    ticket = session.get(Ticket, ticket_id)
    hops = 0
    while ticket is not None and ticket.merged_into_id is not None and hops < MAX_MERGE_HOPS:
        ticket = session.get(Ticket, ticket.merged_into_id)
        hops += 1
    return ticket


def is_participant(session: Session, ticket_id: int, email: str) -> bool:
    """True when `email` is the requester, a CC'd person or an agent on the ticket."""
    if not email:
        return False
    row = session.execute(
        select(TicketParticipant.id)
        .join(Person, Person.id == TicketParticipant.person_id)
        .where(TicketParticipant.ticket_id == ticket_id, Person.email == email)
    ).first()
    return row is not None


def is_duplicate(session: Session, message_id: str | None, sender: str) -> bool:
    """True when a mail with this Message-ID from this sender was stored before."""
    if not message_id:
        return False
    row = session.execute(
        select(ThreadRef.id).where(
            ThreadRef.message_id == message_id,
            ThreadRef.direction == Direction.INBOUND,
            ThreadRef.sender == sender,
        )
    ).first()
    return row is not None


def _by_references(session: Session, ids: Iterable[str]) -> int | None:
    for message_id in ids:
        ticket_id = session.execute(
            select(ThreadRef.ticket_id)
            .where(ThreadRef.message_id == message_id)
            .order_by(ThreadRef.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        if ticket_id is not None:
            return ticket_id
    return None


def _by_token(config: ThreadingConfig, keys: MailKeys, ids: Iterable[str]) -> int | None:
    candidates: list[str] = []
    for address in keys.recipients:
        token = token_from_address(address, config.helpdesk_addresses)
        if token:
            candidates.append(token)
    # Our Message-IDs look like <t1234-<mac>.<random>@domain>: the token survives even a
    # client that drops Reply-To but keeps In-Reply-To.
    for message_id in ids:
        local, _, domain = message_id.rpartition("@")
        if domain.lower() == config.message_id_domain.lower():
            candidates.append(local.partition(".")[0])
    for token in candidates:
        ticket_id = verify_token(config.token_key, token, keys.sender)
        if ticket_id is not None:
            return ticket_id
    return None


def correlate(session: Session, keys: MailKeys, config: ThreadingConfig) -> Correlation:
    """Find the ticket this mail belongs to, by the strongest signal that names one."""
    if is_duplicate(session, keys.message_id, keys.sender):
        return Correlation(None, ThreadSignal.NEW_TICKET, "same Message-ID and sender", True)

    ids = _referenced_ids(keys)
    found: list[tuple[ThreadSignal, int]] = []
    by_refs = _by_references(session, ids)
    if by_refs is not None:
        found.append((ThreadSignal.REFERENCES, by_refs))
    by_token = _by_token(config, keys, ids)
    if by_token is not None:
        found.append((ThreadSignal.REPLY_TOKEN, by_token))
    by_tag = subject_ticket_number(keys.subject)
    if by_tag is not None:
        found.append((ThreadSignal.SUBJECT_TAG, by_tag))

    refused: list[str] = []
    for signal, candidate in found:
        ticket = _final_ticket(session, candidate)
        if ticket is None:
            continue
        # A valid reply token proves the sender is the person we wrote to.
        if signal is ThreadSignal.REPLY_TOKEN or is_participant(session, ticket.id, keys.sender):
            moved = f" (merged into #{ticket.id})" if ticket.id != candidate else ""
            return Correlation(ticket.id, signal, f"{signal.value} -> #{candidate}{moved}")
        refused.append(f"#{ticket.id} by {signal.value}: sender is not a participant")
    reason = "; ".join(refused) if refused else "no thread signal"
    return Correlation(None, ThreadSignal.NEW_TICKET, reason)
