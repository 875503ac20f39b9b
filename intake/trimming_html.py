"""Reply trimming for HTML bodies: the quote markers mail clients leave in their HTML.

Part of the trimming step of intake: when a mail has an HTML body, `intake.trimming` asks this
module to render it to text in three parts - what the person wrote, the quoted earlier mail,
and a signature the client marked - and then applies its plain-text rules to the first part
(for quotes without markup, such as Outlook's "From:/Sent:" block, and for signatures).

Markers (what clients put around or before the quoted mail):
- `<blockquote type="cite">` (Apple Mail, Thunderbird), `blockquote.gmail_quote`, any
  blockquote with a left border or a class naming a quote (mail.ru, webmailers);
- cut markers, after which everything is quoted: `div.gmail_quote` (Gmail),
  `#divRplyFwdMsg` and `#appendonsend` (Outlook on the web / new Outlook), `.yahoo_quoted`
  (Yahoo), `#OLK_SRC_BODY_SECTION` (Outlook for Mac), `.moz-cite-prefix` (Thunderbird's
  attribution line), `hr#stopSpelling` (Hotmail), `hr#zwchr` (Zimbra);
- signature markers: `.gmail_signature`, `.moz-signature`, `#Signature`, `#AppleMailSignature`,
  `[data-signatureblock]`, `.js-signatureMarker` (Zammad).

The HTML is parsed with the standard library's tolerant `html.parser` (no regular expressions
over markup); input beyond `MAX_HTML_CHARS` is not parsed, and the element stack is bounded.
"""

from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from html.parser import HTMLParser

# The new part of a reply sits at the top; past this much HTML only the plain text is used.
MAX_HTML_CHARS = 1_000_000
_MAX_STACK = 512

_SKIPPED = frozenset({"script", "style", "head", "title", "template", "noscript", "xml"})
_VOID = frozenset(
    {
        "br", "hr", "img", "meta", "link", "input", "wbr", "col", "area", "base", "source",
        "track", "embed", "param", "basefont", "frame", "keygen",
    }
)  # fmt: skip
_PARAGRAPH = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "ul", "ol", "pre", "dl"}
)
_LINE = frozenset(
    {
        "div", "tr", "li", "section", "article", "header", "footer", "center", "dt", "dd",
        "address", "tbody", "thead", "tfoot", "caption", "form", "fieldset", "nav", "aside",
        "main", "figure", "figcaption", "details", "summary", "hr",
    }
)  # fmt: skip
_CELL = frozenset({"td", "th"})


class Region(StrEnum):
    """Which part of the reply a piece of rendered text belongs to."""

    NEW = "new"
    QUOTED = "quoted"
    SIGNATURE = "signature"


@dataclass(frozen=True)
class HtmlSplit:
    """An HTML body rendered to text and split at the client's markers."""

    new_text: str
    quoted: str
    signature: str
    # The marker that started the quoted part ("blockquote", "gmail_quote", ...), or None.
    marker: str | None


def _classes(attrs: dict[str, str]) -> set[str]:
    return set(attrs.get("class", "").casefold().split())


def _cut_marker(tag: str, attrs: dict[str, str]) -> str | None:
    """Markers after which the rest of the document is the quoted mail."""
    element_id = attrs.get("id", "").casefold()
    classes = _classes(attrs)
    if "gmail_quote" in classes and tag != "blockquote":
        return "gmail_quote"
    if element_id in {"divrplyfwdmsg", "appendonsend", "olk_src_body_section"}:
        return {"divrplyfwdmsg": "divRplyFwdMsg", "appendonsend": "appendonsend"}.get(
            element_id, "OLK_SRC_BODY_SECTION"
        )
    if "yahoo_quoted" in classes or element_id.startswith("yahoo_quoted"):
        return "yahoo_quoted"
    if "moz-cite-prefix" in classes:
        return "moz-cite-prefix"
    if tag == "hr" and element_id in {"stopspelling", "zwchr"}:
        return f"hr#{element_id}"
    return None


def _is_quote_element(tag: str, attrs: dict[str, str]) -> bool:
    if tag != "blockquote":
        return False
    classes = _classes(attrs)
    style = attrs.get("style", "").casefold().replace(" ", "")
    return (
        attrs.get("type", "").casefold() == "cite"
        or any("quote" in c or "cite" in c for c in classes)
        or "border-left" in style
        or "cite" in attrs
    )


def _is_signature_element(attrs: dict[str, str]) -> bool:
    classes = _classes(attrs)
    element_id = attrs.get("id", "").casefold()
    return (
        bool(classes & {"gmail_signature", "moz-signature", "js-signaturemarker"})
        or element_id in {"signature", "applemailsignature"}
        or attrs.get("data-signatureblock", "").casefold() == "true"
    )


