"""`deskmail demo`: send the sample mails to the running service and show what became of each.

Where it sits: a first-run tour for a new user (README, quick start). It talks to the running
`deskmail serve` the way any mail client would - over SMTP to the help desk's address - then
reads the outcome from the same data folder: the inbound row (ticket or why not), the
ticket's classification and suggestions, and the acknowledgement that went out, read back
from the maildir `<data>/outbox-maildir` when no relay is configured (the embedded
default), else from the outbox row. The reply sample answers the printer jam's
acknowledgement, with its Message-ID and reply-token address, as a requester's client would.

Nothing here changes the database: the service does the work, the demo only watches.
"""

from __future__ import annotations

import email.policy
import mailbox
import smtplib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.parser import BytesParser
from pathlib import Path

from sqlalchemy import select

from deskmail.app import App
from deskmail.demo_mails import SAMPLES, SampleMail, build_message, new_message_id
from deskmail.sender_service import maildir_path, relay_config
from models import (
    Article,
    DeskmailError,
    InboundMessage,
    InboundStatus,
    OutboundMessage,
    OutboundStatus,
    Suggestion,
    Ticket,
)

ACKNOWLEDGEMENT = "acknowledgement"
FINAL_INBOUND = (InboundStatus.PROCESSED, InboundStatus.QUARANTINED, InboundStatus.DEAD)
ACK_EXCERPT_LINES = 14
POLL_SECONDS = 0.2
RETRY_SECONDS = 1.0


class DemoError(DeskmailError):
    """The demo could not talk to the service (the message says what to check)."""


@dataclass(frozen=True)
class SuggestionView:
    """One article suggested for a ticket."""

    title: str
    confidence: float
    offered: bool  # eligible to be offered to the requester


@dataclass(frozen=True)
class AcknowledgementView:
    """The acknowledgement of a ticket as it went out."""

    subject: str
    to: list[str]
    status: str
    source: str  # "maildir <file>" or "outbox (relay ...)"
    text: str
    message_id: str
    reply_to: str


@dataclass
class DemoOutcome:
    """What became of one sample mail."""

    key: str
    title: str
    sender: str
    subject: str
    message_id: str
    result: str = "waiting"  # the inbound outcome: ticket_created, followup, auto_reply, ...
    reason: str = ""
    ticket: int | None = None
    status: str = ""
    category: str = ""
    priority: str = ""
    needs_triage: bool = False
    closed_by_solved: bool = False
    suggestions: list[SuggestionView] = field(default_factory=list)
    acknowledgement: AcknowledgementView | None = None

    def as_json(self) -> dict[str, object]:
        """The JSON shape of `deskmail demo --json`."""
        ack = self.acknowledgement
        return {
            "sample": self.key,
            "title": self.title,
            "from": self.sender,
            "subject": self.subject,
            "message_id": self.message_id,
            "result": self.result,
            "reason": self.reason,
            "ticket": self.ticket,
            "status": self.status,
            "category": self.category,
            "priority": self.priority,
            "needs_triage": self.needs_triage,
            "closed_by_solved": self.closed_by_solved,
            "suggestions": [vars(s) for s in self.suggestions],
            "acknowledgement": None if ack is None else vars(ack),
        }


