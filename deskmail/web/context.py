"""What every route of the web app can reach: the application, the web configuration, the
template environment and the registered navigation entries and ticket panels.

One `WebContext` is built by `create_app` and kept on the ASGI app's state (no module
globals); routes get it with the `Ctx` dependency.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import jinja2
from fastapi import Depends
from starlette.requests import Request

from deskmail.app import App
from deskmail.web.config import WebConfig

if TYPE_CHECKING:
    from deskmail.web.routing import NavEntry, StatusPanel, TicketPanel


@dataclass(frozen=True)
class WebContext:
    """The web app's fixed collaborators."""

    app: App
    config: WebConfig
    templates: jinja2.Environment
    nav: tuple[NavEntry, ...]
    ticket_panels: tuple[TicketPanel, ...]
    status_panels: tuple[StatusPanel, ...]
    # Static file name -> short content hash, for cache-busting URLs.
    static_versions: Mapping[str, str]


def context_of(request: Request) -> WebContext:
    """The `WebContext` of the app serving `request`."""
    context = request.app.state.web
    assert isinstance(context, WebContext)
    return context


def web_context(request: Request) -> WebContext:
    """Dependency: the `WebContext`."""
    return context_of(request)


Ctx = Annotated[WebContext, Depends(web_context)]
