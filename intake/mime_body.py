"""The body walk of the MIME parsing stage: readable text, display HTML and attachments.

Walks the MIME tree once (RFC 2046) and sorts every leaf into body text or attachment:
- multipart/alternative: the text/plain alternative gives the text, the text/html one the
  display HTML (when a mail only has HTML, its text is converted);
- multipart/related: the root part is the body, the other parts are its inline resources;
- multipart/mixed and others: inline text parts in order form the body (Apple Mail
  interleaves text and files), everything else is an attachment;
- multipart/signed and multipart/report: the first part is the body, the rest attachments;
- message/rfc822: kept whole as an .eml attachment; its own attachments are extracted too,
  its text is not the top mail's body (docs/decisions/0015);
- uuencoded blocks in text bodies and TNEF winmail.dat parts are unpacked into attachments.
"""

import html as html_lib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from email.message import Message
from enum import StrEnum
from urllib.parse import unquote

from intake.attachments import (
    content_type_for,
    extract_uuencoded,
    fallback_filename,
    sanitize_filename,
    unpack_tnef,
)
from intake.charsets import decode_bytes
from intake.html import html_to_text, sanitize_html
from intake.limits import MailLimits
from intake.mime_deadline import Deadline
from intake.mime_flowed import unflow
from intake.mime_headers import charset_hint, decode_header, raw_values
from intake.mime_parts import (
    body_bytes,
    message_bytes,
    part_bytes,
    part_content_id,
    part_description,
    part_disposition,
    part_filename,
    uuencoded_name,
)
from intake.mime_text import clean_body, collapse_whitespace, payload_of
from intake.parsed import ParsedAttachment

_BODY_TYPES = frozenset({"text/plain", "text/html"})
_TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})
_MESSAGE_TYPES = frozenset({"message/rfc822", "message/global", "message/news"})
_CID_REFERENCE = re.compile(r"cid:([^\"'\s>)]+)", re.IGNORECASE)


class Mode(StrEnum):
    """How a subtree's text parts are treated."""

    BODY = "body"  # inline text parts are the mail's body
    FILES = "files"  # resources of multipart/related, tail of multipart/report: files
    NESTED = "nested"  # inside an attached message: its text travels in the .eml


@dataclass(frozen=True)
class Segment:
    """One stretch of body: its text/plain and/or text/html version."""

    plain: str | None = None
    html: str | None = None


@dataclass(frozen=True)
class Body:
    """The outcome of the walk."""

    text: str
    text_source: str
    html_sanitized: str | None
    attachments: tuple[ParsedAttachment, ...]
    defects: tuple[str, ...]