class Demo:
    """One run of the demo against a service listening on `smtp_host:smtp_port`."""

    def __init__(
        self,
        app: App,
        smtp_host: str,
        smtp_port: int,
        *,
        timeout: float = 120.0,
        ack_wait: float = 15.0,
        progress: Callable[[str], None] = lambda _line: None,
    ) -> None:
        self.app = app
        self.smtp_host = smtp_host
        self.smtp_port = smtp_port
        self.timeout = timeout
        self.ack_wait = ack_wait
        self.progress = progress
        self.helpdesk = app.settings.addresses[0]
        self.maildir = None if relay_config(app.settings) else maildir_path(app.settings)

    # Running ----------------------------------------------------------------------------------

    def run(self) -> list[DemoOutcome]:
        """Send every sample (the reply after the mail it answers was acknowledged)."""
        outcomes: dict[str, DemoOutcome] = {}
        first = [s for s in SAMPLES if not s.answers]
        for sample in first:
            outcomes[sample.key] = self._send_new(sample)
        deadline = time.monotonic() + self.timeout
        for sample in first:
            self._watch(outcomes[sample.key], deadline)
        for sample in (s for s in SAMPLES if s.answers):
            outcome = self._send_reply(sample, outcomes[sample.answers])
            outcomes[sample.key] = outcome
            self._watch(outcome, time.monotonic() + self.timeout)
        return [outcomes[s.key] for s in SAMPLES]

    def _send_new(self, sample: SampleMail) -> DemoOutcome:
        message_id = new_message_id()
        message = build_message(sample, to=self.helpdesk, message_id=message_id)
        self._send(sample, message, self.helpdesk)
        return DemoOutcome(sample.key, sample.title, sample.mailbox, sample.subject, message_id)

    def _send_reply(self, sample: SampleMail, answered: DemoOutcome) -> DemoOutcome:
        """Reply as a mail client would: to the acknowledgement's Reply-To, threaded on it;
        without an acknowledgement, to the original mail with the ticket tag in the subject."""
        message_id = new_message_id()
        ack = answered.acknowledgement
        references: tuple[str, ...]
        if ack is not None:
            to = ack.reply_to or self.helpdesk
            subject = ack.subject if ack.subject.lower().startswith("re:") else f"Re: {ack.subject}"
            parent, references, quoted = ack.message_id, (answered.message_id,), ack.text
        else:
            to = self.helpdesk
            tag = f"[#{answered.ticket}] " if answered.ticket else ""
            subject = f"Re: {tag}{answered.subject}"
            parent, references, quoted = answered.message_id, (), ""
        message = build_message(
            sample,
            to=to,
            message_id=message_id,
            subject=subject,
            in_reply_to=parent,
            references=references,
            quoted=quoted,
        )
        self._send(sample, message, to)
        return DemoOutcome(sample.key, sample.title, sample.mailbox, subject, message_id)

    def _send(self, sample: SampleMail, message: EmailMessage, to: str) -> None:
        """Deliver like a mail server would: a 4xx answer (the service is busy, e.g. loading
        its model) is tried again until the timeout (RFC 5321 §4.2.5)."""
        self.progress(f"sending {sample.title.lower()} from {sample.email}")
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                with smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=30) as smtp:
                    smtp.send_message(message, from_addr=sample.email, to_addrs=[to])
                return
            except (OSError, smtplib.SMTPException) as exc:
                if not (temporary_failure(exc) and time.monotonic() < deadline):
                    raise DemoError(
                        f"cannot deliver to the help desk at {self.smtp_host}:{self.smtp_port} "
                        f"({exc}); is `deskmail serve` running with these settings?"
                    ) from exc
            time.sleep(RETRY_SECONDS)

    # Watching ---------------------------------------------------------------------------------

    def _watch(self, outcome: DemoOutcome, deadline: float) -> None:
        inbound = self._wait_processed(outcome.message_id, deadline)
        if inbound is None:
            outcome.result = "not processed in time"
            return
        outcome.result = str(inbound.outcome or inbound.status)
        outcome.reason = inbound.outcome_reason or inbound.last_error
        outcome.ticket = inbound.ticket_id
        if outcome.ticket is None:
            return
        self._read_ticket(outcome)
        if inbound.outcome == "ticket_created":
            outcome.acknowledgement = self._acknowledgement(outcome.ticket)
        self._read_ticket(outcome)  # a "solved" reply may have changed the status meanwhile

    def _wait_processed(self, message_id: str, deadline: float) -> InboundMessage | None:
        ids = [message_id, f"<{message_id}>"]
        while True:
            with self.app.read_sessions() as session:
                row = session.execute(
                    select(InboundMessage)
                    .where(
                        InboundMessage.message_id_header.in_(ids),
                        InboundMessage.status.in_([str(s) for s in FINAL_INBOUND]),
                    )
                    .order_by(InboundMessage.id.desc())
                    .limit(1)
                ).scalar_one_or_none()
                if row is not None:
                    session.expunge(row)
                    return row
            if time.monotonic() > deadline:
                return None
            time.sleep(POLL_SECONDS)

    def _read_ticket(self, outcome: DemoOutcome) -> None:
        with self.app.read_sessions() as session:
            ticket = session.get(Ticket, outcome.ticket)
            if ticket is None:
                return
            outcome.status = str(ticket.status)
            outcome.category = ticket.subcategory or ticket.category or ""
            outcome.priority = ticket.priority or ""
            outcome.needs_triage = ticket.needs_triage
            outcome.closed_by_solved = ticket.closed_by_solved
            rows = session.execute(
                select(Article.title, Suggestion.confidence, Suggestion.eligible_for_requester)
                .join(Article, Article.id == Suggestion.article_id)
                .where(Suggestion.ticket_id == ticket.id)
                .order_by(Suggestion.id.desc())
                .limit(20)
            ).all()
        seen: dict[str, SuggestionView] = {}
        for title, confidence, offered in rows:  # the newest search first
            seen.setdefault(title, SuggestionView(title, round(float(confidence), 3), offered))
        outcome.suggestions = sorted(seen.values(), key=lambda s: -s.confidence)[:3]

    def _acknowledgement(self, ticket_id: int) -> AcknowledgementView | None:
        """The ticket's acknowledgement, once the sender has delivered it (bounded wait)."""
        deadline = time.monotonic() + self.ack_wait
        while True:
            with self.app.read_sessions() as session:
                row = session.execute(
                    select(OutboundMessage)
                    .where(
                        OutboundMessage.ticket_id == ticket_id,
                        OutboundMessage.kind == ACKNOWLEDGEMENT,
                    )
                    .order_by(OutboundMessage.id)
                    .limit(1)
                ).scalar_one_or_none()
                if row is not None:
                    session.expunge(row)
            delivered = row is not None and row.status in (
                OutboundStatus.SENT,
                OutboundStatus.FAILED,
                OutboundStatus.SUPPRESSED,
            )
            if delivered or time.monotonic() > deadline:
                return self._view(row) if row is not None else None
            time.sleep(POLL_SECONDS)

    def _view(self, row: OutboundMessage) -> AcknowledgementView:
        message: Message | None = None
        source = f"outbox row {row.id}"
        if self.maildir is not None and row.status == OutboundStatus.SENT:
            found = find_in_maildir(self.maildir, row.message_id)
            if found is not None:
                name, message = found
                source = f"maildir {self.maildir / name}"
        if message is None and row.raw:
            message = BytesParser(policy=email.policy.default).parsebytes(bytes(row.raw))
        text = plain_text(message) if message is not None else ""
        return AcknowledgementView(
            subject=row.subject,
            to=list(row.rcpt_to),
            status=str(row.status),
            source=source,
            text=text,
            message_id=row.message_id.strip("<>"),
            reply_to=str(message.get("Reply-To", "")).strip() if message is not None else "",
        )


