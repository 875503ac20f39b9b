"""The parse-time budget of the MIME parsing stage, checked cooperatively.

Parsing code calls `Deadline.check` between units of work (a chunk fed to the parser, a MIME
part, before an HTML conversion), so a mail that would take too long is quarantined at the
next check instead of running on (docs/decisions/0011).
"""

import time
from dataclasses import dataclass

from intake.errors import MailQuarantined, QuarantineReason


@dataclass(frozen=True)
class Deadline:
    """A point on the monotonic clock after which parsing gives up."""

    expires_at: float
    budget_seconds: float

    @classmethod
    def after(cls, seconds: float) -> "Deadline":
        return cls(time.monotonic() + seconds, seconds)

    def expired(self) -> bool:
        return time.monotonic() > self.expires_at

    def check(self, stage: str) -> None:
        """Raise `MailQuarantined(parse_timeout)` once the budget is spent."""
        if self.expired():
            raise MailQuarantined(
                QuarantineReason.PARSE_TIMEOUT,
                f"parsing took longer than {self.budget_seconds:g} s (at {stage})",
            )
