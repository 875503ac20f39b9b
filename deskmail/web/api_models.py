"""The JSON API's request and response shapes (they make the OpenAPI document).

Ticket and message outputs are the read models of `deskmail.views` (the CLI's `--json`
shapes) with a few more fields; the models here declare those shapes so the API validates
what it sends and documents it. Inputs state their constraints as patterns and lengths
(control characters never fit a one-line field) and refuse unknown fields.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["agent", "editor", "admin"]
AgentStatus = Literal["open", "pending", "resolved", "closed"]


# Constraints written as JSON Schema patterns, so the document says what the server accepts.
# Whitespace is spelt out (exactly Python's str.isspace): regex engines disagree about `\s`.
_WS = r"\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_CONTROL = r"\x00-\x1f\x7f"
ONE_LINE = rf"^[^{_CONTROL}]*$"
ONE_LINE_NOT_BLANK = rf"^[^{_CONTROL}]*[^{_WS}{_CONTROL}][^{_CONTROL}]*$"
NOT_BLANK = rf"[^{_WS}\x00]"
NO_NUL = r"^[^\x00]*$"
_ADDRESS_PART = rf"[^{_WS}{_CONTROL}@<>\"(),;]+"
EMAIL = rf"^{_ADDRESS_PART}@{_ADDRESS_PART}$"
CATEGORY_KEY = r"^[a-z0-9]+(-[a-z0-9]+)*(/[a-z0-9]+(-[a-z0-9]+)*)?$"


class _Input(BaseModel):
    """Request bodies: unknown fields are refused (and the document says so)."""

    model_config = ConfigDict(extra="forbid")


class ErrorOut(BaseModel):
    """Why a request was refused."""

    detail: str


class PersonOut(BaseModel):
    """A person by address and name."""

    email: str
    name: str


class MeOut(BaseModel):
    """The account the request acts as."""

    email: str
    name: str
    role: Role
    group: str
    via: Literal["session", "token"]


class TicketSummaryOut(BaseModel):
    """One ticket of a list (`deskmail tickets list --json` plus assignment and due times)."""

    number: int
    subject: str
    status: str
    requester: str
    category: str | None
    subcategory: str | None
    priority: str | None
    needs_triage: bool
    created: str | None
    updated: str | None
    assignee: str | None
    group: str
    first_response_due: str | None
    resolution_due: str | None


class TicketPageOut(BaseModel):
    """A page of the queue."""

    items: list[TicketSummaryOut]
    total: int
    page: int
    per_page: int
    pages: int


class AttachmentOut(BaseModel):
    """A file of a message; download it from `/api/v1/attachments/{id}`."""

    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    inline: bool


class MessageOut(BaseModel):
    """One entry of the conversation (`deskmail tickets show --json`)."""

    model_config = ConfigDict(populate_by_name=True)

    id: int
    direction: Literal["inbound", "outbound", "note"]
    sender: PersonOut = Field(alias="from")
    to: list[str]
    cc: list[str]
    subject: str
    date: str | None
    message_id: str | None
    text: str
    new_text: str
    html_sanitized: str | None
    attachments: list[AttachmentOut]
    thread_signal: str


class EventOut(BaseModel):
    """One entry of the ticket's timeline."""

    id: int
    kind: str
    actor: str
    data: dict[str, Any]
    created: str


class ClassificationOut(BaseModel):
    """The latest labels of a ticket with their confidences."""

    category: str | None
    subcategory: str | None
    impact: str | None
    urgency: str | None
    priority: str | None
    confidences: dict[str, Any]
    abstained: bool
    model_version: str
    source: str
    created: str


class TicketDetailOut(BaseModel):
    """A ticket with its conversation, classification and timeline."""

    number: int
    subject: str
    status: str
    requester: PersonOut
    category: str | None
    subcategory: str | None
    priority: str | None
    impact: str | None
    urgency: str | None
    needs_triage: bool
    created: str | None
    updated: str | None
    messages: list[MessageOut]
    assignee: PersonOut | None
    group: str
    first_response_due: str | None
    resolution_due: str | None
    classification: ClassificationOut | None
    events: list[EventOut]


class NoteIn(_Input):
    """An internal note."""

    text: str = Field(min_length=1, max_length=100_000, pattern=NOT_BLANK)


class NoteOut(BaseModel):
    """The note as stored."""

    id: int
    ticket: int
    text: str
    created: str


class StatusIn(_Input):
    """The status to set."""

    status: AgentStatus


class AssignIn(_Input):
    """Whom to assign ("me", an account's address, or null: nobody) and optionally a group."""

    assignee: str | None = Field(default=None, max_length=320, pattern=ONE_LINE)
    group: str | None = Field(default=None, max_length=100, pattern=ONE_LINE)


class TicketStateOut(BaseModel):
    """A ticket's state after an action."""

    number: int
    status: str
    assignee: str | None
    group: str


class UserOut(BaseModel):
    """An account."""

    id: int
    email: str
    name: str
    role: Role
    group: str
    active: bool
    created: str
    last_login: str | None


class UserIn(_Input):
    """A new account."""

    email: str = Field(max_length=320, pattern=EMAIL)
    role: Role
    password: str = Field(min_length=10, max_length=1024, pattern=NO_NUL)
    name: str = Field(default="", max_length=200, pattern=ONE_LINE)
    group: str = Field(default="", max_length=100, pattern=ONE_LINE)


class UserPatch(_Input):
    """Changes to an account."""

    role: Role | None = None
    active: bool | None = None
    group: str | None = Field(default=None, max_length=100, pattern=ONE_LINE)
    name: str | None = Field(default=None, max_length=200, pattern=ONE_LINE)


class CategoryOut(BaseModel):
    """A category of the tree."""

    id: int
    key: str
    name: str
    description: str
    parent: str | None
    position: int
    active: bool


class CategoryIn(_Input):
    """A new category ("parent/sub" keys make subcategories of an existing "parent")."""

    key: str = Field(max_length=100, pattern=CATEGORY_KEY)
    name: str = Field(max_length=200, pattern=ONE_LINE_NOT_BLANK)
    description: str = Field(default="", max_length=4000)


class CategoryPatch(_Input):
    """Changes to a category (the key never changes)."""

    name: str | None = Field(default=None, max_length=200, pattern=ONE_LINE_NOT_BLANK)
    description: str | None = Field(default=None, max_length=4000)
    active: bool | None = None
    position: int | None = Field(default=None, ge=0, le=100_000)


class InboundOut(BaseModel):
    """A stored mail without its bytes (`deskmail inbound list --json`)."""

    id: int
    source: str
    mail_from: str
    rcpt_to: list[str]
    size: int
    received_at: str | None
    status: str
    attempts: int
    next_attempt_at: str | None
    outcome: str | None
    reason: str
    ticket: int | None
    message_id: str
    last_error: str
    details: dict[str, Any]


class RetryOut(BaseModel):
    """Whether a mail was queued again."""

    id: int
    queued: bool
