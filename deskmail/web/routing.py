"""How pages and API endpoints are added: areas of routes, navigation entries, ticket panels.

A module that adds to the UI defines an `Area` (a group of routes under one prefix), registers
its endpoints with `area.get(...)`, `area.post(...)`, ... — each *must* name its `Access`
level, and the matching guard is attached for it — and exports a `WebExtension` listing its
areas, its navigation entries and the panels it shows on the ticket page. `deskmail.web.app`
collects the extensions listed in `deskmail.web.extensions`.

    area = Area(name="kb", prefix="/kb")

    @area.get("", access=Access.EDITOR, name="kb_list")
    def kb_list(request: Request, ctx: Ctx, user: CurrentUser) -> HTMLResponse:
        return render(request, "kb_list.html", {...})

    EXTENSION = WebExtension(
        areas=(area,), nav=(NavEntry("Knowledge", "kb_list", Access.EDITOR, order=30),)
    )

A test walks every route of the app and fails for one without an access level.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from fastapi import APIRouter, Depends
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy.orm import Session
from starlette.routing import BaseRoute

from deskmail.web.auth import Access, Principal, RequesterView, guard
from models import Ticket

ACCESS_KEY = "x-deskmail-access"
F = TypeVar("F", bound=Callable[..., Any])


class Area:
    """Routes under one prefix; every route declares who may use it."""

    def __init__(self, *, name: str, prefix: str = "", api: bool = False) -> None:
        self.name = name
        self.api = api
        self.router = APIRouter(prefix=prefix, tags=[name] if api else [])

    def route(
        self,
        method: str,
        path: str,
        *,
        access: Access,
        name: str | None = None,
        **kwargs: Any,
    ) -> Callable[[F], F]:
        """Register an endpoint for `method` and `path`, guarded for `access`."""
        if not isinstance(access, Access):
            raise TypeError("every route needs an Access level")
        extra: dict[str, Any] = {ACCESS_KEY: access.value}
        if self.api and access not in (Access.PUBLIC, Access.REQUESTER):
            extra["security"] = [{"bearerAuth": []}, {"sessionCookie": []}]
        extra.update(kwargs.pop("openapi_extra", None) or {})
        include = kwargs.pop("include_in_schema", self.api)

        def register(endpoint: F) -> F:
            self.router.add_api_route(
                path,
                endpoint,
                methods=[method],
                name=name or endpoint.__name__,
                dependencies=[Depends(guard(access))],
                include_in_schema=include,
                openapi_extra=extra,
                **kwargs,
            )
            return endpoint

        return register

    def get(self, path: str, *, access: Access, **kwargs: Any) -> Callable[[F], F]:
        """A GET route."""
        return self.route("GET", path, access=access, **kwargs)

    def post(self, path: str, *, access: Access, **kwargs: Any) -> Callable[[F], F]:
        """A POST route."""
        return self.route("POST", path, access=access, **kwargs)

    def patch(self, path: str, *, access: Access, **kwargs: Any) -> Callable[[F], F]:
        """A PATCH route."""
        return self.route("PATCH", path, access=access, **kwargs)

    def put(self, path: str, *, access: Access, **kwargs: Any) -> Callable[[F], F]:
        """A PUT route."""
        return self.route("PUT", path, access=access, **kwargs)

    def delete(self, path: str, *, access: Access, **kwargs: Any) -> Callable[[F], F]:
        """A DELETE route."""
        return self.route("DELETE", path, access=access, **kwargs)


@dataclass(frozen=True)
class NavEntry:
    """A link in the top navigation, shown to those who may follow it."""

    label: str
    route: str  # route name (url_path_for), without path parameters
    access: Access
    order: int = 50
    # The link is marked current when the path starts with this (default: the route's path).
    active_prefix: str = ""


# Loads a panel's template context, or None to leave the panel out for this ticket.
PanelLoader = Callable[[Session, Ticket, Principal], Mapping[str, Any] | None]


@dataclass(frozen=True)
class TicketPanel:
    """A box on the ticket page filled by another part of Deskmail (suggestions, SLA, ...).

    `template` is rendered with the loader's mapping plus `ticket`, `user` and `csrf_token`;
    `column` puts it beside the conversation ("side") or under it ("main").
    """

    name: str
    template: str
    load: PanelLoader
    access: Access = Access.AGENT
    column: Literal["main", "side"] = "side"
    order: int = 50


# Loads a status-page panel's context for the requester, or None to leave it out.
StatusPanelLoader = Callable[[Session, Ticket, RequesterView], Mapping[str, Any] | None]


@dataclass(frozen=True)
class StatusPanel:
    """A box on the requesters' status page (suggested articles, "this solved it", ...).

    `template` is rendered with the loader's mapping plus `ticket` and `requester` (whose
    `token` builds the page's own URLs: forms post to `/status/<token>/...` routes registered
    with `Access.REQUESTER`). Show requesters nothing internal.
    """

    name: str
    template: str
    load: StatusPanelLoader
    order: int = 50


@dataclass(frozen=True)
class WebExtension:
    """What one module adds to the web app."""

    areas: Sequence[Area] = ()
    nav: Sequence[NavEntry] = ()
    ticket_panels: Sequence[TicketPanel] = field(default_factory=tuple)
    status_panels: Sequence[StatusPanel] = field(default_factory=tuple)
    # Folders with the extension's own templates (searched after deskmail/web/templates).
    template_dirs: Sequence[Path] = ()


def app_routes(routes: Sequence[BaseRoute]) -> Iterator[tuple[str, BaseRoute]]:
    """Every route of an app as (full path, route), through included routers."""
    for context in iter_route_contexts(routes):
        yield context.path or "", context.original_route


def route_access(route: BaseRoute) -> Access | None:
    """The access level a route was registered with (None: not registered through an Area)."""
    if not isinstance(route, APIRoute):
        return None
    value = (route.openapi_extra or {}).get(ACCESS_KEY)
    return Access(value) if value is not None else None
