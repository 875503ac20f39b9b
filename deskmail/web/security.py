"""Security headers on every response, and the last line of defence against unhandled errors.

An ASGI middleware (not Starlette's BaseHTTPMiddleware, which buffers and breaks streaming)
adds, unless a route set its own: a strict Content-Security-Policy (no inline script or
handlers, nothing from other origins, no framing), nosniff, a same-origin referrer policy,
`Cache-Control: no-store` for everything but static files, cross-origin isolation headers and,
over https, HSTS (docs/decisions/0105). It also turns an unhandled error into a plain 500 page
that carries those headers and tells the client nothing about the error.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

# Pages of the UI: our own scripts, styles and images only; frames only from us (the mail
# body frame); forms post only to us; <base> cannot redirect relative URLs.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-src 'self'; frame-ancestors 'none'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'"
)
# The sanitised HTML of a mail, shown in a sandboxed frame of our pages: no script at all,
# the mail's own inline styles, images only embedded as data: URLs (its own cid: parts), so
# remote images cannot tell the sender the mail was read; the `sandbox` directive
# keeps the document sandboxed even when it is opened on its own (docs/decisions/0107).
MAIL_FRAME_CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'; "
    "sandbox allow-popups allow-popups-to-escape-sandbox"
)
# Downloads: nothing in them may run even if a browser is talked into rendering one.
DOWNLOAD_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox"

PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
HSTS = "max-age=31536000"
STATIC_PREFIX = "/static/"

_ERROR_PAGE = (
    b"<!doctype html><html lang=en><meta charset=utf-8><title>Error</title>"
    b"<h1>Something went wrong</h1><p>The error was logged. Please try again later.</p></html>"
)


def _defaults(scope: Scope) -> list[tuple[bytes, bytes]]:
    path: str = scope.get("path", "")
    static = path.startswith(STATIC_PREFIX)
    headers = [
        (b"content-security-policy", PAGE_CSP.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
        (b"x-frame-options", b"DENY"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"cross-origin-resource-policy", b"same-origin"),
        (b"permissions-policy", PERMISSIONS_POLICY.encode()),
        # Private pages must not stay in shared or browser caches; static files revalidate.
        (b"cache-control", b"no-cache" if static else b"no-store"),
    ]
    if scope.get("scheme") == "https":
        headers.append((b"strict-transport-security", HSTS.encode()))
    return headers


def _merged(existing: Iterable[tuple[bytes, bytes]], scope: Scope) -> list[tuple[bytes, bytes]]:
    headers = list(existing)
    present = {name.lower() for name, _ in headers}
    for name, value in _defaults(scope):
        if name in present:
            continue
        if name == b"x-frame-options" and b"content-security-policy" in present:
            # A route with its own policy decides framing through frame-ancestors.
            continue
        headers.append((name, value))
    return headers


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP response; answers 500 on unhandled errors."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = _merged(message.get("headers", []), scope)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), _log_path(scope))
            if started:
                raise
            await send_with_headers(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [(b"content-type", b"text/html; charset=utf-8")],
                }
            )
            await send({"type": "http.response.body", "body": _ERROR_PAGE})


def _log_path(scope: Scope) -> str:
    """The path for logs, with requesters' status tokens cut out (they open a ticket)."""
    path = str(scope.get("path", ""))
    if path.startswith("/status/"):
        return "/status/…"
    return path[:200]
