"""The responder's errors: one family under Deskmail's base exception.

Raised where outgoing mail cannot be built or sent as asked; the sender catches delivery
failures itself and records them on the outbound row, so only configuration and programming
errors reach the caller.
"""

from __future__ import annotations

from models.errors import DeskmailError


class ResponderError(DeskmailError):
    """Outgoing mail could not be rendered, built or queued."""


class TemplateRenderError(ResponderError):
    """A template is broken (syntax, a missing variable, a sandbox violation)."""


class AddressError(ResponderError, ValueError):
    """An e-mail address we would have to write into a header is not usable."""


class RelayUrlError(ResponderError, ValueError):
    """`DESKMAIL_RELAY_URL` is not a relay URL we understand (the message says why)."""
