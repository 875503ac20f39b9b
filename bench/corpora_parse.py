"""Parsing quality on the real mail corpora in ../shared/data/mail: the MIME parsing stage only.

For every case of the MIME/charset corpora (zammad, tnef, flanker, rt, cpython-email,
nodemailer-mailparser, spamscope-mail-parser, django-helpdesk) this parses the mail with
`intake.mime` and checks the expectations of the origin project that concern parsing:
addresses, subject, body text, attachments (names, content hashes, counts), TNEF unpacking,
MIME structure, charsets and defects. Expectations about bounces, auto-replies, reply
trimming, threading or storage belong to other stages and are not checked here.

Every case must at least parse without an exception and give a non-empty text when the mail
has a body. `check_case` returns mismatch descriptions; `main` prints a pass-rate table per
corpus and the mismatches. Run: `.venv/bin/python -m bench.corpora_parse`.
"""

import base64
import email.utils
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.message import Message
from functools import cache
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from intake.errors import MailQuarantined
from intake.limits import MailLimits
from intake.mime import extract, load_message
from intake.parsed import ParsedAttachment, ParsedMail

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mail"

CORPORA = (
    "zammad",
    "tnef",
    "flanker",
    "rt",
    "cpython-email",
    "nodemailer-mailparser",
    "spamscope-mail-parser",
    "django-helpdesk",
)

LIMITS = MailLimits()
# A fixed receive time keeps results reproducible (Date fallbacks, future-date checks).
RECEIVED_AT = datetime(2026, 1, 1, tzinfo=UTC)
_MAIL_SUFFIXES = (".box", ".eml", ".txt", "")

Case = dict[str, Any]


@cache
def manifest(corpus: str) -> tuple[Case, ...]:
    """The cases of a corpus that carry a mail (zammad's signature samples are not mails)."""
    data = json.loads((DATA / corpus / "manifest.json").read_text(encoding="utf-8"))
    return tuple(case for case in data["cases"] if _mail_file(corpus, case) is not None)


def case_ids(corpus: str) -> list[str]:
    return [case["id"] for case in manifest(corpus)]


def get_case(corpus: str, case_id: str) -> Case:
    for case in manifest(corpus):
        if case["id"] == case_id:
            return case
    raise KeyError(f"{corpus}/{case_id}")


def _mail_file(corpus: str, case: Case) -> Path | None:
    for entry in case["files"]:
        path = str(entry["path"])
        if corpus == "tnef" and path.endswith(".tnef"):
            return DATA / corpus / path
        if corpus == "zammad":
            if path.endswith(".box"):
                return DATA / corpus / path
            continue
        if Path(path).suffix in _MAIL_SUFFIXES:
            return DATA / corpus / path
    return None


def wrap_tnef(stream: bytes) -> bytes:
    """A raw TNEF stream as Outlook mails it: the only part of a mail, as winmail.dat."""
    encoded = base64.encodebytes(stream)
    return (
        b"From: Outlook User <user@example.com>\r\n"
        b"To: help@example.com\r\n"
        b"Subject: TNEF sample\r\n"
        b"Date: Mon, 3 Mar 2025 10:00:00 +0000\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="tnef-boundary"\r\n\r\n'
        b"--tnef-boundary\r\n"
        b'Content-Type: application/ms-tnef; name="winmail.dat"\r\n'
        b"Content-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="winmail.dat"\r\n\r\n'
        + encoded.replace(b"\n", b"\r\n")
        + b"\r\n--tnef-boundary--\r\n"
    )


def raw_mail(corpus: str, case: Case) -> bytes:
    path = _mail_file(corpus, case)
    assert path is not None
    data = path.read_bytes()
    return wrap_tnef(data) if corpus == "tnef" else data


def parse(raw: bytes) -> tuple[Message, ParsedMail]:
    message = load_message(raw, LIMITS)
    return message, extract(message, received_at=RECEIVED_AT, limits=LIMITS)


# -- comparison helpers ---------------------------------------------------------------------

_WS = re.compile(r"\s+")
_TAG = re.compile(r"<[^>]+>")
# Zammad's stand-in for a mail without visible body text.
_ZAMMAD_EMPTY = "no visible content"


