"""`deskmail inject`: feed mail files through the whole pipeline, synchronously, in order.

Each file is stored exactly as SMTP intake would store it (source "inject"), then claimed and
processed at once by an in-process worker, so the outcome is known when the command returns.
The same bytes stored before are reported as a duplicate of the earlier mail.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deskmail.app import App
from deskmail.worker import Result, Worker
from intake.store import Envelope, store_raw
from models import InboundMessage, Outcome


@dataclass(frozen=True)
class InjectResult:
    """The outcome of one injected file (`deskmail inject --json` prints `as_json()`)."""

    file: str
    result: Result

    def as_json(self) -> dict[str, Any]:
        """The public JSON shape (README.md, Interfaces)."""
        result = self.result
        data: dict[str, Any] = {
            "file": self.file,
            "outcome": str(result.outcome) if result.outcome else "failed",
            "ticket": result.ticket,
            "reason": result.reason,
        }
        bounce = result.details.get("bounce")
        if result.outcome is Outcome.BOUNCE and isinstance(bounce, dict):
            data["bounce"] = {
                "recipients": bounce.get("recipients", []),
                "permanent": bounce.get("permanent", False),
                "original_message_id": bounce.get("original_message_id"),
            }
        if result.error:
            data["error"] = result.error
        return data


def inject_bytes(app: App, worker: Worker, raw: bytes, *, mail_from: str = "") -> Result:
    """Store one mail and run it through the pipeline now."""
    with app.sessions() as session, session.begin():
        stored = store_raw(
            session,
            raw,
            Envelope(
                source="inject", mail_from=mail_from, rcpt_to=tuple(app.settings.addresses[:1])
            ),
        )
    if not stored.created:
        with app.read_sessions() as session:
            earlier = session.get(InboundMessage, stored.inbound_id)
            ticket = earlier.ticket_id if earlier else None
        return Result(
            stored.inbound_id,
            Outcome.DUPLICATE,
            ticket,
            f"same bytes as stored mail {stored.inbound_id}",
            {},
        )
    if not worker.claim_one(stored.inbound_id):
        return Result(stored.inbound_id, None, None, "claimed by another worker", {})
    return worker.process(stored.inbound_id)


def inject_files(app: App, worker: Worker, paths: list[Path]) -> list[InjectResult]:
    """Inject each file in the order given."""
    return [InjectResult(str(path), inject_bytes(app, worker, path.read_bytes())) for path in paths]
