"""The sample mails of `deskmail demo`: five everyday situations of an IT help desk.

Written for the demo (no real person's mail): a printer jam, a locked account, a VPN problem,
an out-of-office auto-reply (which must not become a ticket) and a requester's "solved" reply
to the acknowledgement of the printer jam. `build_message` turns one into a MIME message.
"""

from __future__ import annotations

import email.policy
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

DEMO_DOMAIN = "demo.example.com"


@dataclass(frozen=True)
class SampleMail:
    """One sample: who writes, what, and (for the reply) which sample's acknowledgement it
    answers."""

    key: str
    title: str
    name: str
    email: str
    subject: str
    body: str
    auto_reply: bool = False
    answers: str = ""  # key of the sample whose acknowledgement this replies to

    @property
    def mailbox(self) -> str:
        """ "Name <address>"."""
        return formataddr((self.name, self.email))


SAMPLES: tuple[SampleMail, ...] = (
    SampleMail(
        key="printer",
        title="A printer jam",
        name="Carol Jones",
        email=f"carol.jones@{DEMO_DOMAIN}",
        subject="Printer on the 3rd floor keeps jamming",
        body=(
            "Hi,\n\n"
            "the printer next to the kitchen on the 3rd floor (HP LaserJet, PRN-3-02) jams on\n"
            'every second page since this morning. The display says "Paper jam in tray 2".\n'
            "I opened the front door and took out a crumpled sheet, but it jams again after\n"
            "a few pages. We need it for the invoices today.\n\n"
            "Thanks,\nCarol\n"
        ),
    ),
    SampleMail(
        key="account",
        title="A locked account",
        name="David Miller",
        email=f"david.miller@{DEMO_DOMAIN}",
        subject="Account locked - cannot log in to Windows",
        body=(
            "Hello help desk,\n\n"
            "I changed my password yesterday and this morning Windows says my account is\n"
            "locked out after I typed it a few times. I cannot log in at all and I have a\n"
            "customer meeting at 11. Can you unlock it please?\n\n"
            "David Miller\nSales\n"
        ),
    ),
    SampleMail(
        key="vpn",
        title="A VPN problem",
        name="Priya Shah",
        email=f"priya.shah@{DEMO_DOMAIN}",
        subject="VPN disconnects every few minutes when working from home",
        body=(
            "Hi,\n\n"
            "since Monday the VPN client drops the connection every five minutes or so when\n"
            "I work from home. It reconnects by itself, but Teams calls and file copies break\n"
            "each time. My home internet is fine otherwise. Laptop is the standard Dell with\n"
            "Windows 11.\n\n"
            "Best regards,\nPriya\n"
        ),
    ),
    SampleMail(
        key="out_of_office",
        title="An out-of-office reply",
        name="Tom Becker",
        email=f"tom.becker@{DEMO_DOMAIN}",
        subject="Automatic reply: Out of office until Monday",
        body=(
            "Thank you for your message. I am out of the office until Monday with limited\n"
            "access to e-mail. For urgent matters please contact my colleague Anna.\n\n"
            "Tom Becker\n"
        ),
        auto_reply=True,
    ),
    SampleMail(
        key="solved_reply",
        title="A reply to an acknowledgement",
        name="Carol Jones",
        email=f"carol.jones@{DEMO_DOMAIN}",
        subject="",  # "Re: " + the acknowledgement's subject
        body=(
            "SOLVED - thank you! There was a torn piece of paper behind the rear flap,\n"
            "exactly as the article said. It prints fine now.\n\nCarol\n"
        ),
        answers="printer",
    ),
)


def new_message_id() -> str:
    """A fresh Message-ID for a sample, without angle brackets."""
    return f"demo-{uuid.uuid4().hex}@{DEMO_DOMAIN}"


def build_message(
    sample: SampleMail,
    *,
    to: str,
    message_id: str,
    subject: str | None = None,
    in_reply_to: str | None = None,
    references: tuple[str, ...] = (),
    quoted: str = "",
    now: datetime | None = None,
) -> EmailMessage:
    """The sample as a MIME message to `to` (for a reply: its threading headers and quote)."""
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = sample.mailbox
    message["To"] = to
    message["Subject"] = subject if subject is not None else sample.subject
    message["Date"] = format_datetime(now or datetime.now(UTC))
    message["Message-ID"] = f"<{message_id}>"
    if in_reply_to:
        message["In-Reply-To"] = f"<{in_reply_to}>"
        message["References"] = " ".join(f"<{ref}>" for ref in (*references, in_reply_to))
    if sample.auto_reply:
        # What Exchange and most clients send with an out-of-office answer (RFC 3834).
        message["Auto-Submitted"] = "auto-replied"
        message["X-Auto-Response-Suppress"] = "All"
    body = sample.body
    if quoted:
        body += "\n" + "\n".join(f"> {line}" if line else ">" for line in quoted.splitlines())
    message.set_content(body)
    return message
