"""Automatic mail to the people of a ticket: what the mail says about the ticket, how a reply
finds its way back, and the requester's status link.

Where it sits: the acknowledge stage (`deskmail.acknowledge`) and the follow-up handling
(`deskmail.lifecycle`) build their mails with a `TicketMailer`, inside the mail's transaction.
Each mail to a person carries a reply token made for that person (in the Message-ID and in
the Reply-To address, DESIGN.md Threading), threads into the ticket's conversation
(`responder.conversation`) and goes through `enqueue_automatic`, which applies the
never-answer-automatically rules and the caps (`responder.suppression`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from deskmail.app import App
from deskmail.sender_service import build_outbox
from deskmail.web.config import web_config
from deskmail.web.status_links import status_link
from intake.reply_tokens import make_token, reply_address
from models import Category, Person, Ticket
from responder.compose import Recipient
from responder.conversation import conversation_for
from responder.mails import Mail, PersonInfo, TicketInfo
from responder.outbox import Outbox, Queued, Suppressed, enqueue_automatic

CATEGORY_SEPARATOR = " › "


@dataclass(frozen=True)
class TicketMailer:
    """The outbox of a process plus what it needs to address mail about tickets."""

    app: App
    outbox: Outbox

    @classmethod
    def build(cls, app: App) -> TicketMailer:
        """A mailer with the outbox of the settings (templates, identity, caps)."""
        return cls(app, build_outbox(app.settings))

    def status_url(self, ticket_id: int, email: str) -> str:
        """The signed status-page link of `email` for the ticket."""
        return status_link(self.app.settings, ticket_id, email)

    def ticket_url(self, ticket_id: int) -> str:
        """The agents' page of the ticket (for staff notifications)."""
        return f"{web_config(self.app.settings).public_url}/tickets/{ticket_id}"

    def reply_for(self, ticket_id: int, email: str) -> tuple[str, str]:
        """The reply token and the reply-token address of mail to `email` about the ticket."""
        key = self.app.token_key
        return (
            make_token(key, ticket_id, email),
            reply_address(key, self.outbox.identity.address, ticket_id, email),
        )

    def send_automatic(
        self,
        session: Session,
        ticket: Ticket,
        mail: Mail,
        to: PersonInfo,
        *,
        in_reply_to: str | None,
        now: datetime,
    ) -> Queued | Suppressed:
        """Queue an automatic mail to one person of the ticket, in reply to `in_reply_to`."""
        token, reply_to = self.reply_for(ticket.id, to.email)
        return enqueue_automatic(
            session,
            self.outbox,
            mail,
            to=Recipient(to.email, to.name),
            reply_token=token,
            reply_to=reply_to,
            conversation=conversation_for(session, ticket, in_reply_to=in_reply_to),
            now=now,
        )


def category_label(session: Session, ticket: Ticket) -> str:
    """The ticket's category as people read it ("Network › VPN"); "" while it waits for triage.

    The display names come from the category tree; a key the tree does not know is shown as
    it is.
    """
    if ticket.needs_triage or not (ticket.category or ticket.subcategory):
        return ""
    keys = [k for k in (ticket.category, ticket.subcategory) if k]
    names = dict(
        session.execute(select(Category.key, Category.name).where(Category.key.in_(keys))).all()
    )
    parts = [names.get(key, key) for key in keys]
    return CATEGORY_SEPARATOR.join(dict.fromkeys(parts))


def ticket_info(session: Session, ticket: Ticket) -> TicketInfo:
    """What a mail says about the ticket: number, subject, category as understood, priority.

    The priority is shown even while the category waits for triage: it follows the words and
    the context of the mail, not the category (deskmail.classification).
    """
    return TicketInfo.of(ticket, category_label=category_label(session, ticket))


def person_info(person: Person) -> PersonInfo:
    """A stored person as a mail's recipient."""
    return PersonInfo(person.email, person.name or "")
