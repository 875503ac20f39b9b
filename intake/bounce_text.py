"""Read a non-standard (plain-text) bounce: who bounced, with which status and why.

Part of screening (`intake.bounces`), used when a bounce carries no parseable RFC 3464
delivery-status part. The notice is cut off where the returned original begins (so its From,
To and Received lines are not mistaken for failed recipients); recipient addresses come from the
line shapes MTAs use to list them; status codes (RFC 3463) and SMTP replies (RFC 5321) are read
from the lines that follow each recipient.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Lines after which a plain-text bounce quotes the returned message.
_RETURNED_MARKER = re.compile(
    r"^[\s\-=_*|#>]*(?:"
    r"this\s+is\s+a\s+copy\s+of\s+(?:the|your)\s+message|"
    r"below\s+this\s+line\s+is\s+a\s+copy\s+of\s+the\s+message|"
    r"(?:the\s+)?(?:original|returned|undelivered)\s+(?:message|mail)(?:\s+(?:follows|headers?))?"
    r"\s*[-:=*]*\s*$|"
    r"original\s+message\s+(?:follows|headers?|details)|"
    r"(?:enclosed|included|attached)\s+is\s+a\s+copy\s+of|"
    r"(?:a\s+)?copy\s+of\s+(?:the\s+|your\s+)?(?:original\s+)?message\s+(?:follows|below|is)|"
    r"the\s+header\s+of\s+the\s+original\s+message|"
    r"message\s+(?:text|headers?)\s+follows?|"
    r"unsent\s+message\s+below|returned\s+message|original\s+mail\s+info|"
    r"-+\s*original\s+message\s*-+|header\s+of\s+the\s+original"
    r")",
    re.IGNORECASE,
)
# A header line of a quoted message, a sign that the returned original has started.
_QUOTED_HEADER = re.compile(
    r"^(?:Received|Return-Path|Message-ID|DKIM-Signature|ARC-Seal|Date|From|To|Subject|"
    r"MIME-Version|Content-Type|X-[\w-]+)\s*:",
    re.IGNORECASE,
)
# Lines whose addresses are never failed recipients: the original's sender and header lines.
_SKIP_LINE = re.compile(
    r"^[\s>|]*(?:(?:Resent-)?(?:From|Sender|Reply-To|Return-Path|Errors-To|Message-ID|"
    r"In-Reply-To|References|Received|DKIM-Signature|Authentication-Results|Date|"
    r"Original\s+Sender|Sender-MTA|Reporting-MTA|X-[\w-]+)\s*:|"
    r">>>\s*MAIL\s+FROM|MAIL\s+FROM)",
    re.IGNORECASE,
)
_SENDER_CONTEXT = re.compile(
    r"(?:mail\s+from|envelope-from|sent\s+by|sender(?:\s+address)?|from)\s*:?\s*<?\s*$",
    re.IGNORECASE,
)
_ROBOT_LOCAL = re.compile(
    r"^(?:postmaster|post_master|mailer-daemon|mailer_daemon|abuse|hostmaster|webmaster|"
    r"double-bounce)$",
    re.IGNORECASE,
)
# A line that gives a contact address ("please contact <postmaster@...>"), not a recipient.
_CONTACT_LINE = re.compile(
    r"contact|assistance|questions?|send\s+mail\s+to|report\s+(?:this|errors)|"
    r"helpdesk|help\s+desk|customer\s+(?:care|support)|visit|please\s+(?:write|mail)",
    re.IGNORECASE,
)
_ADDR = r"[^<>\s@\"'()\[\],;]+@[^<>\s@\"'()\],;]+?"
# Line shapes that list a failed recipient, in the notices of common MTAs.
_RECIPIENT_LINE = [
    # Postfix, qmail, Yahoo, Sendmail: "<user@host>: ..." or "<user@host>... User unknown"
    re.compile(r"^[\s*>]*<(?P<a>" + _ADDR + r")>\s*(?:[:.,;]|\.\.\.|\(|\[|$)"),
    # Sendmail transcripts: "554 <user@host>... 550 Host unknown"
    re.compile(r"^\s*[45]\d\d[\s\-]+<(?P<a>" + _ADDR + r")>\.\.\."),
    # Exim, Gmail, Notes: the address alone on its line, maybe quoted, maybe with a colon
    re.compile(r"^[\s*>\"']*(?P<a>" + _ADDR + r")[\"']?\s*:?\s*(?:<[^<>]*>)?\s*$"),
    # OpenSMTPD, Zoho, X1: "user@host: 550 ...", "user@host Invalid Address", "user@host [..]"
    re.compile(r"^[\s>]*(?P<a>" + _ADDR + r")\s*(?::\s+\S|\s+\[|\s+\(|\s+\.\.\.)"),
    re.compile(r"^[\s>]*(?P<a>" + _ADDR + r")\s+(?:invalid|unknown|on\s+\w|is\s)", re.I),
]
_RECIPIENT_PHRASE = [
    re.compile(r"RCPT\s+TO\s*:\s*<?(?P<a>[^<>\s]+@[^<>\s]+?)>?(?:\s|$)", re.I),
    re.compile(
        r"(?:original|final)-recipient\s*:\s*(?:rfc822\s*;)?\s*<?(?P<a>[^<>\s;]+@[^<>\s;]+)", re.I
    ),
    re.compile(
        r"(?:deliver(?:ed|ing)?|delivery|sent|message|mail)\s+(?:your\s+(?:mail|message)\s+)?"
        r"to\s*:?\s*<?(?P<a>[^<>\s,;]+@[^<>\s,;]+)",
        re.I,
    ),
    re.compile(
        r"(?:could\s+not\s+be\s+delivered\s+to|not\s+delivered\s+to|unable\s+to\s+deliver\s+"
        r"(?:your\s+)?(?:message\s+|mail\s+)?to|undeliverable\s+to|your\s+message\s+to|"
        r"failed\s+recipient|"
        r"unknown\s+user|user\s+unknown|invalid\s+recipient|recipient\s+address|"
        r"address(?:es)?\s+failed|mailbox\s+is\s+full|intended\s+recipient|"
        r"undeliverable\s+address|recipient)\s*:?\s*<?(?P<a>[^<>\s():;,]+@[^<>\s():;,]+)",
        re.I,
    ),
    re.compile(r"\(\s*(?P<a>[^<>\s()]+@[^<>\s()]+)\s*\)"),
    re.compile(r"\bAddress:\s*<(?P<a>[^<>\s]+@[^<>\s]+)>", re.I),
]

# In a failure notice only classes 4 and 5 are meaningful; a "2.0.12" is a version or a date.
_FAILURE_STATUS = re.compile(r"(?<![\d.])([45])\.(\d{1,3})\.(\d{1,3})(?![\d.]|\.\d)")
# An SMTP reply code (RFC 5321 section 4.2) where notices quote one: at the start of a line, or
# after "said:", "reason:", "<<<", "smtp;", "]:" and the like. Elsewhere a number is a size or a
# date, not a reply.
_SMTP_REPLY = re.compile(
    r"(?:^|said:?|reason:?|reply:?|replied:?|response:?|error:|<<<|smtp;|code\s*:?|"
    r"failed\s+with:?|\]:|responsecode|\.\.\.)\s*([245][0-5]\d)(?=[ \-]|$)(?![\-.]\d)",
    re.IGNORECASE,
)
# Delay warnings: the MTA is still trying.
_WARNING = re.compile(
    r"this\s+is\s+a\s+warning|warning\s+(?:message\s+)?only|do\s+not\s+need\s+to\s+re-?send|"
    r"will\s+(?:be\s+)?retr(?:y|ied)|still\s+(?:being\s+)?(?:retried|trying)|"
    r"will\s+(?:continue\s+to\s+)?try|has\s+not\s+yet\s+been\s+delivered|"
    r"delivery\s+(?:has\s+been\s+)?delayed|message\s+(?:is\s+)?delayed|delayed\s+mail|"
    r"has\s+been\s+postponed|advisory[-\s]only|temporary\s+failure\s+report|"
    r"attempts\s+will\s+continue",
    re.IGNORECASE,
)
# The MTA has given up: the notice reports a final failure, whatever else it quotes.
_GAVE_UP = re.compile(
    r"permanent\s+(?:fatal\s+)?(?:error|failure)|failed\s+permanently|i've\s+given\s+up|"
    r"giving\s+up|not\s+going\s+to\s+try\s+again|no\s+further\s+(?:delivery\s+)?attempts|"
    r"will\s+be\s+(?:deleted|removed)\s+from\s+(?:the\s+)?queue|"
    r"in\s+the\s+queue\s+too\s+long|message\s+(?:has\s+)?expired|delivery\s+time\s+expired|"
    r"retry\s+time(?:out)?\s+(?:exceeded|expired)|all\s+hosts\s+have\s+been\s+failing",
    re.IGNORECASE,
)
# It gave up after retrying a transient failure: the message expired, the address may be fine.
_EXPIRED = re.compile(
    r"retry\s+time(?:out)?\s+(?:exceeded|expired)|all\s+hosts\s+have\s+been\s+failing|"
    r"in\s+the\s+queue\s+too\s+long|message\s+(?:has\s+)?expired|delivery\s+time\s+expired|"
    r"(?:could\s+not|cannot|can't)\s+(?:be\s+delivered|send\s+message)\s+for\s+(?:more\s+than\s+)?\d",
    re.IGNORECASE,
)
# Words of a transient cause, when no code says otherwise.
_SOFT_CAUSE = re.compile(
    r"temporar(?:y|ily)\s+(?:failure|error|deferred|unavailable|rejected)|deferred|"
    r"try\s+again\s+later|host\s+not\s+reachable|connection\s+timed\s+out|"
    r"timed?\s*out\s+(?:while|during)",
    re.IGNORECASE,
)
# An explicit statement that the failure is permanent.
_PERMANENT = re.compile(
    r"permanent\s+(?:fatal\s+)?(?:error|failure)|failed\s+permanently|i've\s+given\s+up|"
    r"no\s+further\s+(?:delivery\s+)?attempts",
    re.IGNORECASE,
)

MAX_NOTICE_LINES = 2000
MAX_RECIPIENTS = 200
# Lines are cut to this length before the per-line rules run, which bounds their cost.
MAX_LINE_CHARS = 1000


@dataclass(frozen=True)
class TextRecipient:
    """A failed recipient read from a plain-text notice."""

    address: str
    status: str | None
    smtp_code: str | None
    diagnostic: str | None


def split_notice(text: str) -> tuple[str, str]:
    """Split a plain-text bounce into (notice, returned original)."""
    lines = text.split("\n")[:MAX_NOTICE_LINES]
    for index, line in enumerate(lines):
        if index > 0 and _RETURNED_MARKER.match(line[:MAX_LINE_CHARS]):
            return "\n".join(lines[:index]), "\n".join(lines[index:])
    # No marker: the original starts where a block of at least three header lines starts.
    for index in range(1, len(lines) - 2):
        if (
            _QUOTED_HEADER.match(lines[index])
            and _QUOTED_HEADER.match(lines[index + 1])
            and _QUOTED_HEADER.match(lines[index + 2])
            and lines[index].split(":", 1)[0].lower()
            in ("received", "return-path", "from", "message-id", "date", "to", "subject")
        ):
            return "\n".join(lines[:index]), "\n".join(lines[index:])
    return "\n".join(lines), ""


# Bounces name the address as it was written, typos included ("user@#example.net").
_LENIENT_ADDR = re.compile(r"[^\s<>()\[\],;:\"'@]{1,256}@[^\s<>()\[\],;:\"'@]{1,255}")
_EXPANDED_FROM = re.compile(r"\(\s*expanded\s+from:?\s*<?(?P<a>[^<>\s()]+@[^<>\s()]+)", re.I)


def clean_address(address: str) -> str | None:
    """A lower-case addr-spec, or None for tokens that only look like one."""
    address = address.strip().strip("<>\"'()[],;:.").lower()
    if not _LENIENT_ADDR.fullmatch(address):
        return None
    local, _, domain = address.rpartition("@")
    if not local or ("." not in domain and domain != "localhost"):
        return None
    return address


def acceptable_recipient(address: str | None, exclude: frozenset[str]) -> bool:
    if not address or address in exclude:
        return False
    return not _ROBOT_LOCAL.match(address.split("@", 1)[0])


_MESSAGE_ID_LINE = re.compile(r"message-id\s*:\s*<?([^\s<>]+@[^\s<>]+)>?", re.IGNORECASE)


def quoted_message_ids(text: str) -> set[str]:
    """Every Message-ID quoted in `text`: look-alikes of addresses that never bounced."""
    return {m.group(1).lower() for m in _MESSAGE_ID_LINE.finditer(text[:400_000])}


def _lines(text: str) -> list[str]:
    return [line[:MAX_LINE_CHARS] for line in text.split("\n")[:MAX_NOTICE_LINES]]


def _candidate_lines(notice: str) -> list[str]:
    return [line for line in _lines(notice) if not _SKIP_LINE.match(line)]


def _expanded(lines: list[str], index: int, address: str) -> str:
    """The address we sent to when the MTA reports an alias expansion ("expanded from: x")."""
    for line in lines[index : index + 2]:
        match = _EXPANDED_FROM.search(line)
        if match:
            return clean_address(match.group("a")) or address
    return address


def _prefer_likely(found: list[str], unlikely: frozenset[str]) -> list[str]:
    preferred = [a for a in found if a not in unlikely]
    return preferred or found


def _line_shape_recipients(lines: list[str], own: frozenset[str]) -> list[str]:
    """Recipients from the first line shape (in `_RECIPIENT_LINE` order) that finds any."""
    for pattern in _RECIPIENT_LINE:
        found: list[str] = []
        for index, line in enumerate(lines):
            match = pattern.match(line)
            address = clean_address(match.group("a")) if match else None
            if not address or _CONTACT_LINE.search(line):
                continue
            address = _expanded(lines, index, address)
            if address not in own and address not in found and len(found) < MAX_RECIPIENTS:
                found.append(address)
        if found:
            return found
    return []


def _phrase_recipients(lines: list[str], own: frozenset[str]) -> list[str]:
    """Recipients named in running text ("could not be delivered to x@y")."""
    for pattern in _RECIPIENT_PHRASE:
        found: list[str] = []
        for line in lines:
            contact = bool(_CONTACT_LINE.search(line))
            for match in pattern.finditer(line):
                if _SENDER_CONTEXT.search(line[: match.start()][-30:]):
                    continue
                address = clean_address(match.group("a"))
                if not address or address in own or address in found:
                    continue
                if contact and _ROBOT_LOCAL.match(address.split("@")[0]):
                    continue
                if len(found) < MAX_RECIPIENTS:
                    found.append(address)
        if found:
            return found
    return []


def find_recipients(notice: str, own: frozenset[str], unlikely: frozenset[str]) -> list[str]:
    """Failed recipients listed in a notice: line shapes first, then phrases.

    `own` addresses are never recipients. `unlikely` ones (the bounce's To, the original's
    sender) are dropped when a rule also names others; when it names only them, the mail went
    to its own sender and they did bounce.
    """
    lines = _candidate_lines(notice)
    found = _line_shape_recipients(lines, own) or _phrase_recipients(lines, own)
    return _prefer_likely(found, unlikely)


def _block_for(lines: list[str], address: str, others: list[str]) -> list[str]:
    """The lines that describe `address`: its line and what follows until the next recipient."""
    start = None
    for index, line in enumerate(lines):
        if address in line.lower():
            start = index
            break
    if start is None:
        return []
    block = [lines[start]]
    for line in lines[start + 1 : start + 12]:
        lowered = line.lower()
        if any(other in lowered for other in others if other != address):
            break
        block.append(line)
    return block


def _diagnostic_line(block: list[str]) -> tuple[str | None, str | None, str | None]:
    """(status, smtp code, diagnostic text) from the lines describing one recipient."""
    status: str | None = None
    code: str | None = None
    diagnostic: str | None = None
    for line in block:
        text = line.strip()
        reply = _SMTP_REPLY.search(text)
        enhanced = _FAILURE_STATUS.search(text)
        if reply and not code:
            code = reply.group(1)
            diagnostic = diagnostic or text[reply.start(1) :]
        if enhanced and not status:
            status = ".".join(enhanced.groups())
            diagnostic = diagnostic or text
    if diagnostic is None:
        # Exim and others explain in words only: keep the first explanatory line.
        for line in block[1:]:
            text = line.strip()
            if text and not text.lower().startswith(("smtp error", "host ")):
                diagnostic = text
                break
    return status, code, (" ".join(diagnostic.split())[:1000] if diagnostic else None)


def recipient_details(notice: str, found: list[str]) -> list[TextRecipient]:
    """Status, SMTP code and diagnostic for each recipient found in `notice`."""
    lines = _lines(notice)
    details: list[TextRecipient] = []
    for address in found:
        block = _block_for(lines, address, found)
        status, code, diagnostic = _diagnostic_line(block)
        if status is None and code is None and len(found) == 1:
            status, code, whole = _diagnostic_line(lines)
            diagnostic = diagnostic or whole
        details.append(TextRecipient(address, status, code, diagnostic))
    return details


def notice_diagnostic(notice: str) -> tuple[str | None, str | None, str | None]:
    """Status, SMTP code and diagnostic anywhere in a notice (when no recipient was found)."""
    return _diagnostic_line(_lines(notice))


def is_permanent(status: str | None, smtp_code: str | None, notice: str) -> bool:
    """Hard (permanent) or soft failure, from the most specific evidence available.

    The enhanced status class decides (RFC 3463: 5 = permanent, 4 = persistent transient),
    then the SMTP reply class (RFC 5321 section 4.2.1); without codes the notice's words do:
    an expiry after retries is soft, a transient cause is soft unless the notice calls the
    failure permanent, and everything else that bounced is hard.
    """
    if status:
        return status.startswith("5")
    if smtp_code:
        return smtp_code.startswith("5")
    if _EXPIRED.search(notice):
        return False
    if _SOFT_CAUSE.search(notice) or _WARNING.search(notice):
        return bool(_PERMANENT.search(notice))
    return True


def is_warning(notice: str) -> bool:
    """The notice says the MTA is still trying (a delay warning, not a final failure)."""
    return bool(_WARNING.search(notice)) and not _GAVE_UP.search(notice)


__all__ = [
    "TextRecipient",
    "acceptable_recipient",
    "clean_address",
    "find_recipients",
    "is_permanent",
    "is_warning",
    "notice_diagnostic",
    "quoted_message_ids",
    "recipient_details",
    "split_notice",
]