def norm(text: str | None) -> str:
    """Whitespace-insensitive form: expectations come from other tools' line layouts."""
    return _WS.sub(" ", text or "").strip()


def tight(text: str | None) -> str:
    """Without any white space: HTML-to-text converters differ in where they put it."""
    return _WS.sub("", text or "")


_ADDRESS = re.compile(r"[^\s<>()\[\],;:\"']+@[^\s<>()\[\],;:\"']+")


def emails_in(value: str) -> set[str]:
    return {address_key(a) for a in _ADDRESS.findall(value)}


def address_key(address: str) -> str:
    """Comparable form of an address: case and an absolute domain's trailing dot ignored."""
    return address.lower().rstrip(".")


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def message_sections(parsed: ParsedMail) -> set[str]:
    return {a.section for a in parsed.attachments if a.origin == "message"}


def top_attachments(parsed: ParsedMail) -> list[ParsedAttachment]:
    """Attachments of the mail itself: not those extracted from an attached message."""
    inner = message_sections(parsed)
    return [
        a
        for a in parsed.attachments
        if not any(a.section.startswith(section + ".") for section in inner)
    ]


def has_body(message: Message) -> bool:
    """Whether the mail (not an attached message) has a text part with visible content."""
    stack = [message]
    while stack:
        part = stack.pop()
        payload = part.get_payload()
        if part.get_content_maintype() == "message":
            continue
        if isinstance(payload, list):
            stack.extend(p for p in payload if isinstance(p, Message))
            continue
        if part.get_content_type() not in ("text/plain", "text/html"):
            continue
        disposition = str(part.get("Content-Disposition", "")).lower()
        if part.get_filename() or disposition.startswith("attachment"):
            continue
        content = part.get_payload(decode=True) or b""
        if isinstance(content, bytes) and _TAG.sub("", content.decode("latin-1")).strip():
            return True
    return False


def _eml(attachment: ParsedAttachment) -> tuple[Message, ParsedMail]:
    return parse(attachment.data)


# -- per-corpus checks ----------------------------------------------------------------------

Checker = Callable[[Case, Message, ParsedMail], Iterator[str]]


def _check_text_start_end(expected: dict[str, Any], parsed: ParsedMail) -> Iterator[str]:
    start = expected.get("body_text_start")
    if start is None:
        return
    if start == _ZAMMAD_EMPTY:
        if parsed.text.strip():
            yield f"text: expected empty, got {parsed.text[:60]!r}"
        return
    ours = tight(parsed.text)
    if not ours.startswith(tight(start)):
        yield f"text start: expected {norm(start)[:70]!r}, got {norm(parsed.text)[:70]!r}"
    end = expected.get("body_text_end")
    if end and not ours.endswith(tight(end)):
        yield f"text end: expected {norm(end)[-70:]!r}, got {norm(parsed.text)[-70:]!r}"


def _check_zammad(case: Case, message: Message, parsed: ParsedMail) -> Iterator[str]:
    expected = case["expected"].get("parse", {})
    if "from_email" in expected:
        ours = parsed.from_.email if parsed.from_ else ""
        if address_key(ours) != address_key(expected["from_email"]):
            yield f"from_email: expected {expected['from_email']!r}, got {ours!r}"
    if "from_display_name" in expected:
        ours = parsed.from_.name if parsed.from_ else ""
        if norm(ours) != norm(expected["from_display_name"]):
            yield f"from name: expected {expected['from_display_name']!r}, got {ours!r}"
    if "subject" in expected and norm(parsed.subject) != norm(expected["subject"]):
        yield f"subject: expected {expected['subject']!r}, got {parsed.subject!r}"
    for key, ours_list in (("to", parsed.to), ("cc", parsed.cc), ("reply-to", parsed.reply_to)):
        if key in expected:
            wanted = emails_in(expected[key])
            got = {address_key(a.email) for a in ours_list}
            if wanted != got:
                yield f"{key}: expected {sorted(wanted)}, got {sorted(got)}"
    if expected.get("content_type") == "text/plain" and parsed.text_source not in (
        "text/plain",
        "",
    ):
        yield f"body source: expected text/plain, got {parsed.text_source}"
    yield from _check_text_start_end(expected, parsed)
    if "message_id" in expected:
        wanted_id = expected["message_id"].strip("<>")
        if wanted_id.endswith("@zammad_generated"):
            # Zammad invents an id for mail without one; we report that there is none.
            if parsed.message_id is not None:
                yield f"message_id: expected none, got {parsed.message_id!r}"
        elif parsed.message_id != wanted_id:
            yield f"message_id: expected {wanted_id!r}, got {parsed.message_id!r}"
    if "date" in expected and expected["date"] is None and parsed.date_from_header:
        yield "date: expected no usable Date header"
    yield from _check_zammad_attachments(expected, parsed)
    yield from _check_zammad_processing(case["expected"], parsed)


