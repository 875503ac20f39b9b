"""Article Markdown to safe HTML, for the editors' preview, the article pages and requesters.

Articles are written in CommonMark (plus tables and strikethrough) by editors, and some come
from tickets, i.e. from mail: the text is hostile. Two locks (docs/decisions/0141):

1. markdown-it-py renders with raw HTML *off*: `<script>` typed into an article is shown as
   text, never passed through; link targets are checked by markdown-it's own URL validator.
2. nh3 (ammonia) sanitises the result against a short allow-list of the tags and attributes
   the renderer produces, with links limited to http, https and mailto and marked
   `rel="noopener noreferrer nofollow"`, so a renderer bug or a future plugin cannot open a
   hole either. Style attributes (table column alignment) are dropped: the pages' CSP
   forbids inline styles, and the browser would only report them.

Pages show the result with `|safe`; nothing else of an article is ever marked safe.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

# Far more than any real article; past it, rendering time (not usefulness) would grow.
MAX_MARKDOWN_CHARS = 200_000

_TAGS = {
    "a",
    "blockquote",
    "br",
    "code",
    "del",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "strong",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
    "s",
}
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "code": {"class"},
}
_SCHEMES = {"http", "https", "mailto"}


def _renderer() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
        ["table", "strikethrough"]
    )


_MARKDOWN = _renderer()


def markdown_html(text: str) -> Markup:
    """The sanitised HTML of `text` (Markdown), ready to put into a page."""
    rendered = _MARKDOWN.render(text[:MAX_MARKDOWN_CHARS])
    cleaned = nh3.clean(
        rendered,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes=_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
    return Markup(cleaned)  # noqa: S704 - sanitised by nh3 just above
