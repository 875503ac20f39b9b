"""The process runner: starts a process's services, waits for a signal, stops them gracefully.

`deskmail serve` runs every service in one process (the embedded default); `deskmail smtp` and
`deskmail worker` run one kind each, for scale-out against PostgreSQL (DESIGN.md, Embedded
default and scale-out). A service is anything with a name, `start()` and `stop(timeout)` (the
`Service` protocol): SMTP intake and the pipeline workers now; IMAP pollers, the outbox sender,
the scheduler and the web UI join the same list. SIGTERM or SIGINT stops every service at once,
each finishing what it has in flight within the grace time.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Protocol

from models.errors import DeskmailError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from deskmail.app import App
    from deskmail.worker import Worker

log = logging.getLogger(__name__)

DEFAULT_STOP_SECONDS = 30.0


class ServiceError(DeskmailError):
    """A service could not start or stopped working (the message says which and why)."""


class Service(Protocol):
    """One long-running part of a Deskmail process."""

    @property
    def name(self) -> str:
        """A short name for logs ("smtp", "worker", "web", ...)."""

    def start(self) -> str:
        """Start in the background; returns one line for the operator (where it listens)."""

    def stop(self, timeout: float) -> None:
        """Stop taking work, finish what is in flight within `timeout` seconds, release all."""

    def failure(self) -> BaseException | None:
        """Why the service stopped working on its own, or None while it is healthy."""


class WorkerService:
    """Pipeline workers: threads, each running `Worker.run_forever` until the stop event."""

    name = "worker"

    def __init__(
        self,
        app: App,
        threads: int = 1,
        build: Callable[[App, str], Worker] | None = None,
        warm_up: Callable[[], None] | None = None,
    ) -> None:
        if threads < 1:
            raise ServiceError("at least one worker thread is needed")
        self.app = app
        self.threads = threads
        self._build = build
        # Loads what the stages need (the sentence model: seconds) before the first claim, so
        # no worker holds the database's write lock while a model loads (on SQLite that lock
        # would make SMTP intake wait and answer 451).
        self._warm_up = warm_up
        self._warm_lock = threading.Lock()
        self._warmed = False
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._errors: list[BaseException] = []

    def start(self) -> str:
        """Build one worker per thread (each with its own pipeline) and start them."""
        build = self._build
        if build is None:
            from deskmail.wiring import build_worker  # noqa: PLC0415 - loads the pipeline's stages

            build = build_worker
        prefix = f"{socket.gethostname()}:{os.getpid()}"
        workers = [build(self.app, f"{prefix}:w{i}") for i in range(self.threads)]
        for i, worker in enumerate(workers):
            thread = threading.Thread(
                target=self._run, args=(worker,), name=f"worker-{i}", daemon=True
            )
            self._threads.append(thread)
            thread.start()
        return f"{self.threads} pipeline worker thread(s)"

    def _run(self, worker: Worker) -> None:
        try:
            self._warm_up_once()
            worker.run_forever(self._stop)
        except BaseException as exc:  # reported through `failure()`
            log.exception("worker %s stopped", worker.name)
            self._errors.append(exc)

    def _warm_up_once(self) -> None:
        with self._warm_lock:  # the other threads wait: they would only load the same model
            if self._warmed or self._warm_up is None:
                return
            started = time.monotonic()
            self._warm_up()
            self._warmed = True
            log.info("worker ready after %.1f s of warm-up", time.monotonic() - started)

    def stop(self, timeout: float) -> None:
        """Let each worker finish the mail it is on, then end the threads."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0.0))
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            log.warning("worker threads still busy at exit: %s", ", ".join(alive))

    def failure(self) -> BaseException | None:
        """The error of a worker thread that died."""
        if self._errors:
            return self._errors[0]
        if not self._stop.is_set() and any(not t.is_alive() for t in self._threads):
            return ServiceError("a worker thread ended")
        return None


def stop_services(services: Sequence[Service], timeout: float) -> None:
    """Stop every service at once (each in a thread of its own), waiting at most `timeout`."""
    threads = [
        threading.Thread(target=_stop_one, args=(s, timeout), name=f"stop-{s.name}", daemon=True)
        for s in services
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout + 1.0
    for thread in threads:
        thread.join(max(deadline - time.monotonic(), 0.0))
    late = [t.name for t in threads if t.is_alive()]
    if late:
        log.warning("not stopped in time: %s", ", ".join(late))


def _stop_one(service: Service, timeout: float) -> None:
    try:
        service.stop(timeout)
    except Exception:  # the other services still stop
        log.exception("service %s did not stop cleanly", service.name)
    else:
        log.info("%s stopped", service.name)


def run_services(
    services: Sequence[Service],
    stop: threading.Event,
    *,
    announce: Callable[[str], None],
    stop_timeout: float = DEFAULT_STOP_SECONDS,
    poll_seconds: float = 0.5,
) -> int:
    """Start the services in order, run until `stop` is set or one fails, stop them all.

    Returns the exit status: 0 after a requested stop, 1 when a service failed. A service that
    cannot start raises (after the ones already started were stopped).
    """
    started: list[Service] = []
    status = 0
    try:
        for service in services:
            line = service.start()
            started.append(service)
            announce(f"{service.name}: {line}")
        announce("ready")
        while not stop.wait(poll_seconds):
            failed = [(s, s.failure()) for s in started]
            broken = [(s, e) for s, e in failed if e is not None]
            if broken:
                for service, error in broken:
                    log.error("service %s failed: %s", service.name, error)
                status = 1
                break
    finally:
        stop_services(started, stop_timeout)
    return status


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM and SIGINT set `stop` (instead of killing the process) while inside."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("%s received: stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def require_current_schema(engine: Engine) -> None:
    """Refuse to run against a database that `deskmail db upgrade` has not brought up to date."""
    from alembic.script import ScriptDirectory  # noqa: PLC0415 - only at process start

    from deskmail.db import alembic_config, current_revision  # noqa: PLC0415

    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    current = current_revision(engine)
    if current != head:
        raise ServiceError(
            f"the database schema is at {current or 'nothing'}, not {head}: "
            "run `deskmail db upgrade` first"
        )
