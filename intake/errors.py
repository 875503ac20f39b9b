"""Errors of the intake package.

`MailQuarantined` is the one outcome of the MIME parsing stage other than a parsed mail: the
pipeline catches it, keeps the raw mail aside with `reason` and does not retry (retrying cannot
make a mail smaller or less deep). Anything else raised from parsing would be a bug.
"""

from enum import StrEnum

from models.errors import DeskmailError


class IntakeError(DeskmailError):
    """Base of the errors raised on purpose by the intake stages."""


class QuarantineReason(StrEnum):
    """Machine-readable reason why a mail was set aside instead of parsed."""

    TOO_LARGE = "too_large"
    HEADER_TOO_LARGE = "header_too_large"
    MIME_TOO_DEEP = "mime_too_deep"
    TOO_MANY_PARTS = "too_many_parts"
    TOO_MANY_ADDRESSES = "too_many_addresses"
    PARSE_TIMEOUT = "parse_timeout"
    UNPARSEABLE = "unparseable"


class MailQuarantined(IntakeError):  # noqa: N818 - an outcome, named for what happened
    """The mail broke a limit or could not be parsed; it is kept aside, not processed.

    `reason` is short and stable (for metrics, the UI filter and tests); `text` says what
    exactly was exceeded, for the agent who looks at the quarantine. Neither contains mail text.
    """

    def __init__(self, reason: QuarantineReason, text: str) -> None:
        super().__init__(f"{reason.value}: {text}")
        self.reason = reason
        self.text = text
