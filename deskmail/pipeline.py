"""The pipeline: the one place that knows the order of the stages a mail goes through.

`parse -> screen -> correlate -> record -> classify -> suggest -> acknowledge`, as plain
function calls over one `MailContext`, inside one transaction per mail (the worker owns the
transaction). A stage may end the mail early by setting its outcome: a quarantined mail, an
auto-reply, a bounce, a report, a loop, list mail or a duplicate never opens a ticket and never
gets an answer. Errors are not caught here: the worker rolls back and retries.
"""

from __future__ import annotations

import email.message
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from deskmail.app import App
from intake.errors import MailQuarantined
from intake.limits import MailLimits
from intake.mime import extract, load_message
from intake.mime_deadline import Deadline
from intake.parsed import MailAddress, ParsedMail
from intake.recording import add_inbound_message, create_ticket
from intake.screening import ScreeningConfig, ScreeningVerdict, ScreenKind, screen
from intake.signature import find_recurring_signature
from intake.threading import Correlation, MailKeys, correlate
from intake.trimming import extract_new_part
from models import (
    Direction,
    Event,
    InboundMessage,
    Message,
    OutboundMessage,
    Outcome,
    ThreadSignal,
    Ticket,
)

log = logging.getLogger(__name__)

# How many earlier mails of a sender are compared to find their recurring signature.
SIGNATURE_HISTORY = 5

_SCREEN_OUTCOMES = {
    ScreenKind.AUTO_REPLY: Outcome.AUTO_REPLY,
    ScreenKind.BOUNCE: Outcome.BOUNCE,
    ScreenKind.REPORT: Outcome.REPORT,
    ScreenKind.LOOP: Outcome.LOOP,
    ScreenKind.LIST_MAIL: Outcome.LIST_MAIL,
}


@dataclass
class MailContext:
    """Everything the stages know about one mail as it moves through the pipeline."""

    session: Session
    inbound: InboundMessage
    message: email.message.Message | None = None
    parsed: ParsedMail | None = None
    verdict: ScreeningVerdict | None = None
    correlation: Correlation | None = None
    ticket: Ticket | None = None
    record: Message | None = None
    new_text: str = ""
    outcome: Outcome | None = None
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        """True once a stage has decided the mail's outcome."""
        return self.outcome is not None and self.outcome not in (
            Outcome.TICKET_CREATED,
            Outcome.FOLLOWUP,
        )


Stage = Callable[[MailContext], None]


def mail_limits(app: App) -> MailLimits:
    """The parsing limits from the settings."""
    limits = app.settings.limits
    return MailLimits(
        max_total_bytes=limits.max_message_bytes,
        max_header_bytes=limits.max_header_bytes,
        max_mime_depth=limits.max_mime_depth,
        max_parts=limits.max_mime_parts,
        max_addresses_total=limits.max_addresses,
        parse_time_budget_seconds=limits.parse_seconds,
    )


