"""The outgoing-mail wiring of the web app: the `TicketMailer` the agents' mail use cases need
(`deskmail.agent_mail`).

Built once per web app on first use (the renderer reads the data folder's template overrides
itself, so nothing here goes stale) and kept on the ASGI app's state, like the `WebContext`.
"""

from __future__ import annotations

import threading

from starlette.requests import Request

from deskmail.ticket_mail import TicketMailer
from deskmail.web.context import context_of

_LOCK = threading.Lock()


def ticket_mailer(request: Request) -> TicketMailer:
    """The app's `TicketMailer`, built on first use."""
    state = request.app.state
    with _LOCK:
        found = getattr(state, "ticket_mailer", None)
        if not isinstance(found, TicketMailer):
            found = TicketMailer.build(context_of(request).app)
            state.ticket_mailer = found
        return found
