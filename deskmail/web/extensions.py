"""The list of modules that add pages, API endpoints, navigation entries and panels.

To add to the web UI, write a module `deskmail/web/routes_<area>.py` exporting `EXTENSION`
(see `deskmail.web.routing`) and add it here. The order is the order of route matching.
"""

from __future__ import annotations

from deskmail.web.routing import WebExtension


def default_extensions() -> tuple[WebExtension, ...]:
    """Every extension of a standard Deskmail web app."""
    from deskmail.web import (  # noqa: PLC0415 - importing the routes registers them
        routes_admin,
        routes_api,
        routes_auth,
        routes_dashboard,
        routes_kb,
        routes_status,
        routes_ticket_api,
        routes_tickets,
    )

    return (
        routes_auth.EXTENSION,
        routes_tickets.EXTENSION,
        routes_status.EXTENSION,
        routes_kb.EXTENSION,
        routes_admin.EXTENSION,
        routes_dashboard.EXTENSION,
        routes_api.EXTENSION,
        routes_ticket_api.EXTENSION,
    )
