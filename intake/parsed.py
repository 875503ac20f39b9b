"""The values the MIME parsing stage hands on: a parsed mail, its addresses and attachments.

`intake.mime` builds them from a raw mail; screening, threading, trimming and the ticket
writer read them. They hold only text that is safe to show and store: no CR/LF in any header
value, no control characters in names, file names that are only metadata.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime

from intake.mime_text import strip_controls


@dataclass(frozen=True)
class MailAddress:
    """One mailbox: `email` with a lower-cased domain, `name` the decoded display name.

    The local part keeps its case: RFC 5321 section 2.4 lets the receiving host decide whether
    it matters. Both fields are stripped of CR/LF and other control characters on construction.
    """

    email: str
    name: str = ""

    def __post_init__(self) -> None:
        email = strip_controls(self.email).strip()
        local, at, domain = email.rpartition("@")
        if at:
            # A trailing dot (an absolute DNS name) is not allowed in a mail domain
            # (RFC 5321 section 4.1.2) and only makes the same mailbox look different.
            email = f"{local}@{domain.lower().rstrip('.')}"
        object.__setattr__(self, "email", email)
        object.__setattr__(self, "name", strip_controls(self.name).strip())

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email


@dataclass(frozen=True)
class ParsedAttachment:
    """A file or inline resource of the mail, stored content-addressed by `sha256`.

    `filename` is the sanitised original name (metadata only, never a path). `inline` means
    the HTML body shows it through a `cid:` reference, so the UI need not list it separately.
    `section` is the IMAP-style number of the MIME part it came from (RFC 3501 section 6.4.5,
    "2.1" = first part of the second part); attachments of an attached message therefore have
    a section below the message's, and those unpacked from uuencode or TNEF share their
    container's section.
    """

    filename: str
    content_type: str
    data: bytes
    content_id: str | None = None
    inline: bool = False
    section: str = ""
    # How it was found: "mime" (a MIME part), "uuencode", "tnef" or "message" (an attached
    # message, kept whole as .eml).
    origin: str = "mime"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class ParsedMail:
    """Everything later stages need from one mail, decoded and sanitised."""

    message_id: str | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    from_: MailAddress | None
    sender: MailAddress | None
    reply_to: tuple[MailAddress, ...]
    to: tuple[MailAddress, ...]
    cc: tuple[MailAddress, ...]
    subject: str
    date: datetime
    date_from_header: bool
    text: str
    html_sanitized: str | None
    attachments: tuple[ParsedAttachment, ...]
    headers: tuple[tuple[str, str], ...]
    defects: tuple[str, ...]
    # The body part the text came from ("text/plain", "text/html", "application/ms-tnef", or
    # "" without a body); useful for display choices and for the trimming stage.
    text_source: str = ""

    def header(self, name: str) -> str | None:
        """The first header field called `name` (case-insensitive), decoded, or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    def header_all(self, name: str) -> tuple[str, ...]:
        """All header fields called `name` (case-insensitive), decoded, in order."""
        wanted = name.lower()
        return tuple(value for key, value in self.headers if key.lower() == wanted)
