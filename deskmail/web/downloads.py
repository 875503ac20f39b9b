"""Serving stored files (attachments, raw mail) so that none of them can act as a web page.

Every file is sent with `Content-Disposition: attachment`, `nosniff` and a sandboxing CSP.
Its type is kept only when it is one of a few raster image types (which `<img>` in a mail's
frame needs); anything else - HTML, SVG, XML, PDF, scripts - goes out as
`application/octet-stream` (docs/decisions/0107). The original file name is mail text: it
reaches the header only as an RFC 6266 `filename` of safe ASCII plus an RFC 8187 (formerly
5987) `filename*` in UTF-8 percent-encoding, with every control character (CR, LF, ...) gone.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

from starlette.responses import Response

from deskmail.web.security import DOWNLOAD_CSP

SAFE_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
MAX_NAME_CHARS = 150
_ASCII_SAFE = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 !#$&'()+,-.;=@[]^_`{}~"
)


def safe_content_type(content_type: str) -> str:
    """The stored type when it is a safe raster image, else application/octet-stream."""
    base = content_type.split(";", 1)[0].strip().lower()
    return base if base in SAFE_IMAGE_TYPES else "application/octet-stream"


def clean_filename(name: str, fallback: str = "attachment") -> str:
    """The name without control or format characters, path parts or surrounding dots."""
    text = "".join(
        " " if unicodedata.category(c)[0] in "CZ" and c != " " else c
        for c in unicodedata.normalize("NFC", name)
    )
    text = text.replace("/", "_").replace("\\", "_")
    text = " ".join(text.split()).strip(" .")
    return text[:MAX_NAME_CHARS] or fallback


def content_disposition(name: str, fallback: str = "attachment") -> str:
    """`attachment; filename="..."; filename*=UTF-8''...` for any file name (RFC 6266)."""
    cleaned = clean_filename(name, fallback)
    ascii_name = "".join(c if c in _ASCII_SAFE else "_" for c in cleaned) or fallback
    encoded = quote(cleaned, safe="")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{encoded}"


def download_response(data: bytes, *, filename: str, content_type: str) -> Response:
    """A response that makes the browser save `data` and never render it as a page."""
    return Response(
        content=data,
        media_type=safe_content_type(content_type),
        headers={
            "Content-Disposition": content_disposition(filename),
            "Content-Security-Policy": DOWNLOAD_CSP,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            "Cross-Origin-Resource-Policy": "same-origin",
        },
    )
