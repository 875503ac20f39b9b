"""HTML bodies in the MIME parsing stage: readable text (inscriptis) and safe HTML (nh3).

`html_to_text` gives the text the later stages work on (screening, trimming, classification,
matching) when a mail has no text/plain part. `sanitize_html` gives the HTML the web UI may
show: no scripts, no event handlers, no javascript:/data: URLs, no frames, forms, styles
sheets or other remote-loading tricks; plain links and images stay, and `cid:` images so the
UI can point them at the stored inline attachments (docs/decisions/0013).
"""

import html as html_lib
import re

import nh3
from inscriptis import get_text
from inscriptis.css_profiles import CSS_PROFILES
from inscriptis.model.config import ParserConfig

from intake.mime_text import clean_body

_TAG = re.compile(r"<[^>]*>")
_BLANK_LINES = re.compile(r"\n{3,}")
_HEAD = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)

_TAGS = nh3.ALLOWED_TAGS | {"font"}
_ATTRIBUTES: dict[str, set[str]] = {
    tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()
}
for _tag, _extra in {
    # Presentational attributes that mail layouts rely on; none of them loads anything.
    "*": {"title", "lang", "dir", "style"},
    # Quote markers (`div.gmail_quote`, `#divRplyFwdMsg`, `blockquote type=cite`) let the
    # trimming stage find the quoted part. The HTML is only ever shown in a sandboxed frame of
    # its own, so class and id names cannot reach our pages' styles or scripts.
    "blockquote": {"type", "class", "id"},
    "div": {"align", "class", "id"},
    "span": {"class", "id"},
    "hr": {"class", "id"},
    "font": {"color", "face", "size"},
    "table": {"width", "border", "cellpadding", "cellspacing", "bgcolor"},
    "td": {"width", "height", "valign", "bgcolor", "nowrap"},
    "th": {"width", "height", "valign", "bgcolor", "nowrap"},
    "tr": {"valign", "bgcolor"},
    "p": {"align"},
}.items():
    _ATTRIBUTES.setdefault(_tag, set()).update(_extra)

# CSS properties kept in style attributes: layout and typography only. Nothing that takes a
# url() (background, list-style-image, border-image, cursor, content) and nothing that
# positions an element over the page (position, z-index).
_STYLE_PROPERTIES = frozenset(
    {
        "color",
        "background-color",
        "font",
        "font-family",
        "font-size",
        "font-style",
        "font-weight",
        "text-align",
        "text-decoration",
        "text-indent",
        "text-transform",
        "line-height",
        "letter-spacing",
        "white-space",
        "vertical-align",
        "direction",
        "width",
        "height",
        "max-width",
        "min-width",
        "margin",
        "margin-top",
        "margin-right",
        "margin-bottom",
        "margin-left",
        "padding",
        "padding-top",
        "padding-right",
        "padding-bottom",
        "padding-left",
        "border",
        "border-top",
        "border-right",
        "border-bottom",
        "border-left",
        "border-color",
        "border-style",
        "border-width",
        "border-collapse",
        "border-spacing",
        "list-style-type",
    }
)

# cid: is RFC 2392 (a MIME part of this very mail); relative URLs are denied because the
# browser would resolve them against the help desk's own site.
_URL_SCHEMES = frozenset({"http", "https", "mailto", "tel", "cid"})

_CLEANER = nh3.Cleaner(
    tags=_TAGS,
    attributes=_ATTRIBUTES,
    url_schemes=set(_URL_SCHEMES),
    url_relative="deny",
    filter_style_properties=set(_STYLE_PROPERTIES),
    link_rel="noopener noreferrer nofollow",
    strip_comments=True,
    # Elements dropped with everything inside them (the default drops script and style).
    clean_content_tags={"script", "style", "title", "noscript", "template", "svg", "math"},
)

_TEXT_CONFIG = ParserConfig(css=CSS_PROFILES["strict"], display_images=False, display_links=False)


def sanitize_html(html: str) -> str:
    """HTML safe to embed in the agent UI (a fragment; no document, head or body)."""
    return _CLEANER.clean(clean_body(html)).strip()


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\u00a0", " ").split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _strip_tags(html: str) -> str:
    return html_lib.unescape(_TAG.sub(" ", _HEAD.sub(" ", html)))


def html_to_text(html: str) -> str:
    """Readable plain text of an HTML body: block structure kept as lines, tags gone.

    When the layout engine finds no visible text (everything in <title>, or markup it cannot
    read) the bare text content is used, so an HTML body never turns into an empty text.
    """
    cleaned = clean_body(html)
    try:
        text = _tidy(get_text(cleaned, _TEXT_CONFIG))
    except Exception:
        text = ""
    if not text.strip():
        text = _tidy(clean_body(_strip_tags(cleaned)))
    return text
