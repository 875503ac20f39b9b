"""Limits on what one inbound mail may cost us: the first thing the MIME parsing stage checks.

The worker builds one `MailLimits` from the settings and passes it to `intake.mime`; a mail
over any limit is not parsed further but quarantined (`intake.errors.MailQuarantined`), so a
hostile or broken mail costs bounded memory and time and never reaches the later stages.
The defaults follow what mature MTAs and help desks ship (see docs/decisions/0010).
"""

from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class MailLimits:
    """Upper bounds for one mail; every field must be positive."""

    # Postfix `message_size_limit` is 10 MB, Exchange Online and Gmail accept 25 MB (encoded);
    # base64 grows attachments by a third, so 25 MiB of raw mail is about 18 MiB of files.
    max_total_bytes: int = 25 * MIB
    # The top header section (RFC 5322 section 2.2). Postfix `header_size_limit` is 100 KiB and
    # Exim's `header_maxsize` 1 MiB; a few hundred Received hops fit well within 256 KiB.
    max_header_bytes: int = 256 * 1024
    # Number of header fields in the top header section; Postfix counts 50 Received hops as a
    # loop (`hopcount_limit`), real mail rarely has more than 100 fields in all.
    max_header_fields: int = 1000
    # MIME nesting (multipart and message/* containers). Postfix `mime_nesting_limit` is 100;
    # real mail (a forwarded bounce of a forwarded mail) stays below 10. Python's parser
    # recurses per level, so this also keeps it far from the interpreter's recursion limit.
    max_mime_depth: int = 50
    # MIME entities in the whole tree; newsletters with many inline images reach a few hundred.
    max_parts: int = 1000
    # Addresses in one header field and in From/Sender/Reply-To/To/Cc/Bcc together;
    # Exchange Online caps a message at 500 recipients, Postfix `smtpd_recipient_limit` is 1000.
    max_addresses_per_header: int = 500
    max_addresses_total: int = 1000
    # Wall-clock budget for parsing one mail (cooperative deadline, docs/decisions/0011).
    parse_time_budget_seconds: float = 10.0
    # HTML larger than this is cut before it is converted to text or sanitised; HTML-to-text
    # and sanitising are roughly linear, this keeps both well inside the time budget.
    max_html_bytes: int = 2 * MIB
    # References kept (first one plus the most recent ones, as RFC 5322 section 3.6.4 advises
    # for long chains) and length of one decoded header value in `ParsedMail.headers`.
    max_references: int = 100
    max_header_value_chars: int = 16384

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if value <= 0:
                msg = f"MailLimits.{name} must be positive, got {value!r}"
                raise ValueError(msg)