def temporary_failure(exc: BaseException) -> bool:
    """An SMTP answer that asks to try again later (4xx)."""
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _text in exc.recipients.values()]
        return bool(codes) and all(400 <= code < 500 for code in codes)
    return False


def find_in_maildir(folder: Path, message_id: str) -> tuple[str, Message] | None:
    """The mail with this Message-ID in a maildir (new/ and cur/), with its file's key."""
    wanted = message_id.strip().strip("<>")
    box = mailbox.Maildir(folder, factory=None, create=False)
    try:
        for key in box.iterkeys():
            with box.get_file(key) as handle:
                raw = handle.read()
            message = BytesParser(policy=email.policy.default).parsebytes(raw)
            if str(message.get("Message-ID", "")).strip().strip("<>") == wanted:
                return key, message
    except FileNotFoundError:
        return None
    return None


def plain_text(message: Message) -> str:
    """The text/plain body of a mail (empty when it has none)."""
    if not isinstance(message, EmailMessage):
        return ""
    part = message.get_body(preferencelist=("plain",))
    if part is None or not isinstance(part, EmailMessage):
        return ""
    content = part.get_content()
    return content if isinstance(content, str) else ""


def excerpt_lines(text: str, limit: int = ACK_EXCERPT_LINES) -> list[str]:
    """The first lines of a body with blank runs collapsed."""
    lines: list[str] = []
    for line in text.splitlines():
        if not line.strip() and (not lines or not lines[-1].strip()):
            continue
        lines.append(line.rstrip())
        if len(lines) >= limit:
            break
    return lines