class _Renderer(HTMLParser):
    """Renders HTML to text, remembering for each piece whether it is new, quoted or signature."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[tuple[Region, str]] = []
        self.marker: str | None = None
        self._stack: list[str] = []
        self._open: Counter[str] = Counter()  # tags in _stack, for O(1) membership
        self._skip_depth: int | None = None
        self._quote_depth: int | None = None
        self._signature_depth: int | None = None
        self._cut = False
        self._pre = 0
        self._newlines = 0
        self._last_char = ""

    # region of the text at the current position
    def _region(self) -> Region:
        if self._cut or self._quote_depth is not None:
            return Region.QUOTED
        if self._signature_depth is not None:
            return Region.SIGNATURE
        return Region.NEW

    def _emit(self, text: str) -> None:
        if not text:
            return
        if text[0] == " " and self._at_line_start_or_space():
            text = text[1:]
            if not text:
                return
        self.pieces.append((self._region(), text))
        stripped = text.rstrip("\n")
        if stripped:
            self._newlines = len(text) - len(stripped)
            self._last_char = stripped[-1]
        else:
            self._newlines += len(text)

    def _at_line_start_or_space(self) -> bool:
        return self._newlines > 0 or self._last_char in {"", " "}

    def _break(self, count: int) -> None:
        """End the line (count=1) or the paragraph (count=2) unless already ended."""
        if self._newlines < count and (self._last_char or self._newlines):
            self._emit("\n" * (count - self._newlines))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {key.casefold(): value or "" for key, value in attrs}
        if tag == "body":
            # An unclosed <head> must not hide the body.
            self._skip_depth = None
        if self._skip_depth is None and tag in _SKIPPED and tag not in _VOID:
            self._skip_depth = len(self._stack)
        marker = _cut_marker(tag, values)
        if marker is not None and not self._cut and self._skip_depth is None:
            self._cut = True
            self.marker = self.marker or marker
        if tag in _VOID:
            self._void(tag)
            return
        if len(self._stack) >= _MAX_STACK:
            return
        self._stack.append(tag)
        self._open[tag] += 1
        depth = len(self._stack)
        if self._quote_depth is None and _is_quote_element(tag, values):
            self._quote_depth = depth
            kind = "gmail_quote" if "gmail_quote" in _classes(values) else "blockquote"
            self.marker = self.marker or kind
        if self._signature_depth is None and _is_signature_element(values):
            self._signature_depth = depth
        self._block_open(tag)

    def _void(self, tag: str) -> None:
        if self._skip_depth is not None:
            return
        if tag == "br":
            self._emit("\n")
        elif tag == "hr":
            self._break(1)

    def _block_open(self, tag: str) -> None:
        if self._skip_depth is not None:
            return
        if tag == "pre":
            self._pre += 1
        if tag in _PARAGRAPH:
            self._break(2)
        elif tag in _LINE:
            self._break(1)
        elif tag in _CELL:
            self._emit(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID or not self._open[tag]:
            return
        while self._stack:
            open_tag = self._stack.pop()
            self._open[open_tag] -= 1
            self._close(open_tag)
            if open_tag == tag:
                break

    def _close(self, tag: str) -> None:
        depth = len(self._stack) + 1
        if self._skip_depth is None:
            if tag == "pre":
                self._pre = max(0, self._pre - 1)
            if tag in _PARAGRAPH:
                self._break(2)
            elif tag in _LINE:
                self._break(1)
        if self._skip_depth is not None and depth <= self._skip_depth + 1:
            self._skip_depth = None
        if self._quote_depth is not None and depth <= self._quote_depth:
            self._quote_depth = None
        if self._signature_depth is not None and depth <= self._signature_depth:
            self._signature_depth = None

    def handle_data(self, data: str) -> None:
        if self._skip_depth is not None:
            return
        if self._pre:
            self._emit(data)
        else:
            words = " ".join(data.split())
            lead = " " if data[:1].isspace() else ""
            trail = " " if data[-1:].isspace() and words else ""
            self._emit(lead + words + trail if words else lead)


def _tidy(text: str) -> str:
    """Lines trimmed (indented code keeps its indent), no more than one blank line in a row."""
    result: list[str] = []
    for raw in text.replace("\xa0", " ").split("\n"):
        line = raw.rstrip() if raw.startswith("  ") else raw.strip()
        if not line and (not result or not result[-1]):
            continue
        result.append(line)
    return "\n".join(result).strip("\n")


def split_html(html: str) -> HtmlSplit:
    """Render `html` to text, split into the new part, the quoted mail and a marked signature."""
    renderer = _Renderer()
    try:
        renderer.feed(html[:MAX_HTML_CHARS])
        renderer.close()
    except (AssertionError, ValueError):
        # html.parser is tolerant, but keep whatever was rendered if it gives up.
        pass
    parts: dict[Region, list[str]] = {region: [] for region in Region}
    for region, text in renderer.pieces:
        parts[region].append(text)
    return HtmlSplit(
        new_text=_tidy("".join(parts[Region.NEW])),
        quoted=_tidy("".join(parts[Region.QUOTED])),
        signature=_tidy("".join(parts[Region.SIGNATURE])),
        marker=renderer.marker,
    )


def html_to_text(html: str) -> str:
    """The whole HTML body as plain text (new, signature and quoted parts in document order)."""
    renderer = _Renderer()
    try:
        renderer.feed(html[:MAX_HTML_CHARS])
        renderer.close()
    except (AssertionError, ValueError):
        pass
    return _tidy("".join(text for _, text in renderer.pieces))
