"""The app factory: one FastAPI application serving the web UI, the JSON API and static files.

`create_app(app)` wires the registered extensions (`deskmail.web.extensions`) into a FastAPI
app with the error handlers, a request-size limit and the middleware: the security headers
and, when proxies are configured as trusted, their X-Forwarded-For/-Proto. `deskmail web` and
`deskmail serve` run it with uvicorn (`deskmail.web_service`); tests drive it directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.staticfiles import StaticFiles
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from deskmail.app import App
from deskmail.web.config import WebConfig, web_config
from deskmail.web.context import WebContext
from deskmail.web.errors import install_error_handlers
from deskmail.web.extensions import default_extensions
from deskmail.web.rendering import STATIC, build_templates, static_versions
from deskmail.web.routing import WebExtension
from deskmail.web.security import SecurityHeadersMiddleware
from deskmail.web.sessions import COOKIE

MAX_BODY_BYTES = 2 * 1024 * 1024
API_DESCRIPTION = (
    "Deskmail's JSON API. Authenticate with `Authorization: Bearer <token>` (create one with "
    "`deskmail users token EMAIL` or on the Accounts page), or with the web UI's session "
    "cookie plus the `X-CSRF-Token` header for changes. `x-deskmail-access` on each "
    "operation names the role it needs (agent < editor < admin)."
)


def _version() -> str:
    try:
        return version("deskmail")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0"


class DeskmailWeb(FastAPI):
    """FastAPI with Deskmail's OpenAPI document (security schemes added)."""

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI document of the JSON API (routes of the UI's pages are left out)."""
        if self.openapi_schema is None:
            schema = get_openapi(
                title=self.title,
                version=self.version,
                description=self.description,
                routes=self.routes,
            )
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": COOKIE},
            }
            self.openapi_schema = schema
        return self.openapi_schema


def create_app(
    app: App,
    config: WebConfig | None = None,
    *,
    extensions: Sequence[WebExtension] | None = None,
) -> DeskmailWeb:
    """The web application of `app` (settings and database)."""
    config = config or web_config(app.settings)
    chosen = tuple(extensions if extensions is not None else default_extensions())
    web = DeskmailWeb(
        title="Deskmail",
        version=_version(),
        description=API_DESCRIPTION,
        openapi_url=None,  # served by a guarded route of its own (routes_api)
        docs_url=None,  # the interactive docs would load scripts from a CDN
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        # Bodies are read before a route's guard runs: without a limit anyone could make the
        # server buffer gigabytes. No form or API call of Deskmail needs more.
        max_body_size=MAX_BODY_BYTES,
    )
    web.state.web = WebContext(
        app=app,
        config=config,
        templates=build_templates(tuple(d for ext in chosen for d in ext.template_dirs)),
        nav=tuple(entry for ext in chosen for entry in ext.nav),
        ticket_panels=tuple(panel for ext in chosen for panel in ext.ticket_panels),
        status_panels=tuple(panel for ext in chosen for panel in ext.status_panels),
        static_versions=static_versions(),
    )
    for extension in chosen:
        for area in extension.areas:
            web.include_router(area.router)
    web.mount("/static", StaticFiles(directory=STATIC), name="static")
    install_error_handlers(web)
    # Added last = runs first: proxy headers, then the security headers.
    web.add_middleware(SecurityHeadersMiddleware)
    if config.trusted_proxies:
        web.add_middleware(
            ProxyHeadersMiddleware,
            trusted_hosts=list(config.trusted_proxies),
        )
    return web