def _check_zammad_attachments(expected: dict[str, Any], parsed: ParsedMail) -> Iterator[str]:
    ours = top_attachments(parsed)
    if "attachment_count_excluding_html_alternative" in expected:
        wanted = expected["attachment_count_excluding_html_alternative"]
        if len(ours) != wanted:
            names = [a.filename for a in ours]
            yield f"attachment count: expected {wanted}, got {len(ours)} {names}"
    for attachment in expected.get("attachments", []):
        if attachment.get("zammad_html_alternative_of_body"):
            continue
        name = attachment["filename"]
        if attachment.get("mime_type") == "message/rfc822":
            # Attached messages are re-serialised from the parsed tree: names must match,
            # bytes need not be identical to the sender's.
            if not any(a.filename == name and a.origin == "message" for a in ours):
                yield f"attached message {name!r} missing: {[a.filename for a in ours]}"
            continue
        same_bytes = [a for a in ours if md5(a.data) == attachment["md5"]]
        if not same_bytes:
            yield f"attachment {name!r}: no attachment with md5 {attachment['md5']}"
        elif not any(a.filename == name for a in same_bytes):
            yield f"attachment name: expected {name!r}, got {[a.filename for a in same_bytes]}"
        if attachment.get("content_id") and not any(
            a.content_id == attachment["content_id"] for a in same_bytes
        ):
            yield f"attachment {name!r}: content id {attachment['content_id']!r} missing"


def _check_zammad_processing(expected: dict[str, Any], parsed: ParsedMail) -> Iterator[str]:
    processing = expected.get("ticket_processing", {})
    title = processing.get("ticket_title")
    # Zammad titles a ticket "-" when the subject is empty.
    if title is not None and norm(parsed.subject or "-") != norm(title):
        yield f"ticket title: expected {title!r}, got {parsed.subject!r}"
    body = processing.get("article_body")
    if body is not None:
        wanted = norm(_TAG.sub(" ", body))
        if wanted == _ZAMMAD_EMPTY:
            if parsed.text.strip():
                yield f"article body: expected empty, got {parsed.text[:60]!r}"
        elif not norm(parsed.text).startswith(wanted[:60]):
            yield f"article body: expected {wanted[:60]!r}, got {norm(parsed.text)[:60]!r}"
    addresses = {
        address_key(a.email)
        for a in (parsed.from_, parsed.sender, *parsed.to, *parsed.cc, *parsed.reply_to)
        if a is not None
    }
    for user in processing.get("users_created_or_verified", []):
        if address_key(user["email"]) not in addresses:
            yield f"user address {user['email']!r} not among {sorted(addresses)}"
    spec = expected.get("spec_behaviour", {})
    first_name = spec.get("first_attachment_filename")
    if first_name is not None:
        first = parsed.attachments[0] if parsed.attachments else None
        if first is None or first.filename != first_name:
            yield f"first attachment: expected {first_name!r}, got {first and first.filename!r}"
        content = spec.get("first_attachment_content")
        if (
            first is not None
            and content is not None
            and content not in first.data.decode("utf-8", "replace")
        ):
            yield f"first attachment content: expected {content!r}"
    if "attachment_filename" in spec:
        matching = [a for a in parsed.attachments if a.filename == spec["attachment_filename"]]
        if not matching:
            yield f"attachment {spec['attachment_filename']!r} missing"
        elif spec.get("attachment_has_content_id") and not any(a.content_id for a in matching):
            yield f"attachment {spec['attachment_filename']!r} has no Content-ID"


