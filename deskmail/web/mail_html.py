"""The HTML body of a mail as a document for a sandboxed frame of the agent and status pages.

Intake stored the body already sanitised with nh3; it is sanitised again here, at display, so
a weaker past cleaner or a row changed by hand cannot reach the browser (defence in depth).
Images the mail carries as MIME parts (`cid:` URLs, RFC 2392) are embedded as `data:` URLs
when they are small raster images; every other `cid:` reference is dropped. Remote images
stay blocked by the frame's CSP, so opening a mail never tells its sender (docs/decisions/0107).
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Mapping
from urllib.parse import unquote

from intake.html import sanitize_html

# Inline images larger than this are not embedded (the frame would become huge).
MAX_INLINE_IMAGE_BYTES = 2 * 1024 * 1024
MAX_INLINE_TOTAL_BYTES = 10 * 1024 * 1024

_CID_ATTRIBUTE = re.compile(r'\s(src|href)="cid:([^"]*)"', re.IGNORECASE)

_FRAME_STYLE = (
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;font-size:14px;"
    "line-height:1.45;color:#1f2328;margin:12px;overflow-wrap:anywhere}"
    "img{max-width:100%;height:auto}table{max-width:100%}"
    "blockquote{margin:0 0 0 .5em;padding-left:.75em;border-left:3px solid #d0d7de;color:#57606a}"
)


def _content_id(url_value: str) -> str:
    # The attribute is HTML-escaped; the cid URL is percent-encoded (RFC 2392, section 2).
    return unquote(html.unescape(url_value)).strip().strip("<>").lower()


def embed_images(sanitized: str, images: Mapping[str, tuple[str, bytes]]) -> str:
    """Replace `cid:` references by `data:` URLs of the given images; drop the others.

    `images` maps lower-cased Content-IDs to (content type, bytes) of safe raster images.
    """
    budget = MAX_INLINE_TOTAL_BYTES

    def replace(match: re.Match[str]) -> str:
        nonlocal budget
        attribute, value = match.group(1).lower(), match.group(2)
        found = images.get(_content_id(value))
        if attribute != "src" or found is None:
            return ""
        content_type, data = found
        if len(data) > MAX_INLINE_IMAGE_BYTES or len(data) > budget:
            return ""
        budget -= len(data)
        encoded = base64.b64encode(data).decode("ascii")
        return f' src="data:{html.escape(content_type)};base64,{encoded}"'

    return _CID_ATTRIBUTE.sub(replace, sanitized)


def frame_document(stored_html: str, images: Mapping[str, tuple[str, bytes]]) -> str:
    """A complete, self-contained HTML document for the mail frame."""
    body = embed_images(sanitize_html(stored_html), images)
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        # Links open outside the sandbox, in a new tab, without a referrer (nh3 adds rel).
        '<base target="_blank">'
        f"<style>{_FRAME_STYLE}</style></head><body>{body}</body></html>"
    )
