"""The mails Deskmail sends and what each one needs: one frozen dataclass per template folder.

A caller builds the dataclass of the mail it wants (the acknowledgement stage an
`AcknowledgementMail`, the resolve use case a `ResolutionMail`, ...) and hands it to
`responder.outbox.enqueue`; the fields are the template's variables, so a forgotten value is a
TypeError at the call, not a hole in a mail. Mail text (subjects, excerpts, replies) only ever
enters a template as one of these values, never as template source, so `{{ 7*7 }}` in a
subject prints as written. Links must be http(s): they end up in `href` attributes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from models import Ticket
from responder.headers import one_line, shorten

EXCERPT_CHARS = 300
REQUEST_EXCERPT_CHARS = 600
_URL = re.compile(r"^https?://[^\s<>\"'`\x00-\x1f\x7f]+$", re.IGNORECASE)
PRIORITY_WORDS = {"P1": "critical", "P2": "high", "P3": "normal", "P4": "low"}
# Reply and forward prefixes of common clients and languages ("Re:", "AW:", "SV:", "Fwd:",
# "WG:", "RE[2]:") and ticket tags, which `TicketInfo.topic` removes from a subject.
_PREFIXES = re.compile(
    r"^\s*(?:(?:re|aw|sv|vs|antw|ref|fw|fwd|wg|tr|rv|enc|odp|ynt|vl)\s*(?:\[\d+\])?\s*[:：]\s*"
    r"|\[[A-Za-z ]{0,20}#\d{1,12}\]\s*)+",
    re.IGNORECASE,
)


class AutoSubmitted(StrEnum):
    """The RFC 3834 §5 `Auto-Submitted` value of a mail."""

    NO = "no"  # sent because a person acted (an agent's reply, a resolution)
    AUTO_REPLIED = "auto-replied"  # an automatic answer to a mail (acknowledgement)
    AUTO_GENERATED = "auto-generated"  # automatic, not in answer to a mail (SLA warnings)


class SlaTarget(StrEnum):
    """Which promise an SLA warning is about."""

    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"


def check_url(value: str, name: str) -> str:
    """`value` when it is empty or an http(s) URL without spaces or quotes, else ValueError."""
    if value and not _URL.match(value):
        raise ValueError(f"{name} must be an http(s) URL, got {value[:80]!r}")
    return value


def excerpt(text: str, max_chars: int = EXCERPT_CHARS) -> str:
    """A short one-paragraph excerpt of `text` (white space collapsed, cut at a word)."""
    return shorten(one_line(text), max_chars)


def _aware(value: datetime | None, name: str) -> None:
    if value is not None and value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")


# Values the mails are made of --------------------------------------------------------------


@dataclass(frozen=True)
class TicketInfo:
    """What every mail says about its ticket."""

    number: int
    subject: str
    category: str = ""  # the category's display name; "" while unknown (triage)
    priority: str = ""  # "P1" .. "P4"; "" while unknown
    status: str = ""

    def __post_init__(self) -> None:
        if self.number < 1:
            raise ValueError("a ticket number is positive")

    @property
    def tag(self) -> str:
        """The subject tag `[#1234]` that leads replies to the ticket (DESIGN.md, Threading)."""
        return f"[#{self.number}]"

    @property
    def topic(self) -> str:
        """The subject without reply prefixes and ticket tags (Outlook's Thread-Topic)."""
        return one_line(_PREFIXES.sub("", self.subject)) or "(no subject)"

    @property
    def priority_label(self) -> str:
        """ "P2 (high)", or "" when the priority is unknown."""
        word = PRIORITY_WORDS.get(self.priority.upper())
        return f"{self.priority.upper()} ({word})" if word else self.priority

    @classmethod
    def of(cls, ticket: Ticket, *, category_label: str | None = None) -> TicketInfo:
        """The mail's view of a stored ticket (the category's display name when given)."""
        return cls(
            number=ticket.number,
            subject=ticket.subject,
            category=category_label if category_label is not None else ticket.category or "",
            priority=ticket.priority or "",
            status=str(ticket.status),
        )


@dataclass(frozen=True)
class PersonInfo:
    """A person named in a mail."""

    email: str
    name: str = ""

    @property
    def display(self) -> str:
        """The name, or the address when the name is unknown."""
        return self.name or self.email

    @property
    def mailbox(self) -> str:
        """ "Carol Jones <carol@example.com>", or the bare address when the name is unknown."""
        return f"{self.name} <{self.email}>" if self.name else self.email

    @property
    def first_name(self) -> str:
        """The first word of the name, for a greeting ("" when the name is unknown)."""
        return self.name.split()[0] if self.name.split() else ""


@dataclass(frozen=True)
class SuggestedSolution:
    """A knowledge-base article that may solve the ticket, with the passage that matched."""

    title: str
    excerpt: str
    confidence: float  # 0..1, the matcher's calibrated confidence
    url: str = ""

    def __post_init__(self) -> None:
        check_url(self.url, "url")
        object.__setattr__(self, "excerpt", excerpt(self.excerpt))
        object.__setattr__(self, "title", one_line(self.title))


@dataclass(frozen=True)
class ArticleRef:
    """An article a mail points to."""

    title: str
    url: str = ""

    def __post_init__(self) -> None:
        check_url(self.url, "url")


# The mails ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MailBase:
    """What every mail has: its template folder and its RFC 3834 kind (class attributes)."""

    kind: ClassVar[str]
    auto_submitted: ClassVar[AutoSubmitted]
    to_requester: ClassVar[bool] = True

    def variables(self) -> dict[str, Any]:
        """The template's variables: the dataclass fields and the class's properties by name."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        for klass in type(self).__mro__:
            for name, member in vars(klass).items():
                if isinstance(member, property) and not name.startswith("_"):
                    values.setdefault(name, getattr(self, name))
        return values

    def sender_name(self, helpdesk_name: str) -> str:
        """The display name of the From header."""
        return helpdesk_name


@dataclass(frozen=True)
class AcknowledgementMail(MailBase):
    """The automatic answer to a new ticket: what we understood, when we answer, what may help.

    `suggestions` may be given unfiltered: only those at or above `suggestion_threshold` are
    kept, best first, at most `max_suggestions`.
    """

    kind: ClassVar[str] = "acknowledgement"
    auto_submitted: ClassVar[AutoSubmitted] = AutoSubmitted.AUTO_REPLIED

    ticket: TicketInfo
    requester: PersonInfo
    response_time: str  # the SLA's promise in words ("4 business hours"); "" when none
    response_due: datetime | None
    suggestions: tuple[SuggestedSolution, ...]
    suggestion_threshold: float
    status_url: str
    max_suggestions: int = 3
    solved_word: str = "SOLVED"

    def __post_init__(self) -> None:
        check_url(self.status_url, "status_url")
        _aware(self.response_due, "response_due")
        kept = sorted(
            (s for s in self.suggestions if s.confidence >= self.suggestion_threshold),
            key=lambda s: -s.confidence,
        )
        object.__setattr__(self, "suggestions", tuple(kept[: max(self.max_suggestions, 0)]))


@dataclass(frozen=True)
class FollowupReceivedMail(MailBase):
    """The automatic note that a requester's further mail was added to the ticket."""

    kind: ClassVar[str] = "followup_received"
    auto_submitted: ClassVar[AutoSubmitted] = AutoSubmitted.AUTO_REPLIED

    ticket: TicketInfo
    requester: PersonInfo
    status_url: str
    assignee_name: str = ""

    def __post_init__(self) -> None:
        check_url(self.status_url, "status_url")


@dataclass(frozen=True)
class AgentReplyMail(MailBase):
    """An agent's answer to the requester, in the agent's words."""

    kind: ClassVar[str] = "agent_reply"
    auto_submitted: ClassVar[AutoSubmitted] = AutoSubmitted.NO

    ticket: TicketInfo
    requester: PersonInfo
    agent: PersonInfo
    reply_text: str
    status_url: str

    def __post_init__(self) -> None:
        check_url(self.status_url, "status_url")

    def sender_name(self, helpdesk_name: str) -> str:
        """ "Alice Example (IT Help Desk)": the requester sees who answered."""
        return f"{self.agent.name} ({helpdesk_name})" if self.agent.name else helpdesk_name


@dataclass(frozen=True)
class ResolutionMail(MailBase):
    """The ticket is resolved: what was done, the article used, how to reopen."""

    kind: ClassVar[str] = "resolution"
    auto_submitted: ClassVar[AutoSubmitted] = AutoSubmitted.NO

    ticket: TicketInfo
    requester: PersonInfo
    resolution_text: str
    status_url: str
    reopen_days: int
    article: ArticleRef | None = None
    resolved_by: str = ""  # the agent's name; "" when the requester's "solved" closed it

    def __post_init__(self) -> None:
        check_url(self.status_url, "status_url")
        if self.reopen_days < 0:
            raise ValueError("reopen_days cannot be negative")


@dataclass(frozen=True)
class ClosureMail(MailBase):
    """The ticket is closed for good; a reply now starts a new ticket."""

    kind: ClassVar[str] = "closure"
    auto_submitted: ClassVar[AutoSubmitted] = AutoSubmitted.AUTO_GENERATED

    ticket: TicketInfo
    requester: PersonInfo
    status_url: str
    reason: str = ""

    def __post_init__(self) -> None:
        check_url(self.status_url, "status_url")


@dataclass(frozen=True)
class EscalationMail(MailBase):
    """To the escalation address or group: a ticket needs attention beyond its queue."""

    kind: ClassVar[str] = "escalation"
    auto_submitted: ClassVar[AutoSubmitted] = AutoSubmitted.AUTO_GENERATED
    to_requester: ClassVar[bool] = False

    ticket: TicketInfo
    requester: PersonInfo
    reason: str
    ticket_url: str
    level: int = 1
    group: str = ""
    assignee_name: str = ""
    resolution_due: datetime | None = None

    def __post_init__(self) -> None:
        check_url(self.ticket_url, "ticket_url")
        _aware(self.resolution_due, "resolution_due")


@dataclass(frozen=True)
class SlaWarningMail(MailBase):
    """To the escalation address or group: an SLA target is near or missed."""

    kind: ClassVar[str] = "sla_warning"
    auto_submitted: ClassVar[AutoSubmitted] = AutoSubmitted.AUTO_GENERATED
    to_requester: ClassVar[bool] = False

    ticket: TicketInfo
    requester: PersonInfo
    target: SlaTarget
    due_at: datetime
    breached: bool
    ticket_url: str
    group: str = ""
    assignee_name: str = ""

    def __post_init__(self) -> None:
        check_url(self.ticket_url, "ticket_url")
        _aware(self.due_at, "due_at")

    @property
    def target_label(self) -> str:
        """ "first response" or "resolution"."""
        return self.target.value.replace("_", " ")


@dataclass(frozen=True)
class NewTicketNotificationMail(MailBase):
    """To the agents of a group: a new urgent (P1/P2) ticket arrived."""

    kind: ClassVar[str] = "new_ticket_notification"
    auto_submitted: ClassVar[AutoSubmitted] = AutoSubmitted.AUTO_GENERATED
    to_requester: ClassVar[bool] = False

    ticket: TicketInfo
    requester: PersonInfo
    request_excerpt: str
    ticket_url: str
    group: str = ""

    def __post_init__(self) -> None:
        check_url(self.ticket_url, "ticket_url")
        object.__setattr__(
            self, "request_excerpt", excerpt(self.request_excerpt, REQUEST_EXCERPT_CHARS)
        )


Mail = (
    AcknowledgementMail
    | FollowupReceivedMail
    | AgentReplyMail
    | ResolutionMail
    | ClosureMail
    | EscalationMail
    | SlaWarningMail
    | NewTicketNotificationMail
)

MAIL_TYPES: tuple[type[MailBase], ...] = (
    AcknowledgementMail,
    FollowupReceivedMail,
    AgentReplyMail,
    ResolutionMail,
    ClosureMail,
    EscalationMail,
    SlaWarningMail,
    NewTicketNotificationMail,
)
MAIL_KINDS: tuple[str, ...] = tuple(t.kind for t in MAIL_TYPES)