def _check_tnef(case: Case, message: Message, parsed: ParsedMail) -> Iterator[str]:
    expected = case["expected"]
    unpacked = [a for a in parsed.attachments if a.origin == "tnef"]
    names = expected.get("attachment_long_filenames_in_order")
    if names is not None and [a.filename for a in unpacked] != names:
        yield f"TNEF names: expected {names}, got {[a.filename for a in unpacked]}"
    count = expected.get("attachment_count")
    if count is not None and len(unpacked) != count:
        yield f"TNEF attachment count: expected {count}, got {len(unpacked)}"
    kind = str(expected.get("body_kind", ""))
    if kind.startswith("none") and parsed.text:
        yield f"TNEF body: expected none, got {parsed.text[:60]!r}"
    if kind and not kind.startswith("none") and not parsed.text.strip():
        yield f"TNEF body: expected {kind.split(' ', maxsplit=1)[0]} body text, got none"


def _structure(message: Message) -> list[str]:
    payload = message.get_payload()
    if not isinstance(payload, list):
        return []
    return [p.get_content_type() for p in payload if isinstance(p, Message)]


def _attached_messages(message: Message) -> list[Message]:
    """Messages (or, for text/rfc822-headers, message headers) attached to a mail."""
    found = []
    for part in message.walk():
        payload = part.get_payload()
        if part.get_content_type() in ("message/rfc822", "message/global") and payload:
            if isinstance(payload, list) and isinstance(payload[0], Message):
                found.append(payload[0])
        elif part.get_content_type() == "text/rfc822-headers":
            headers = part.get_payload(decode=True)
            found.append(email.message_from_bytes(headers if isinstance(headers, bytes) else b""))
    return found


def _check_structure(expected: dict[str, Any], message: Message) -> Iterator[str]:
    parts = _structure(message)
    top_type = expected.get("top_level_content_type")
    if top_type is not None and message.get_content_type() != top_type:
        yield f"top type: expected {top_type}"
    if "content_type" in expected and message.get_content_type() != expected["content_type"]:
        yield f"content type: expected {expected['content_type']}, got {message.get_content_type()}"
    for key in ("top_level_part_count", "part_count"):
        if key in expected and len(parts) != expected[key]:
            yield f"{key}: expected {expected[key]}, got {len(parts)}"
    if "top_level_parts" in expected and parts != expected["top_level_parts"]:
        yield f"top parts: expected {expected['top_level_parts']}, got {parts}"
    if "first_part" in expected and parts[:1] != [expected["first_part"]]:
        yield f"first part: expected {expected['first_part']}, got {parts[:1]}"
    if (
        "content_charset" in expected
        and message.get_content_charset() != expected["content_charset"]
    ):
        yield f"charset: expected {expected['content_charset']}"


