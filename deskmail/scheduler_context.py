"""What the scheduler's timed work needs from the application, built once per process.

Where it sits: `deskmail.scheduler` builds one `TimedContext` when its service starts and hands
it to each kind of timed work (`deskmail.sla_watch`, `deskmail.auto_close`). It holds no
database session: each piece of work opens its own transactions.
"""

from __future__ import annotations

from dataclasses import dataclass

from deskmail.app import App
from deskmail.process_settings import ProcessSettings
from deskmail.sender_service import build_outbox
from deskmail.sla import SlaConfig, sla_config
from deskmail.web.config import web_config
from deskmail.web.status_links import status_link
from intake.reply_tokens import make_token, reply_address
from responder.outbox import Outbox

SYSTEM_ACTOR = "system"


@dataclass(frozen=True)
class TimedContext:
    """The application, the SLA policies, the outbox and the links mails carry."""

    app: App
    sla: SlaConfig
    outbox: Outbox
    public_url: str

    @classmethod
    def build(cls, app: App) -> TimedContext:
        """From the application's settings (raises SettingsError for a bad calendar)."""
        settings = app.settings
        return cls(
            app=app,
            sla=sla_config(settings),
            outbox=build_outbox(settings),
            public_url=web_config(settings).public_url.rstrip("/"),
        )

    @property
    def process(self) -> ProcessSettings:
        """The incident process settings."""
        return self.app.settings.process

    def ticket_url(self, ticket_id: int) -> str:
        """The agents' page of a ticket (for staff mail)."""
        return f"{self.public_url}/tickets/{ticket_id}"

    def status_url(self, ticket_id: int, email: str) -> str:
        """The requester's signed status link (for mail to the requester)."""
        return status_link(self.app.settings, ticket_id, email)

    def reply_for(self, ticket_id: int) -> ReplyFor:
        """Reply tokens and reply-token addresses of one ticket, per recipient."""
        return ReplyFor(self, ticket_id)


@dataclass(frozen=True)
class ReplyFor:
    """`(token, address)` for a recipient, so their answer lands on the ticket."""

    context: TimedContext
    ticket_id: int

    def __call__(self, email: str) -> tuple[str, str]:
        key = self.context.app.token_key
        address = self.context.outbox.identity.address
        return (
            make_token(key, self.ticket_id, email),
            reply_address(key, address, self.ticket_id, email),
        )
