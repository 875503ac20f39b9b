"""Recording a parsed mail: the new ticket or the follow-up message, its attachments and refs.

Runs inside the worker's transaction, after correlation decided the ticket. Attachment bytes
are stored once per SHA-256; every Message-ID is indexed for threading; people named on the
mail become participants of a new ticket (except the help desk's own addresses).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from intake.parsed import MailAddress, ParsedMail
from intake.reply_tokens import is_helpdesk_address
from models import (
    Attachment,
    Blob,
    Direction,
    Event,
    Message,
    ParticipantRole,
    Person,
    ThreadRef,
    ThreadSignal,
    Ticket,
    TicketParticipant,
    TicketStatus,
)

# Headers kept on the message for display and diagnosis (the raw mail is kept anyway).
KEPT_HEADERS = frozenset(
    {
        "message-id",
        "in-reply-to",
        "references",
        "date",
        "from",
        "sender",
        "reply-to",
        "to",
        "cc",
        "subject",
        "auto-submitted",
        "precedence",
        "list-id",
        "x-mailer",
        "user-agent",
        "authentication-results",
    }
)
MAX_SUBJECT = 500


@dataclass(frozen=True)
class RecordedMail:
    """Where a mail was recorded."""

    ticket: Ticket
    message: Message
    created_ticket: bool


def person_for(session: Session, address: MailAddress) -> Person:
    """The person with this address, created on first sight (name kept up to date)."""
    email = address.email.lower()
    person = session.execute(select(Person).where(Person.email == email)).scalar_one_or_none()
    if person is None:
        person = Person(email=email, name=address.name[:200])
        session.add(person)
        session.flush()
    elif address.name and not person.name:
        person.name = address.name[:200]
    return person


def store_blob(session: Session, sha256: str, data: bytes) -> None:
    """Store bytes once by their SHA-256 (concurrent workers may store the same blob)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(Blob)
        .values(sha256=sha256, size=len(data), data=data)
        .on_conflict_do_nothing(index_elements=["sha256"])
    )


def add_participant(
    session: Session, ticket: Ticket, person: Person, role: ParticipantRole
) -> None:
    """Make `person` a participant unless they are one already."""
    exists = session.execute(
        select(TicketParticipant.id).where(
            TicketParticipant.ticket_id == ticket.id, TicketParticipant.person_id == person.id
        )
    ).first()
    if exists is None:
        session.add(TicketParticipant(ticket_id=ticket.id, person_id=person.id, role=role))


def _kept_headers(parsed: ParsedMail) -> dict[str, str]:
    kept: dict[str, str] = {}
    for name, value in parsed.headers:
        key = name.lower()
        if key in KEPT_HEADERS and key not in kept:
            kept[key] = value[:2000]
    return kept


def create_ticket(
    session: Session, parsed: ParsedMail, helpdesk_addresses: frozenset[str]
) -> Ticket:
    """A new ticket for this mail's sender, with the CC'd people as participants."""
    if parsed.from_ is None:
        raise ValueError("a ticket needs a sender")
    requester = person_for(session, parsed.from_)
    ticket = Ticket(
        subject=(parsed.subject or "(no subject)")[:MAX_SUBJECT],
        status=TicketStatus.NEW,
        requester_id=requester.id,
    )
    session.add(ticket)
    session.flush()
    add_participant(session, ticket, requester, ParticipantRole.REQUESTER)
    for address in _people_named(parsed.cc, parsed.to, helpdesk_addresses, requester.email):
        add_participant(session, ticket, person_for(session, address), ParticipantRole.CC)
    session.add(Event(ticket_id=ticket.id, kind="ticket_created", actor=requester.email, data={}))
    return ticket


def _people_named(
    cc: Sequence[MailAddress],
    to: Sequence[MailAddress],
    helpdesk_addresses: frozenset[str],
    requester_email: str,
) -> list[MailAddress]:
    people: dict[str, MailAddress] = {}
    for address in [*to, *cc]:
        email = address.email.lower()
        if not email or email == requester_email or is_helpdesk_address(email, helpdesk_addresses):
            continue
        people.setdefault(email, address)
    return list(people.values())


def add_inbound_message(
    session: Session,
    ticket: Ticket,
    parsed: ParsedMail,
    *,
    inbound_id: int,
    signal: ThreadSignal,
    new_text: str,
) -> Message:
    """Record the mail as a message on `ticket`, with attachments and its Message-ID."""
    sender = parsed.from_
    author = person_for(session, sender) if sender is not None else None
    message = Message(
        ticket_id=ticket.id,
        direction=Direction.INBOUND,
        inbound_id=inbound_id,
        author_id=author.id if author else None,
        message_id=parsed.message_id,
        from_email=sender.email if sender else "",
        from_name=sender.name[:200] if sender else "",
        to=[a.email for a in parsed.to],
        cc=[a.email for a in parsed.cc],
        subject=parsed.subject[:1000],
        date=parsed.date,
        text=parsed.text,
        new_text=new_text,
        html_sanitized=parsed.html_sanitized,
        headers=_kept_headers(parsed),
        thread_signal=signal,
    )
    session.add(message)
    session.flush()
    for part in parsed.attachments:
        store_blob(session, part.sha256, part.data)
        session.add(
            Attachment(
                message_id=message.id,
                blob_sha256=part.sha256,
                filename=part.filename,
                content_type=part.content_type,
                content_id=part.content_id,
                inline=part.inline,
                size=part.size,
            )
        )
    if parsed.message_id:
        session.add(
            ThreadRef(
                message_id=parsed.message_id,
                ticket_id=ticket.id,
                direction=Direction.INBOUND,
                sender=sender.email.lower() if sender else "",
            )
        )
    session.add(
        Event(
            ticket_id=ticket.id,
            kind="mail_in",
            actor=sender.email if sender else "",
            data={"message": message.id, "signal": signal.value, "inbound": inbound_id},
        )
    )
    return message