def _check_flanker(case: Case, message: Message, parsed: ParsedMail) -> Iterator[str]:
    expected = case["expected"]
    yield from _check_structure(expected, message)
    if "subject" in expected and norm(parsed.subject) != norm(expected["subject"]):
        yield f"subject: expected {expected['subject']!r}, got {parsed.subject!r}"
    if expected.get("subject_present") and not parsed.subject:
        yield "subject missing"
    if "header_count" in expected and len(parsed.headers) != expected["header_count"]:
        yield f"header count: expected {expected['header_count']}, got {len(parsed.headers)}"
    if "received_header_count" in expected:
        received = len(parsed.header_all("Received"))
        if received != expected["received_header_count"]:
            yield f"Received count: expected {expected['received_header_count']}, got {received}"
    if "charset" in expected and message.get_content_charset() != expected["charset"]:
        yield f"charset: expected {expected['charset']}, got {message.get_content_charset()}"
    if "to_decoded" in expected:
        (name, address), *_ = email.utils.getaddresses([expected["to_decoded"]])
        if not parsed.to or (parsed.to[0].name, parsed.to[0].email) != (name, address):
            yield f"to: expected {expected['to_decoded']!r}, got {parsed.to}"
    inner = _attached_messages(message)
    if "returned_message_subject" in expected:
        subjects = [str(m.get("Subject", "")) for m in inner]
        if expected["returned_message_subject"] not in subjects:
            yield f"returned subject: expected {expected['returned_message_subject']!r}"
    if "returned_message_content_type" in expected:
        types = [m.get_content_type() for m in inner]
        if expected["returned_message_content_type"] not in types:
            yield f"returned type: expected {expected['returned_message_content_type']}"
    no_message = "attached_message" in expected and expected["attached_message"] is None
    if no_message and any(a.origin == "message" for a in parsed.attachments):
        yield "attached message: expected none"
    if "attached_part_name" in expected:
        wanted = (expected["attached_part_name"], expected.get("attached_part_content_type"))
        if not any((a.filename, a.content_type) == wanted for a in parsed.attachments):
            yield f"attached part {wanted} missing: {[a.filename for a in parsed.attachments]}"
    names = [a.filename for a in parsed.attachments]
    for key in ("attachment_filename", "second_part_filename"):
        if key in expected and expected[key] not in names:
            yield f"attachment {expected[key]!r} missing: {names}"
    prefix = expected.get("attachment_filename_starts_with")
    if prefix is not None and not any(name.startswith(prefix) for name in names):
        yield f"attachment starting {prefix!r} missing: {names}"
    if "attachment_detected_type" in expected:
        wanted_type = expected["attachment_detected_type"]
        if not any(a.content_type == wanted_type for a in parsed.attachments):
            types = [a.content_type for a in parsed.attachments]
            yield f"attachment of type {wanted_type} missing: {types}"
    if "body" in expected and norm(parsed.text) != norm(expected["body"]):
        yield f"body: expected {expected['body']!r}, got {parsed.text[:80]!r}"
    for key in ("third_part_body", "third_walked_part_body"):
        if key in expected and norm(expected[key]) not in norm(parsed.text):
            yield f"{key}: {expected[key]!r} not in text"
    if expected.get("first_part_body_non_empty") and not parsed.text.strip():
        yield "text: expected non-empty"


def _check_rt(case: Case, message: Message, parsed: ParsedMail) -> Iterator[str]:
    expected = case["expected"]
    if "subject" in expected and parsed.subject != expected["subject"]:
        yield f"subject: expected {expected['subject']!r}, got {parsed.subject!r}"
    for key in ("content_contains", "first_transaction_content_contains"):
        if key in expected and norm(expected[key]) not in norm(parsed.text):
            yield f"{key}: {expected[key]!r} not in {parsed.text[:80]!r}"
    if "charset" in expected:
        declared = {str(p.get_content_charset()) for p in message.walk()}
        if expected["charset"] not in declared:
            yield f"charset {expected['charset']} not declared: {declared}"
        if "\ufffd" in parsed.text + parsed.subject:
            yield "replacement characters in text or subject"
    if expected.get("content_type") == "text/html" and parsed.text_source != "text/html":
        yield f"body source: expected text/html, got {parsed.text_source}"
    names = [a.filename for a in parsed.attachments]
    for key in ("attachment_filename", "attached_message_filename"):
        if key in expected and expected[key] not in names:
            yield f"attachment {expected[key]!r} missing: {names}"
    messages = [a for a in parsed.attachments if a.origin == "message"]
    wanted_subject = expected.get("attached_message_subject")
    if wanted_subject is not None:
        subjects = [_eml(a)[1].subject for a in messages]
        if wanted_subject not in subjects:
            yield f"attached subject: expected {wanted_subject!r}, got {subjects}"
    wanted_first = expected.get("attached_message_first_part_content_type")
    if wanted_first is not None:
        firsts = []
        for attachment in messages:
            inner = _eml(attachment)[0]
            structure = _structure(inner) or [inner.get_content_type()]
            firsts.append(structure[0])
        if wanted_first not in firsts:
            yield f"attached first part: expected {wanted_first}, got {firsts}"


