"""The transactional outbox: queueing outgoing mail in the caller's transaction.

`enqueue` renders a mail, composes its MIME message and writes it as an `outbound_message`
row, together with the outbound `Message` on the ticket's conversation, a `ThreadRef` for its
Message-ID (so a reply finds the ticket) and a `mail_queued` event, all in the session the
caller passes. It never commits: the mail exists exactly when the change that caused it
(a new ticket, a resolve) commits (DESIGN.md, One mail, step 4). The sender
(`responder.sender`) delivers committed rows later; the row's raw bytes and Message-ID never
change, so a retry is the same mail.

`enqueue_automatic` is the same behind the never-answer-automatically check
(`responder.suppression`); a refusal is recorded as a `suppressed` row and a `mail_suppressed`
event instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session

from models import (
    Direction,
    Event,
    Message,
    OutboundMessage,
    OutboundStatus,
    ThreadRef,
    ThreadSignal,
    utcnow,
)
from responder.compose import Conversation, Identity, Recipient, compose
from responder.headers import header_text, mailbox_address, new_message_id
from responder.mails import AutoSubmitted, Mail
from responder.rendering import Helpdesk, RenderedMail, Renderer
from responder.suppression import AutoReplyDecision, AutoReplyLimits, check_auto_reply

SYSTEM = "system"


@dataclass(frozen=True)
class Outbox:
    """What queueing mail needs from the application, built once per process."""

    renderer: Renderer
    identity: Identity
    limits: AutoReplyLimits = field(default_factory=AutoReplyLimits)
    helpdesk_addresses: frozenset[str] = frozenset()  # every address of the help desk

    @property
    def own_addresses(self) -> frozenset[str]:
        """Addresses automatic mail never goes to: the help desk's own."""
        return frozenset(
            {self.identity.address.lower(), *(a.lower() for a in self.helpdesk_addresses)}
        )


@dataclass(frozen=True)
class Queued:
    """A mail written to the outbox (committed with the caller's transaction)."""

    outbound: OutboundMessage
    message: Message | None  # the entry on the ticket's conversation
    rendered: RenderedMail

    @property
    def message_id(self) -> str:
        """The mail's Message-ID, without angle brackets."""
        return self.outbound.message_id


@dataclass(frozen=True)
class Suppressed:
    """An automatic mail that was not queued, and why (recorded as a `suppressed` row)."""

    outbound: OutboundMessage
    decision: AutoReplyDecision


def _auto_submitted(
    mail: Mail, automatic: bool | None, conversation: Conversation | None
) -> AutoSubmitted:
    if automatic is None or automatic == (mail.auto_submitted is not AutoSubmitted.NO):
        return mail.auto_submitted
    if not automatic:
        return AutoSubmitted.NO
    # A mail that is usually sent by a person, sent by the system this time (a resolution after
    # the requester's "solved"): an answer when it answers a mail, else generated.
    if conversation is not None and conversation.in_reply_to:
        return AutoSubmitted.AUTO_REPLIED
    return AutoSubmitted.AUTO_GENERATED


def _distinct(addresses: Sequence[str]) -> list[str]:
    seen: dict[str, str] = {}
    for address in addresses:
        seen.setdefault(address.lower(), address)
    return list(seen.values())


def enqueue(
    session: Session,
    outbox: Outbox,
    mail: Mail,
    *,
    to: Recipient,
    cc: Sequence[Recipient] = (),
    reply_token: str | None = None,
    reply_to: str | None = None,
    conversation: Conversation | None = None,
    automatic: bool | None = None,
    author_id: int | None = None,
    actor: str = SYSTEM,
    now: datetime | None = None,
) -> Queued:
    """Render `mail` and queue it to `to` (and `cc`) on the mail's ticket, in `session`.

    `reply_token` goes into the Message-ID and `reply_to` is the reply-token address, both
    made by the caller (intake.reply_tokens) for this recipient. `automatic` defaults to the
    mail's kind (an acknowledgement is automatic, an agent's reply is not). Raises
    `AddressError` for an address that cannot be mailed and `TemplateRenderError` for a broken
    packaged template; an edited template that fails falls back (see responder.rendering).
    """
    moment = now or utcnow()
    identity = outbox.identity
    rendered = outbox.renderer.render(mail, Helpdesk(identity.name, identity.address))
    submitted = _auto_submitted(mail, automatic, conversation)
    message_id = new_message_id(identity.message_id_domain, reply_token)
    sender_name = mail.sender_name(identity.name)
    mime = compose(
        rendered,
        identity=identity,
        sender_name=sender_name,
        to=to,
        cc=cc,
        reply_to=reply_to,
        message_id=message_id,
        conversation=conversation,
        auto_submitted=submitted,
        date=moment,
    )
    primary = mailbox_address(to.email)
    copies = [mailbox_address(r.email) for r in cc]
    ticket_id = mail.ticket.number
    row = OutboundMessage(
        ticket_id=ticket_id,
        kind=mail.kind,
        automatic=submitted is not AutoSubmitted.NO,
        message_id=message_id,
        mail_from=identity.address,
        rcpt_to=_distinct([primary, *copies]),
        raw=mime.as_bytes(),
        status=OutboundStatus.QUEUED,
        attempts=0,
        next_attempt_at=moment,
        created_at=moment,
        recipient=primary.lower(),
        subject=rendered.subject[:1000],
    )
    session.add(row)
    session.flush()
    message = Message(
        ticket_id=ticket_id,
        direction=Direction.OUTBOUND,
        outbound_id=row.id,
        author_id=author_id,
        message_id=message_id,
        from_email=identity.address,
        from_name=header_text(sender_name, 200),
        to=[primary],
        cc=copies,
        subject=rendered.subject[:1000],
        date=moment,
        text=rendered.text,
        new_text=rendered.text,
        headers={
            key.lower(): str(value)[:2000]
            for key, value in mime.items()
            if key.lower() in _KEPT_HEADERS
        },
        # Outbound entries are placed by us, not by a thread signal; AGENT is the value that
        # means "added by the help desk side".
        thread_signal=ThreadSignal.AGENT,
        created_at=moment,
    )
    session.add(message)
    session.add(
        ThreadRef(
            message_id=message_id,
            ticket_id=ticket_id,
            direction=Direction.OUTBOUND,
            sender=identity.address.lower(),
            created_at=moment,
        )
    )
    session.add(
        Event(
            ticket_id=ticket_id,
            kind="mail_queued",
            actor=actor,
            data={
                "outbound": row.id,
                "mail": mail.kind,
                "to": row.rcpt_to,
                "message_id": message_id,
                "automatic": row.automatic,
                "templates": list(rendered.overrides),
            },
            created_at=moment,
        )
    )
    if rendered.fallback:
        session.add(
            Event(
                ticket_id=ticket_id,
                kind="template_fallback",
                actor=SYSTEM,
                data={"outbound": row.id, "mail": mail.kind, "error": rendered.fallback},
                created_at=moment,
            )
        )
    return Queued(row, message, rendered)