@dataclass
class _Walk:
    """Mutable state of one walk (local to `extract_body`, never shared)."""

    limits: MailLimits
    deadline: Deadline
    hint: str | None
    attachments: list[ParsedAttachment] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    tnef_text: str | None = None
    tnef_html: str | None = None
    inline_named: list[Segment] = field(default_factory=list)

    def defect(self, name: str) -> None:
        if name not in self.defects:
            self.defects.append(name)

    # -- the tree ---------------------------------------------------------------------------

    def walk(self, part: Message, section: str, depth: int, mode: Mode) -> list[Segment]:
        self.deadline.check("MIME walk")
        for defect in part.defects:
            self.defect(type(defect).__name__)
        if depth > self.limits.max_mime_depth:
            self.defect("mime_too_deep")
            return []
        content_type = part.get_content_type()
        payload = payload_of(part)
        children = (
            [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []
        )
        if content_type.startswith("multipart/"):
            if not isinstance(payload, list):
                # Declared multipart without usable boundaries: the content is one text.
                self.defect("multipart_without_parts")
                return self.leaf(part, section, mode, "text/plain")
            return self.multipart(part, children, section, depth, mode)
        if content_type in _MESSAGE_TYPES and children:
            self.attached_message(part, children[0], section, depth)
            return []
        if isinstance(payload, list):
            # message/delivery-status and other message/* types parse into header blocks.
            self.add_file(part, body_bytes(part), section, content_type)
            return []
        return self.leaf(part, section, mode, content_type)

    def multipart(
        self, part: Message, children: list[Message], section: str, depth: int, mode: Mode
    ) -> list[Segment]:
        subtype = part.get_content_subtype()
        numbered = [(child, _child_section(section, n)) for n, child in enumerate(children, 1)]
        if subtype == "alternative" and mode == Mode.BODY:
            return self.alternative(numbered, depth)
        if subtype == "related" and mode == Mode.BODY and numbered:
            root = _related_root(part, numbered)
            segments: list[Segment] = []
            for child, child_section in numbered:
                child_mode = Mode.BODY if child is root else Mode.FILES
                segments += self.walk(child, child_section, depth + 1, child_mode)
            return segments
        if subtype in ("signed", "report") and mode == Mode.BODY and numbered:
            (first, first_section), rest = numbered[0], numbered[1:]
            segments = self.walk(first, first_section, depth + 1, Mode.BODY)
            for child, child_section in rest:
                self.walk(child, child_section, depth + 1, Mode.FILES)
            return segments
        if subtype == "encrypted":
            mode = Mode.FILES if mode == Mode.BODY else mode
        segments = []
        for child, child_section in numbered:
            segments += self.walk(child, child_section, depth + 1, mode)
        return segments

    def alternative(self, numbered: list[tuple[Message, str]], depth: int) -> list[Segment]:
        # RFC 2046 section 5.1.4: alternatives come in increasing faithfulness, so the last
        # plain and the last HTML alternative are the best of their kind.
        plain: list[Segment] = []
        rich: list[Segment] = []
        for child, child_section in numbered:
            segments = self.walk(child, child_section, depth + 1, Mode.BODY)
            if any(s.html is not None for s in segments):
                rich = segments
            if any(s.plain and s.plain.strip() for s in segments):
                plain = segments
        if not plain and not rich:
            return []
        return [
            Segment(
                plain=_join(_as_plain(s, self) for s in plain) if plain else None,
                html=_join(_as_html(s) for s in rich) if rich else None,
            )
        ]

    # -- leaves -----------------------------------------------------------------------------

    def leaf(self, part: Message, section: str, mode: Mode, content_type: str) -> list[Segment]:
        data, defects = part_bytes(part)
        for defect in defects:
            self.defect(defect)
        name = part_filename(part, self.hint) or uuencoded_name(part)
        if content_type in _TNEF_TYPES or (name or "").lower() == "winmail.dat":
            self.tnef(part, data, section, name)
            return []
        disposition = part_disposition(part)
        is_text = content_type in _BODY_TYPES and disposition != "attachment" and not name
        if is_text and mode == Mode.NESTED:
            return []  # the attached message's own text travels in its .eml
        if not (is_text and mode == Mode.BODY):
            self.add_file(part, data, section, content_type, name=name)
            if mode == Mode.BODY and content_type in _BODY_TYPES and disposition == "inline":
                # A named text part shown inline: the body if the mail has no other.
                self.inline_named.append(self.segment(part, data, content_type, section))
            return []
        return [self.segment(part, data, content_type, section)]

    def segment(self, part: Message, data: bytes, content_type: str, section: str) -> Segment:
        decoded = decode_bytes(data, part.get_content_charset(), hint=self.hint)
        if decoded.replaced:
            self.defect("charset_replaced")
        if content_type == "text/html":
            return Segment(html=decoded.text)
        return Segment(plain=self.plain_text(part, data, decoded.codec, decoded.text, section))

    def plain_text(self, part: Message, data: bytes, codec: str, text: str, section: str) -> str:
        if b"begin " in data:
            remaining, files = extract_uuencoded(data)
            for unpacked in files:
                self.attachments.append(
                    ParsedAttachment(
                        filename=unpacked.filename,
                        content_type=content_type_for(unpacked.filename),
                        data=unpacked.data,
                        section=section,
                        origin="uuencode",
                    )
                )
            if files:
                text = decode_bytes(remaining, codec).text
        text = clean_body(text)
        if str(part.get_param("format", "") or "").lower() == "flowed":
            delsp = str(part.get_param("delsp", "") or "").lower() == "yes"
            text = unflow(text, delsp=delsp)
        return text

    def tnef(self, part: Message, data: bytes, section: str, name: str | None) -> None:
        contents = unpack_tnef(data, max_body_bytes=self.limits.max_html_bytes)
        if contents is None:
            self.defect("invalid_tnef")
            self.add_file(part, data, section, part.get_content_type(), name=name)
            return
        for unpacked in contents.files:
            self.attachments.append(
                ParsedAttachment(
                    filename=unpacked.filename,
                    content_type=content_type_for(unpacked.filename),
                    data=unpacked.data,
                    section=section,
                    origin="tnef",
                )
            )
        self.tnef_text = self.tnef_text or contents.text
        self.tnef_html = self.tnef_html or contents.html

    def attached_message(self, part: Message, inner: Message, section: str, depth: int) -> None:
        name = part_filename(part, self.hint)
        if not name:
            # Outlook attaches messages without a file name; their subject names them.
            subjects = raw_values(inner, "Subject")
            hint = charset_hint(inner) or self.hint
            subject = collapse_whitespace(decode_header(subjects[0], hint)) if subjects else ""
            name = f"{subject}.eml" if subject else None
        self.add_file(part, message_bytes(inner), section, part.get_content_type(), name=name)
        self.attachments[-1] = replace(self.attachments[-1], origin="message")
        self.walk(inner, section, depth + 1, Mode.NESTED)

    def add_file(
        self,
        part: Message,
        data: bytes,
        section: str,
        content_type: str,
        *,
        name: str | None = None,
    ) -> None:
        if name is None:
            name = part_filename(part, self.hint)
        content_id = part_content_id(part)
        fallback = fallback_filename(
            content_type, content_id=content_id, description=part_description(part, self.hint)
        )
        self.attachments.append(
            ParsedAttachment(
                filename=sanitize_filename(name, fallback),
                content_type=content_type,
                data=data,
                content_id=content_id,
                section=section,
            )
        )


def _child_section(section: str, number: int) -> str:
    return f"{section}.{number}" if section else str(number)


def _related_root(part: Message, numbered: list[tuple[Message, str]]) -> Message:
    # RFC 2387 section 3.2: the "start" parameter names the root by Content-ID.
    start = str(part.get_param("start", "") or "").strip().strip("<>")
    if start:
        for child, _ in numbered:
            if part_content_id(child) == start:
                return child
    return numbered[0][0]


def _join(texts: Iterable[str]) -> str:
    return "\n".join(t.strip("\n") for t in texts if t.strip())


def _as_plain(segment: Segment, walk: _Walk) -> str:
    if segment.plain is not None and segment.plain.strip():
        return segment.plain
    if segment.html is not None:
        walk.deadline.check("HTML to text")
        return html_to_text(segment.html[: walk.limits.max_html_bytes])
    return ""


def _as_html(segment: Segment) -> str:
    if segment.html is not None:
        return segment.html
    escaped = html_lib.escape(segment.plain or "")
    return f'<div style="white-space: pre-wrap">{escaped}</div>'


def _referenced_cids(html: str) -> set[str]:
    # RFC 2392: a cid: URL is the Content-ID without brackets, URL-encoded.
    return {unquote(ref).lower() for ref in _CID_REFERENCE.findall(html)}


def extract_body(
    message: Message, *, limits: MailLimits, deadline: Deadline, hint: str | None
) -> Body:
    """Text, sanitised HTML and attachments of a parsed message."""
    walk = _Walk(limits=limits, deadline=deadline, hint=hint)
    segments = walk.walk(message, "", 0, Mode.BODY)
    if not any((s.plain or "").strip() or s.html is not None for s in segments):
        segments = segments + walk.inline_named[:1]
    texts = [_as_plain(segment, walk) for segment in segments]
    text = clean_body(_join(texts)).strip("\n").rstrip()
    has_plain = any(s.plain and s.plain.strip() for s in segments)
    source = "text/plain" if has_plain else ("text/html" if text else "")
    html: str | None = None
    if any(s.html is not None for s in segments):
        html = "\n".join(_as_html(s) for s in segments)
    if not text and (walk.tnef_text or walk.tnef_html):
        # Outlook sent the body only inside winmail.dat (RTF or HTML).
        text = walk.tnef_text or html_to_text((walk.tnef_html or "")[: limits.max_html_bytes])
        source = "application/ms-tnef"
        html = html or walk.tnef_html
    sanitized: str | None = None
    attachments = walk.attachments
    if html is not None:
        deadline.check("HTML sanitising")
        cut = html[: limits.max_html_bytes]
        if len(cut) < len(html):
            walk.defect("html_truncated")
        sanitized = sanitize_html(cut) or None
        referenced = _referenced_cids(cut)
        attachments = [
            replace(a, inline=True) if a.content_id and a.content_id.lower() in referenced else a
            for a in attachments
        ]
    return Body(
        text=text,
        text_source=source,
        html_sanitized=sanitized,
        attachments=tuple(attachments),
        defects=tuple(walk.defects),
    )