def _check_cpython(case: Case, message: Message, parsed: ParsedMail) -> Iterator[str]:
    expected = case["expected"]
    yield from _check_structure(expected, message)
    for defect in expected.get("defects", []):
        if defect not in parsed.defects:
            yield f"defect {defect} not reported: {parsed.defects}"
    if "filenames" in expected:
        names = [a.filename for a in parsed.attachments]
        if names != expected["filenames"]:
            yield f"file names: expected {expected['filenames']}, got {names}"
    wanted_name = expected.get("second_part_name_param")
    if wanted_name is not None and not any(a.filename == wanted_name for a in parsed.attachments):
        yield f"attachment {wanted_name!r} missing"


def _check_nodemailer(case: Case, message: Message, parsed: ParsedMail) -> Iterator[str]:
    expected = case["expected"]
    if "text" in expected and norm(parsed.text) != norm(expected["text"]):
        yield f"text: expected {norm(expected['text'])!r}, got {norm(parsed.text)!r}"
    for wanted in expected.get("text_contains", []):
        if wanted not in parsed.text:
            yield f"text does not contain {wanted!r}"
    if "html" in expected and norm(_TAG.sub(" ", expected["html"])) != norm(
        _TAG.sub(" ", parsed.html_sanitized or "")
    ):
        yield f"html text: expected {expected['html']!r}, got {parsed.html_sanitized!r}"
    if expected.get("html_non_empty") and not (parsed.html_sanitized or "").strip():
        yield "html: expected non-empty"
    for wanted in expected.get("html_contains", []):
        # mailparser inlines cid: images as data: URIs; we keep the cid: reference (the UI
        # serves the stored inline attachment), so the image must be referenced by cid.
        if wanted.startswith("data:image"):
            if 'src="cid:' not in (parsed.html_sanitized or ""):
                yield "html: inline image not referenced by cid:"
        elif wanted not in (parsed.html_sanitized or ""):
            yield f"html does not contain {wanted!r}"
    ours = top_attachments(parsed)
    if "attachment_count" in expected and len(ours) != expected["attachment_count"]:
        yield f"attachment count: expected {expected['attachment_count']}, got {len(ours)}"
    if "third_attachment_md5" in expected:
        got = md5(ours[2].data) if len(ours) > 2 else None
        if got != expected["third_attachment_md5"]:
            yield f"third attachment md5: expected {expected['third_attachment_md5']}, got {got}"
    if "subject" in expected and parsed.subject != expected["subject"]:
        yield f"subject: expected {expected['subject']!r}, got {parsed.subject!r}"
    if "to" in expected:
        wanted_to = [(t["address"].lower(), t["name"]) for t in expected["to"]]
        got_to = [(a.email.lower(), a.name) for a in parsed.to]
        if wanted_to != got_to:
            yield f"to: expected {wanted_to}, got {got_to}"


def _stdlib_defects(parsed: ParsedMail) -> list[str]:
    return [d for d in parsed.defects if d.endswith("Defect")]


def _check_spamscope(case: Case, message: Message, parsed: ParsedMail) -> Iterator[str]:
    expected = case["expected"]
    defects = _stdlib_defects(parsed)
    if "defects" in expected and sorted(defects) != sorted(expected["defects"]):
        yield f"defects: expected {expected['defects']}, got {defects}"
    for defect in expected.get("defects_include", []):
        if defect not in defects:
            yield f"defect {defect} not reported: {defects}"
    if "has_defects" in expected and bool(defects) != expected["has_defects"]:
        yield f"has defects: expected {expected['has_defects']}, got {defects}"
    if "html_parts" in expected and expected["html_parts"] and parsed.html_sanitized is None:
        yield "html: expected an HTML body"
    if "reply_to" in expected:
        wanted = [(name, address.lower()) for name, address in expected["reply_to"]]
        got = [(a.name, a.email.lower()) for a in parsed.reply_to]
        if wanted != got:
            yield f"reply-to: expected {wanted}, got {got}"
    priority = expected.get("x_msmail_priority")
    if priority is not None and parsed.header("X-MSMail-Priority") != priority:
        yield f"X-MSMail-Priority: expected {priority!r}"
    ours = top_attachments(parsed)
    if "attachment_count" in expected and len(ours) != expected["attachment_count"]:
        yield f"attachment count: expected {expected['attachment_count']}, got {len(ours)}"
    if "attachment_names" in expected:
        # mail-parser names a part without file name by its Content-ID ("<...>"); any name
        # of ours is fine there, the named files must match.
        wanted_names = [n for n in expected["attachment_names"] if not n.startswith("<")]
        got_names = [a.filename for a in ours]
        for name in wanted_names:
            if name not in got_names:
                yield f"attachment {name!r} missing: {got_names}"