_KEPT_HEADERS = frozenset(
    {
        "message-id",
        "in-reply-to",
        "references",
        "reply-to",
        "auto-submitted",
        "thread-index",
        "thread-topic",
    }
)


def record_suppressed(
    session: Session,
    outbox: Outbox,
    mail: Mail,
    *,
    recipient: str,
    decision: AutoReplyDecision,
    now: datetime | None = None,
) -> OutboundMessage:
    """Record that an automatic mail was not sent: a `suppressed` row and a ticket event."""
    moment = now or utcnow()
    identity = outbox.identity
    row = OutboundMessage(
        ticket_id=mail.ticket.number,
        kind=mail.kind,
        automatic=True,
        # Unique like every row's; never sent, so it names nothing anyone will see.
        message_id=new_message_id(identity.message_id_domain),
        mail_from=identity.address,
        rcpt_to=[header_text(recipient, 320)] if recipient.strip() else [],
        raw=b"",
        status=OutboundStatus.SUPPRESSED,
        attempts=0,
        next_attempt_at=moment,
        created_at=moment,
        recipient=header_text(recipient, 320).lower(),
        subject="",
        status_reason=decision.reason,
    )
    session.add(row)
    session.flush()
    session.add(
        Event(
            ticket_id=mail.ticket.number,
            kind="mail_suppressed",
            actor=SYSTEM,
            data={
                "outbound": row.id,
                "mail": mail.kind,
                "to": row.recipient,
                "reason": decision.reason,
                "code": str(decision.code) if decision.code else "",
            },
            created_at=moment,
        )
    )
    session.flush()
    return row


def enqueue_automatic(
    session: Session,
    outbox: Outbox,
    mail: Mail,
    *,
    to: Recipient,
    cc: Sequence[Recipient] = (),
    reply_token: str | None = None,
    reply_to: str | None = None,
    conversation: Conversation | None = None,
    now: datetime | None = None,
) -> Queued | Suppressed:
    """Queue an automatic mail unless `check_auto_reply` refuses it (then record why)."""
    decision = check_auto_reply(
        session,
        to.email,
        ticket_number=mail.ticket.number,
        own_addresses=outbox.own_addresses,
        limits=outbox.limits,
        now=now,
    )
    if not decision.allowed:
        row = record_suppressed(
            session, outbox, mail, recipient=to.email, decision=decision, now=now
        )
        return Suppressed(row, decision)
    return enqueue(
        session,
        outbox,
        mail,
        to=to,
        cc=cc,
        reply_token=reply_token,
        reply_to=reply_to,
        conversation=conversation,
        automatic=True,
        now=now,
    )


# Operations on queued mail (the CLI and the UI) ------------------------------------------


def retry_failed(session: Session, outbound_id: int, *, now: datetime | None = None) -> bool:
    """Queue a failed mail again for a fresh round of tries; False when it is not failed."""
    result = session.execute(
        update(OutboundMessage)
        .where(
            OutboundMessage.id == outbound_id,
            OutboundMessage.status == OutboundStatus.FAILED,
            OutboundMessage.raw != b"",
        )
        .values(
            status=OutboundStatus.QUEUED,
            attempts=0,
            next_attempt_at=now or utcnow(),
            claimed_at=None,
            claimed_by="",
            status_reason="",
        )
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def list_outbound(
    session: Session,
    *,
    statuses: Sequence[OutboundStatus] = (),
    retrying: bool = False,
    limit: int = 100,
) -> list[OutboundMessage]:
    """Outbound rows newest first: of the given statuses, plus queued ones that failed a try."""
    query = select(OutboundMessage).order_by(OutboundMessage.id.desc()).limit(limit)
    conditions: list[ColumnElement[bool]] = []
    if statuses:
        conditions.append(OutboundMessage.status.in_(list(statuses)))
    if retrying:
        conditions.append(
            (OutboundMessage.status == OutboundStatus.QUEUED) & (OutboundMessage.attempts > 0)
        )
    if conditions:
        query = query.where(or_(*conditions))
    return list(session.execute(query).scalars())