class Pipeline:
    """The stages in order, bound to one application."""

    def __init__(self, app: App, extra_stages: Sequence[Stage] = ()) -> None:
        self.app = app
        self.limits = mail_limits(app)
        self.screen_config = ScreeningConfig(
            own_addresses=app.settings.address_set,
            message_id_domain=app.settings.message_id_domain,
        )
        self.stages: list[Stage] = [
            self.parse,
            self.screen,
            self.correlate,
            self.record,
            *extra_stages,
        ]

    def run(self, session: Session, inbound: InboundMessage) -> MailContext:
        """Run every stage on one stored mail; the caller commits or rolls back."""
        context = MailContext(session=session, inbound=inbound)
        for stage in self.stages:
            stage(context)
            if context.done:
                break
        return context

    # Stages -------------------------------------------------------------------------------

    def parse(self, ctx: MailContext) -> None:
        """Load the MIME structure and extract the parts later stages read."""
        # One time budget covers loading and extraction (docs/decisions/0011).
        deadline = Deadline.after(self.limits.parse_time_budget_seconds)
        try:
            ctx.message = load_message(ctx.inbound.raw, self.limits, deadline=deadline)
            ctx.parsed = extract(
                ctx.message,
                received_at=ctx.inbound.received_at,
                limits=self.limits,
                deadline=deadline,
            )
        except MailQuarantined as exc:
            ctx.outcome = Outcome.QUARANTINED
            ctx.reason = str(exc)
            ctx.details = {"reason": exc.reason.value}
            return
        ctx.inbound.message_id_header = (ctx.parsed.message_id or "")[:998]
        if ctx.parsed.from_ is None or not ctx.parsed.from_.email:
            envelope_sender = ctx.inbound.mail_from.strip("<> ")
            if not envelope_sender:
                ctx.outcome = Outcome.QUARANTINED
                ctx.reason = "no sender: neither a From header nor an envelope sender"
                ctx.details = {"reason": "no_sender"}

    def screen(self, ctx: MailContext) -> None:
        """Auto-replies, bounces, reports, loops and list mail end here, recorded."""
        assert ctx.message is not None
        verdict = screen(
            ctx.message, self.screen_config, envelope_sender=_envelope_sender(ctx.inbound)
        )
        ctx.verdict = verdict
        outcome = _SCREEN_OUTCOMES.get(verdict.kind)
        if outcome is None:
            return
        ctx.outcome = outcome
        ctx.reason = verdict.reason
        if verdict.bounce is not None:
            ctx.details = {
                "bounce": {
                    "recipients": list(verdict.bounce.recipients),
                    "permanent": verdict.bounce.permanent,
                    "original_message_id": verdict.bounce.original_message_id,
                    "status": verdict.bounce.status,
                }
            }
        self._note_on_related_ticket(ctx)

    def correlate(self, ctx: MailContext) -> None:
        """Find the ticket the mail belongs to, or decide it starts a new one."""
        parsed = ctx.parsed
        assert parsed is not None
        correlation = correlate(ctx.session, _keys(ctx.inbound, parsed), self.app.threading_config)
        ctx.correlation = correlation
        if correlation.duplicate:
            ctx.outcome = Outcome.DUPLICATE
            ctx.reason = correlation.reason

    def record(self, ctx: MailContext) -> None:
        """Store the mail as a new ticket or as a follow-up on its ticket."""
        parsed, correlation = ctx.parsed, ctx.correlation
        assert parsed is not None
        assert correlation is not None
        if parsed.from_ is None or not parsed.from_.email:
            parsed = _with_sender(parsed, ctx.inbound.mail_from.strip("<> "))
            ctx.parsed = parsed
        trimmed = extract_new_part(
            parsed.text,
            # HTML quote markers only when the text came from the HTML (its conversion loses
            # the `>` marks); a text/plain part carries its own quoting.
            html=parsed.html_sanitized if parsed.text_source == "text/html" else None,
            sender_name=parsed.from_.name if parsed.from_ else None,
            known_signatures=self._recurring_signature(ctx.session, parsed),
        )
        if correlation.ticket_id is None:
            ticket = create_ticket(ctx.session, parsed, self.app.settings.address_set)
            # A mail forwarded to the help desk is the problem report: keep the forward.
            ctx.new_text = "\n\n".join(p for p in (trimmed.new_text, trimmed.forwarded) if p)
            ctx.outcome = Outcome.TICKET_CREATED
            signal = ThreadSignal.NEW_TICKET
        else:
            found = ctx.session.get(Ticket, correlation.ticket_id)
            assert found is not None
            ticket = found
            ctx.new_text = trimmed.new_text
            ctx.outcome = Outcome.FOLLOWUP
            signal = correlation.signal
        ctx.ticket = ticket
        ctx.reason = correlation.reason
        ctx.record = add_inbound_message(
            ctx.session,
            ticket,
            parsed,
            inbound_id=ctx.inbound.id,
            signal=signal,
            new_text=ctx.new_text,
        )

    # Helpers ------------------------------------------------------------------------------

    def _recurring_signature(self, session: Session, parsed: ParsedMail) -> list[str]:
        """The signature this sender repeats in their mails, learned from their last ones."""
        if parsed.from_ is None or not parsed.from_.email:
            return []
        previous = session.execute(
            select(Message.text)
            .where(
                Message.from_email == parsed.from_.email,
                Message.direction == Direction.INBOUND,
            )
            .order_by(Message.id.desc())
            .limit(SIGNATURE_HISTORY)
        ).scalars()
        signature = find_recurring_signature(list(previous), parsed.text)
        return [signature] if signature else []

    def _note_on_related_ticket(self, ctx: MailContext) -> None:
        """Put a screened mail on the timeline of the ticket it concerns, if one is known."""
        ticket_id = None
        if ctx.verdict is not None and ctx.verdict.bounce is not None:
            original = ctx.verdict.bounce.original_message_id
            if original:
                ticket_id = ctx.session.execute(
                    select(OutboundMessage.ticket_id).where(OutboundMessage.message_id == original)
                ).scalar_one_or_none()
                ctx.details["outbound_message_id"] = original
        if ticket_id is None and ctx.parsed is not None:
            ticket_id = correlate(
                ctx.session, _keys(ctx.inbound, ctx.parsed), self.app.threading_config
            ).ticket_id
        if ticket_id is None:
            return
        ctx.inbound.ticket_id = ticket_id
        ctx.session.add(
            Event(
                ticket_id=ticket_id,
                kind=f"{ctx.outcome}_received",
                actor=ctx.parsed.from_.email if ctx.parsed and ctx.parsed.from_ else "",
                data={"inbound": ctx.inbound.id, "reason": ctx.reason, **ctx.details},
            )
        )


def _envelope_sender(inbound: InboundMessage) -> str | None:
    # SMTP gives the reverse-path ("" for the null sender <>); other sources have none.
    if inbound.source == "smtp":
        return inbound.mail_from.strip("<> ")
    return None


def _keys(inbound: InboundMessage, parsed: ParsedMail) -> MailKeys:
    sender = parsed.from_.email.lower() if parsed.from_ else inbound.mail_from.strip("<> ").lower()
    return MailKeys(
        message_id=parsed.message_id,
        in_reply_to=parsed.in_reply_to,
        references=parsed.references,
        sender=sender,
        subject=parsed.subject,
        recipients=[*inbound.rcpt_to, *(a.email for a in parsed.to), *(a.email for a in parsed.cc)],
    )


def _with_sender(parsed: ParsedMail, envelope_sender: str) -> ParsedMail:
    from dataclasses import replace  # noqa: PLC0415 - only for mail without a From header

    return replace(parsed, from_=MailAddress(email=envelope_sender))