def _check_django(case: Case, message: Message, parsed: ParsedMail) -> Iterator[str]:
    expected = case["expected"]
    if "ticket_title" in expected and parsed.subject != expected["ticket_title"]:
        yield f"title: expected {expected['ticket_title']!r}, got {parsed.subject!r}"
    title_start = expected.get("ticket_title_starts_with")
    if title_start is not None and not parsed.subject.startswith(title_start):
        yield f"title: expected to start {title_start!r}"
    contains = expected.get("ticket_description_contains")
    if contains is not None and contains not in parsed.text:
        yield f"text does not contain {contains!r}"
    stripped = expected.get("ticket_description_stripped")
    if stripped is not None and parsed.text.strip() != stripped:
        yield f"text: expected {stripped!r}, got {parsed.text[:60]!r}"
    if "forwarded_part_text" in expected:
        # A forward quoted inline stays in the body; an attached one in the attached message.
        wanted = expected["forwarded_part_text"]
        inner = [_eml(a)[1].text for a in parsed.attachments if a.origin == "message"]
        if not any(wanted in text for text in [parsed.text, *inner]):
            yield f"forwarded text {wanted!r} is neither in the body nor in an attached message"
    in_html = expected.get("html_part_stored_as_attachment_contains")
    if in_html is not None and in_html not in (parsed.html_sanitized or ""):
        yield "html: expected text missing"


CHECKERS: dict[str, Checker] = {
    "zammad": _check_zammad,
    "tnef": _check_tnef,
    "flanker": _check_flanker,
    "rt": _check_rt,
    "cpython-email": _check_cpython,
    "nodemailer-mailparser": _check_nodemailer,
    "spamscope-mail-parser": _check_spamscope,
    "django-helpdesk": _check_django,
}


def check_case(corpus: str, case: Case) -> list[str]:
    """Mismatches between our parse of one case and the expectations (empty = pass)."""
    raw = raw_mail(corpus, case)
    try:
        message, parsed = parse(raw)
    except MailQuarantined as quarantined:
        if case["expected"].get("malformed"):
            return []
        return [f"quarantined: {quarantined}"]
    except Exception as error:
        return [f"crashed: {type(error).__name__}: {error}"]
    problems = []
    if has_body(message) and not parsed.text.strip():
        problems.append("text empty although the mail has a body")
    problems += list(CHECKERS[corpus](case, message, parsed))
    return problems


def run() -> dict[str, dict[str, list[str]]]:
    """All mismatches: corpus -> case id -> mismatch list."""
    return {
        corpus: {case["id"]: check_case(corpus, case) for case in manifest(corpus)}
        for corpus in CORPORA
    }


def main() -> None:
    results = run()
    table = Table(title="MIME parsing on the mail corpora")
    for column in ("corpus", "cases", "pass", "fail", "pass rate"):
        table.add_column(column, justify="left" if column == "corpus" else "right")
    total = passed = 0
    for corpus, cases in results.items():
        ok = sum(1 for problems in cases.values() if not problems)
        total += len(cases)
        passed += ok
        table.add_row(
            corpus, str(len(cases)), str(ok), str(len(cases) - ok), f"{ok / len(cases):.0%}"
        )
    table.add_row("all", str(total), str(passed), str(total - passed), f"{passed / total:.1%}")
    console = Console(width=160)
    console.print(table)
    for corpus, cases in results.items():
        for case_id, problems in cases.items():
            for problem in problems:
                console.print(f"{corpus}/{case_id}: {problem}", markup=False, highlight=False)
    print(json.dumps({"cases": total, "passed": passed, "pass_rate": round(passed / total, 4)}))


if __name__ == "__main__":
    main()
