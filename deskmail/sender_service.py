"""The outbox sender as a service of `deskmail serve` and `deskmail sender`, and the wiring of
outgoing mail from the settings.

The relay comes from `DESKMAIL_RELAY_URL`; without one (the embedded default) mail goes to
the maildir `<data_dir>/outbox-maildir` and the service says so when it starts, so nobody
waits for mail that was never meant to leave the machine (DESIGN.md, One mail, step 4).
"""

from __future__ import annotations

import logging
import mailbox
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from deskmail.app import App
from deskmail.serve import ServiceError
from deskmail.settings import Settings
from deskmail.write_gate import urgent_writes
from responder.compose import Identity
from responder.errors import RelayUrlError
from responder.outbox import Outbox
from responder.relay import RelayConfig, parse_relay_url
from responder.rendering import RenderConfig, Renderer
from responder.sender import OutboxConfig, OutboxSender, sender_name
from responder.suppression import AutoReplyLimits
from responder.transport import MaildirTransport, SmtpTransport, Transport

log = logging.getLogger(__name__)

MAILDIR_NAME = "outbox-maildir"
TEMPLATES_NAME = "templates"


def relay_config(settings: Settings) -> RelayConfig | None:
    """The relay from the settings, or None for the maildir default; ServiceError when bad."""
    if not settings.relay_url.strip():
        return None
    try:
        return parse_relay_url(settings.relay_url)
    except RelayUrlError as exc:
        raise ServiceError(f"DESKMAIL_RELAY_URL: {exc}") from exc


def maildir_path(settings: Settings) -> Path:
    """Where mail goes when no relay is configured."""
    return settings.data_dir / MAILDIR_NAME


def outbox_config(settings: Settings) -> OutboxConfig:
    """The sender's queue settings."""
    outbox = settings.outbox
    return OutboxConfig(
        batch_size=outbox.batch_size,
        poll_seconds=outbox.poll_seconds,
        backoff_seconds=outbox.backoff_seconds,
        backoff_max_seconds=outbox.backoff_max_seconds,
        max_age=timedelta(hours=outbox.max_age_hours),
        claim_timeout=timedelta(seconds=outbox.claim_timeout_seconds),
    )


def auto_reply_limits(settings: Settings) -> AutoReplyLimits:
    """The caps on automatic mail."""
    caps = settings.auto_reply
    return AutoReplyLimits(
        per_recipient_short=caps.per_recipient_short,
        per_recipient_day=caps.per_recipient_day,
        per_ticket_short=caps.per_ticket_short,
        per_ticket_day=caps.per_ticket_day,
        short_window=timedelta(minutes=caps.short_window_minutes),
    )


def build_outbox(settings: Settings, *, limits: AutoReplyLimits | None = None) -> Outbox:
    """What `responder.outbox.enqueue` needs: renderer (with the data folder's templates),
    the help desk as a sender, and the caps on automatic mail."""
    renderer = Renderer(
        RenderConfig(override_dir=settings.data_dir / TEMPLATES_NAME, timezone=settings.timezone)
    )
    identity = Identity(
        name=settings.helpdesk_name,
        address=settings.addresses[0],
        message_id_domain=settings.message_id_domain,
    )
    return Outbox(
        renderer=renderer,
        identity=identity,
        limits=limits or auto_reply_limits(settings),
        helpdesk_addresses=settings.address_set,
    )


class SenderService:
    """Outbox sender threads, each with its own connection to the relay (or the maildir)."""

    name = "sender"

    def __init__(
        self,
        app: App,
        *,
        threads: int | None = None,
        config: OutboxConfig | None = None,
        transport_factory: Callable[[], Transport] | None = None,
    ) -> None:
        threads = app.settings.outbox.threads if threads is None else threads
        if threads < 1:
            raise ServiceError("at least one sender thread is needed")
        self.app = app
        self.threads = threads
        self.config = config or outbox_config(app.settings)
        self.relay = relay_config(app.settings)
        self.maildir = None if self.relay is not None else maildir_path(app.settings)
        self._factory = transport_factory or self._default_factory
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._errors: list[BaseException] = []

    def _default_factory(self) -> Transport:
        if self.relay is not None:
            return SmtpTransport(self.relay)
        assert self.maildir is not None
        return MaildirTransport(self.maildir)

    @property
    def destination(self) -> str:
        """Where outgoing mail goes, for the operator (never with a password)."""
        if self.relay is not None:
            return f"relay {self.relay.describe()}"
        return f"maildir {self.maildir} (no relay configured: DESKMAIL_RELAY_URL is empty)"

    def start(self) -> str:
        """Start the sender threads; returns where mail goes."""
        if self.relay is not None and self.relay.cleartext_auth:
            log.warning("the relay password is sent without TLS: add ?starttls=1 or use smtps://")
        if self.maildir is not None:
            self.maildir.parent.mkdir(parents=True, exist_ok=True)
            mailbox.Maildir(self.maildir, create=True)  # cur/new/tmp, for readers from the start
            log.warning("no relay configured: outgoing mail is written to %s", self.maildir)
        base = sender_name()
        for i in range(self.threads):
            sender = OutboxSender(
                self.app.sessions, self._factory(), self.config, name=f"{base}:s{i}"
            )
            thread = threading.Thread(
                target=self._run, args=(sender,), name=f"sender-{i}", daemon=True
            )
            self._threads.append(thread)
            thread.start()
        return f"{self.threads} outbox sender thread(s), mail goes to {self.destination}"

    def _run(self, sender: OutboxSender) -> None:
        try:
            with urgent_writes():  # a sent mail's row is marked at once (deskmail.write_gate)
                sender.run_forever(self._stop)
        except BaseException as exc:  # reported through `failure()`
            log.exception("sender %s stopped", sender.name)
            self._errors.append(exc)

    def stop(self, timeout: float) -> None:
        """Finish the mail in flight (bounded by the relay timeouts), put the rest back."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0.0))
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            log.warning("sender threads still busy at exit: %s", ", ".join(alive))

    def failure(self) -> BaseException | None:
        """The error of a sender thread that died."""
        if self._errors:
            return self._errors[0]
        if not self._stop.is_set() and any(not t.is_alive() for t in self._threads):
            return ServiceError("a sender thread ended")
        return None
