"""Server-rendered pages: the Jinja2 environment, `render()`, redirects and flash messages.

Templates live in `deskmail/web/templates/` and extend `base.html` (blocks: `title`,
`content`, `aside`, `page_styles`, `page_scripts`). Autoescaping is always on and undefined
variables are errors. `render()` gives every template the signed-in `user`, the session's
`csrf_token` (use the `csrf_field()` macro from `macros.html` in every form), the visible
navigation `nav`, pending `flashes`, and the helpers `path_for(route_name, **params)` (a
relative URL) and `static_url(file)` (a cache-busted URL under /static/).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from itsdangerous import BadSignature, URLSafeSerializer
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse

from deskmail.web.auth import Principal
from deskmail.web.context import WebContext, context_of
from deskmail.web.sessions import is_secure
from models import Event

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
FLASH_COOKIE = "deskmail_flash"
MAX_FLASH_CHARS = 300


def _format_dt(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _ago(value: datetime | None) -> str:
    if value is None:
        return ""
    seconds = (datetime.now(UTC) - value).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            amount = f"{int(seconds // size)} {unit}"
            return f"in {amount}" if future else f"{amount} ago"
    return "now"


def _filesize(value: int | None) -> str:
    size = float(value or 0)
    for unit in ("B", "KB", "MB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def _pct(value: Any) -> str:
    try:
        return f"{float(value) * 100:.0f} %"
    except (TypeError, ValueError):
        return ""


def _to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _with_query(params: Mapping[str, Any], /, **changes: Any) -> str:
    merged = {**params, **changes}
    return "?" + urlencode({k: v for k, v in merged.items() if v not in ("", None)})


_EVENT_LABELS = {
    "ticket_created": "Ticket created",
    "mail_in": "Mail received",
    "note_added": "Internal note added",
    "login": "Signed in",
    "login_locked": "Sign-in locked after failures",
    "user_created": "Account created",
    "user_updated": "Account changed",
    "password_changed": "Password changed",
    "api_token_created": "API token created",
    "api_token_revoked": "API token revoked",
    "category_created": "Category created",
    "category_updated": "Category changed",
    "inbound_retried": "Failed mail replayed",
}


def _event_text(event: Event) -> str:
    """A line for the timeline: known kinds in words, others by their name."""
    data = event.data or {}
    if event.kind == "status_changed":
        return f"Status {data.get('from', '?')} → {data.get('to', '?')}"
    if event.kind == "assigned":
        parts = []
        if "assignee" in data:
            target = (data["assignee"] or [None, None])[-1]
            parts.append(f"Assigned to {target}" if target else "Unassigned")
        if "group" in data:
            parts.append(f"group {(data['group'] or ['', ''])[-1] or '(none)'}")
        return ", ".join(parts) or "Assignment changed"
    if event.kind == "mail_in" and data.get("signal") not in (None, "new_ticket"):
        return f"Mail received (matched by {str(data['signal']).replace('_', ' ')})"
    label = _EVENT_LABELS.get(event.kind)
    if label is not None:
        return label
    return event.kind.replace("_", " ").capitalize()


@jinja2.pass_context
def _path_for(context: Mapping[str, Any], name: str, /, **params: Any) -> str:
    request: Request = context["request"]
    return str(request.app.url_path_for(name, **{k: str(v) for k, v in params.items()}))


def build_templates(extra_dirs: tuple[Path, ...] = ()) -> jinja2.Environment:
    """The template environment: autoescaped HTML, strict about undefined names."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([TEMPLATES, *extra_dirs]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        dt=_format_dt,
        ago=_ago,
        filesize=_filesize,
        pct=_pct,
        to_json=_to_json,
        event_text=_event_text,
    )
    env.globals["path_for"] = _path_for
    env.globals["with_query"] = _with_query
    return env


def static_versions() -> dict[str, str]:
    """A short content hash per static file (the `?v=` of its URL)."""
    return {
        path.relative_to(STATIC).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()[:10]
        for path in sorted(STATIC.rglob("*"))
        if path.is_file()
    }


def _flash_serializer(context: WebContext) -> URLSafeSerializer:
    return URLSafeSerializer(context.config.secret, salt="deskmail.flash")


def _pop_flashes(request: Request, context: WebContext) -> list[tuple[str, str]]:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return []
    try:
        data = _flash_serializer(context).loads(raw)
    except BadSignature:
        return []
    if not isinstance(data, list):
        return []
    return [
        (str(item[0]), str(item[1])[:MAX_FLASH_CHARS])
        for item in data
        if isinstance(item, list) and len(item) == 2
    ]


def redirect(
    request: Request, url: str, *, flash: str = "", level: str = "info", status_code: int = 303
) -> RedirectResponse:
    """Post/redirect/get: go to `url` (a local path), with an optional one-time message."""
    response = RedirectResponse(url, status_code=status_code)
    if flash:
        context = context_of(request)
        value = _flash_serializer(context).dumps([[level, flash[:MAX_FLASH_CHARS]]])
        response.set_cookie(
            FLASH_COOKIE,
            value,
            path="/",
            httponly=True,
            samesite="lax",
            secure=is_secure(request, context.config),
            max_age=60,
        )
    return response


def render(
    request: Request,
    template: str,
    values: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """A page from `template` with the common values (see the module's docstring)."""
    context = context_of(request)
    principal: Principal | None = getattr(request.state, "principal", None)
    flashes = _pop_flashes(request, context)
    versions = context.static_versions

    def static_url(name: str) -> str:
        return f"/static/{name}?v={versions.get(name, '0')}"

    path = request.url.path
    nav = []
    if principal is not None:
        for entry in sorted(context.nav, key=lambda e: (e.order, e.label)):
            if principal.can(entry.access):
                href = str(request.app.url_path_for(entry.route))
                prefix = entry.active_prefix or href
                nav.append({"label": entry.label, "href": href, "current": path.startswith(prefix)})
    page: dict[str, Any] = {
        "request": request,
        "user": principal,
        "csrf_token": principal.csrf_token if principal else "",
        "nav": nav,
        "flashes": flashes,
        "helpdesk_name": context.config.helpdesk_name,
        "static_url": static_url,
    }
    page.update(values or {})
    body = context.templates.get_template(template).render(page)
    response = HTMLResponse(body, status_code=status_code, headers=dict(headers or {}))
    if flashes:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response
