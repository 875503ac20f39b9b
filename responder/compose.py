"""Composing: a rendered mail and its threading into the MIME message we store and send.

Every outgoing mail is multipart/alternative (text, then HTML; RFC 2046 §5.1.4 puts the
preferred form last), UTF-8, with quoted-printable or base64 as the standard library chooses,
so every line stays short (RFC 5322 §2.1.1) and no relay needs 8BITMIME. Headers:

- Message-ID `<token.random@domain>` (the token leads a reply home, DESIGN.md Threading);
  In-Reply-To and References (RFC 5322 §3.6.4) so the requester's client threads it, and
  Thread-Index / Thread-Topic for Outlook (responder.thread_index).
- `Auto-Submitted` (RFC 3834 §5) on automatic mail, so well-behaved responders do not answer
  it; `X-Auto-Response-Suppress: OOF, AutoReply` asks Exchange for the same without
  suppressing the delivery reports we need to learn about bounces (decision 0092);
  `Precedence: bulk` only on automatic answers to a mail (acknowledgements), where a vacation
  program answering them starts a ping-pong: RFC 3834 standardises only Auto-Submitted and
  RFC 2076 calls Precedence non-standard, but many such programs read nothing else; urgent
  notifications to agents do not get it, so no filter files them away (decision 0092).
  No List-Unsubscribe: this is not a list (RFC 2369).
- `X-Loop` with our address, which our own intake (and procmail-style filters) use to stop
  loops; Reply-To with the reply-token address; From with the help desk's display name.

Subject and names pass `responder.headers` first: one line, no control characters.
"""

from __future__ import annotations

import email.utils
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy
from typing import Any

from responder.headers import angle, header_text, mailbox_address, one_line, references
from responder.mails import AutoSubmitted
from responder.rendering import RenderedMail
from responder.thread_index import thread_index

MAX_REFERENCES = 20  # the root and the 19 newest ids (Thunderbird and Gmail keep fewer)
MAX_NAME_CHARS = 100
MAX_TOPIC_CHARS = 200
SUPPRESS_AUTO_RESPONSES = "OOF, AutoReply"

# Headers whose values are ids or base64: folded only between ids, never turned into RFC 2047
# encoded words (the stdlib would "fold" a long id or a Thread-Index that way and break it).
_VERBATIM = frozenset({"message-id", "in-reply-to", "references", "thread-index", "x-loop"})


def _fold_at_spaces(name: str, value: str, linesep: str, width: int) -> str:
    lines: list[str] = []
    current = f"{name}:"
    for token in value.split():
        if len(current) + 1 + len(token) > width and current != f"{name}:":
            lines.append(current)
            current = f" {token}"
        else:
            current = f"{current} {token}"
    lines.append(current)
    return linesep.join(lines) + linesep


class _OutgoingPolicy(EmailPolicy):
    """SMTP line endings, 7-bit transfer encodings, and id headers kept intact."""

    def fold(self, name: str, value: Any) -> str:
        if name.lower() in _VERBATIM:
            return _fold_at_spaces(name, str(value), self.linesep, self.max_line_length or 78)
        return str(super().fold(name, value))

    def fold_binary(self, name: str, value: Any) -> bytes:
        if name.lower() in _VERBATIM:
            folded = _fold_at_spaces(name, str(value), self.linesep, self.max_line_length or 78)
            return folded.encode("ascii")
        return bytes(super().fold_binary(name, value))


POLICY = _OutgoingPolicy(linesep="\r\n", cte_type="7bit", max_line_length=78)


@dataclass(frozen=True)
class Identity:
    """The help desk as a sender (from the settings)."""

    name: str  # display name of From ("IT Help Desk")
    address: str  # From, X-Loop and the envelope sender
    message_id_domain: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "address", mailbox_address(self.address))


@dataclass(frozen=True)
class Recipient:
    """Someone a mail goes to."""

    email: str
    name: str = ""


@dataclass(frozen=True)
class Conversation:
    """Where a mail sits in its ticket's thread (see responder.conversation to build one).

    `references` are the conversation's Message-IDs, oldest first; `in_reply_to` the one this
    mail answers (None for a mail that answers nothing, e.g. an SLA warning).
    `earlier_replies` are the times of the mails we sent on the ticket before this one.
    """

    ticket_number: int
    topic: str
    started_at: datetime
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    earlier_replies: tuple[datetime, ...] = ()


def _address(recipient: Recipient) -> Address:
    name = header_text(recipient.name, MAX_NAME_CHARS)
    return Address(display_name=name, addr_spec=mailbox_address(recipient.email))


def compose(
    rendered: RenderedMail,
    *,
    identity: Identity,
    sender_name: str,
    to: Recipient,
    cc: Sequence[Recipient] = (),
    reply_to: str | None = None,
    message_id: str,
    conversation: Conversation | None,
    auto_submitted: AutoSubmitted,
    date: datetime,
) -> EmailMessage:
    """The MIME message of `rendered`; `message_id` is bare (no angle brackets)."""
    message = EmailMessage(policy=POLICY)
    message["From"] = Address(
        display_name=header_text(sender_name, MAX_NAME_CHARS), addr_spec=identity.address
    )
    message["To"] = _address(to)
    if cc:
        message["Cc"] = [_address(r) for r in cc]
    if reply_to:
        message["Reply-To"] = Address(addr_spec=mailbox_address(reply_to))
    message["Subject"] = one_line(rendered.subject)
    message["Date"] = email.utils.format_datetime(date)
    message["Message-ID"] = angle(message_id)
    if conversation is not None:
        _thread_headers(message, identity, conversation, date)
    if auto_submitted is not AutoSubmitted.NO:
        message["Auto-Submitted"] = auto_submitted.value
    if auto_submitted is AutoSubmitted.AUTO_REPLIED:
        message["Precedence"] = "bulk"
    message["X-Auto-Response-Suppress"] = SUPPRESS_AUTO_RESPONSES
    message["X-Loop"] = identity.address
    message.set_content(rendered.text, subtype="plain", charset="utf-8")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8")
    return message


def _thread_headers(
    message: EmailMessage, identity: Identity, conversation: Conversation, date: datetime
) -> None:
    parent = None
    if conversation.in_reply_to:
        found = references([conversation.in_reply_to], 1)
        parent = found[0] if found else None
    chain = [*conversation.references]
    if parent is not None and (not chain or chain[-1] != parent):
        chain = [i for i in chain if i != parent] + [parent]
    kept = references(chain, MAX_REFERENCES)
    if parent is not None:
        message["In-Reply-To"] = angle(parent)
    if kept:
        message["References"] = " ".join(angle(i) for i in kept)
    message["Thread-Topic"] = header_text(conversation.topic, MAX_TOPIC_CHARS)
    message["Thread-Index"] = thread_index(
        identity.message_id_domain,
        conversation.ticket_number,
        conversation.started_at,
        [*conversation.earlier_replies, date],
    )
