"""SMTP intake as a service: the durable store with group commit, and the server on a socket.

`intake.smtp_server` answers SMTP; this module gives it a store that commits to the database and
runs it on an event loop thread of its own, so `deskmail serve` can run it beside the workers
(DESIGN.md, One mail, step 1; Embedded default and scale-out).

The store is a group-commit writer: one thread takes every mail waiting, inserts them in one
transaction and commits once, then answers all of them. Concurrent clients share the commit's
fsync (SQLite `synchronous=FULL`, PostgreSQL's WAL flush), which is what limits intake
throughput; no mail gets its 250 before the commit that holds it returned.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import socket
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from deskmail.app import App
from deskmail.serve import ServiceError
from deskmail.settings import Settings
from deskmail.write_gate import urgent_writes
from intake.smtp_server import SmtpConfig, SmtpIntakeServer, StoreMail
from intake.store import Envelope, Stored, store_raw
from models.errors import DeskmailError

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_BATCH_MAILS = 100
MAX_BATCH_BYTES = 32 * 1024 * 1024


class StoreClosedError(DeskmailError):
    """The store is stopping and takes no more mail (the client gets 451 and retries)."""


def smtp_config(settings: Settings) -> SmtpConfig:
    """The SMTP intake's configuration from the settings."""
    limits = settings.limits
    return SmtpConfig(
        addresses=settings.address_set,
        hostname=socket.gethostname() or "localhost",
        max_message_bytes=limits.max_message_bytes,
        max_recipients=limits.max_recipients,
        max_commands=limits.smtp_max_commands,
        timeout_seconds=limits.smtp_data_timeout_seconds,
        store_timeout_seconds=limits.store_timeout_seconds,
    )


def listen_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket; port 0 picks a free port (read it back from `getsockname`)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family, backlog=128)
    except OSError as exc:
        raise ServiceError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.setblocking(False)
    return sock


def host_port_text(sock: socket.socket) -> str:
    """`host:port` a socket is bound to (IPv6 in brackets)."""
    host, port = sock.getsockname()[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class LoopThread:
    """An asyncio event loop running on a daemon thread of its own."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.error: BaseException | None = None
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
            # Sessions closed at shutdown leave their handler tasks cancelled; let them end.
            pending = asyncio.all_tasks(self.loop)
            for task in pending:
                task.cancel()
            if pending:
                self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        except BaseException as exc:  # reported through `failure()`
            self.error = exc
            log.exception("event loop thread %s failed", self._thread.name)
        finally:
            self.loop.close()

    def start(self) -> None:
        """Run the loop."""
        self._thread.start()

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run a coroutine on the loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self, timeout: float) -> bool:
        """Stop the loop and wait for the thread; True when it ended in time."""
        self._stopping = True
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def failure(self) -> BaseException | None:
        """Why the loop ended, if it ended without being asked to."""
        if self.error is not None:
            return self.error
        if self._thread.ident is not None and not self._thread.is_alive() and not self._stopping:
            return ServiceError(f"event loop thread {self._thread.name} ended")
        return None


@dataclass
class _Pending:
    raw: bytes
    envelope: Envelope
    future: Future[Stored] = field(default_factory=Future)


@dataclass
class StoreStats:
    """What the writer did (read by the benchmark)."""

    mails: int = 0
    batches: int = 0
    failures: int = 0
    commit_seconds: float = 0.0  # time spent in the batches' transactions, commit included


class GroupCommitStore:
    """The durable store of SMTP intake: one writer thread, one commit per batch of mails."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        max_batch: int = MAX_BATCH_MAILS,
        max_batch_bytes: int = MAX_BATCH_BYTES,
        name: str = "smtp-store",
    ) -> None:
        self.sessions = sessions
        self.max_batch = max_batch
        self.max_batch_bytes = max_batch_bytes
        self.stats = StoreStats()
        self.error: BaseException | None = None
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    # Interface ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer thread."""
        self._thread.start()

    def submit(self, raw: bytes, envelope: Envelope) -> Future[Stored]:
        """Queue one mail; the future resolves once its transaction has committed."""
        item = _Pending(raw, envelope)
        with self._lock:
            if self._closed:
                raise StoreClosedError("the SMTP store is stopping")
            self._queue.put(item)
        return item.future

    async def store(self, raw: bytes, envelope: Envelope) -> Stored:
        """The async store callable the SMTP server awaits (cancelling it drops a queued mail)."""
        return await asyncio.wrap_future(self.submit(raw, envelope))

    def stop(self, timeout: float) -> bool:
        """Take no more mail, store what is queued, end the thread; True when it ended in time."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def failure(self) -> BaseException | None:
        """Why the writer thread ended, if it ended without being asked to."""
        if self.error is not None:
            return self.error
        if self._thread.ident is not None and not self._thread.is_alive() and not self._closed:
            return ServiceError("the SMTP store's writer thread ended")
        return None

    # Writer thread ------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            finished = False
            while not finished:
                batch, finished = self._next_batch()
                # A client that gave up (store timeout, connection lost) cancelled its future:
                # skip it; its retry is stored then.
                live = [item for item in batch if item.future.set_running_or_notify_cancel()]
                if live:
                    self._write(live)
        except BaseException as exc:  # reported through `failure()`
            self.error = exc
            log.exception("the SMTP store's writer thread failed")
            self._fail_queued(exc)

    def _next_batch(self) -> tuple[list[_Pending], bool]:
        first = self._queue.get()
        if first is None:
            return [], True
        batch, size = [first], len(first.raw)
        while len(batch) < self.max_batch and size < self.max_batch_bytes:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                return batch, True
            batch.append(item)
            size += len(item.raw)
        return batch, False

    def _commit(self, batch: list[_Pending]) -> list[Stored]:
        began = time.perf_counter()
        try:
            with urgent_writes(), self.sessions() as session, session.begin():
                return [store_raw(session, item.raw, item.envelope) for item in batch]
        finally:
            self.stats.commit_seconds += time.perf_counter() - began

    def _write(self, batch: list[_Pending]) -> None:
        try:
            results = self._commit(batch)
        except OperationalError as exc:
            # The database is unavailable or locked: every mail of the batch fails alike.
            self._fail(batch, exc)
            return
        except Exception as exc:  # retried one by one below
            if len(batch) == 1:
                self._fail(batch, exc)
                return
            # One bad mail must not fail the others: store them one at a time.
            log.warning("batch of %d mails failed (%s); storing one by one", len(batch), exc)
            for item in batch:
                self._write_one(item)
            return
        self.stats.batches += 1
        self.stats.mails += len(batch)
        for item, stored in zip(batch, results, strict=True):
            item.future.set_result(stored)

    def _write_one(self, item: _Pending) -> None:
        try:
            (stored,) = self._commit([item])
        except Exception as exc:  # the client gets 451 and retries
            self._fail([item], exc)
            return
        self.stats.batches += 1
        self.stats.mails += 1
        item.future.set_result(stored)

    def _fail(self, batch: list[_Pending], exc: BaseException) -> None:
        self.stats.failures += len(batch)
        detail = type(exc).__name__
        if isinstance(exc, DBAPIError) and exc.orig is not None:
            detail = f"{detail}: {str(exc.orig).strip()[:200]}"
        log.warning("could not store %d mail(s): %s", len(batch), detail)
        for item in batch:
            item.future.set_exception(exc)

    def _fail_queued(self, exc: BaseException) -> None:
        with self._lock:
            self._closed = True
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not None and item.future.set_running_or_notify_cancel():
                item.future.set_exception(exc)


class SmtpServerThread:
    """An SMTP intake server on its own socket and event loop thread."""

    def __init__(self, store: StoreMail, config: SmtpConfig, host: str, port: int) -> None:
        self.server = SmtpIntakeServer(store, config)
        self.host = host
        self.port = port
        self.address = ""
        self._loop_thread = LoopThread("smtp-intake")
        self._started = False

    def start(self) -> str:
        """Bind and serve; returns the `host:port` it listens on."""
        sock = listen_socket(self.host, self.port)
        self.address = host_port_text(sock)
        self.port = sock.getsockname()[1]
        self._loop_thread.start()
        try:
            self._loop_thread.call(self.server.start(sock), timeout=10)
        except BaseException:
            sock.close()
            self._loop_thread.stop(5)
            raise
        self._started = True
        return self.address

    def stop(self, timeout: float) -> bool:
        """Graceful stop (see `SmtpIntakeServer.shutdown`); True when nothing was cut off."""
        if not self._started:
            return True
        self._started = False
        deadline = time.monotonic() + timeout
        finished = False
        try:
            finished = self._loop_thread.call(
                self.server.shutdown(max(timeout - 0.5, 0.1)), timeout=timeout
            )
        except Exception:  # the loop is stopped below in any case
            log.exception("SMTP intake did not shut down cleanly")
        self._loop_thread.stop(max(deadline - time.monotonic(), 1.0))
        return finished

    def failure(self) -> BaseException | None:
        """Why the server's loop ended, if it ended without being asked to."""
        return self._loop_thread.failure()


class SmtpService:
    """SMTP intake in a Deskmail process: the group-commit store and the server."""

    name = "smtp"

    def __init__(
        self, app: App, *, listen: str | None = None, max_batch: int = MAX_BATCH_MAILS
    ) -> None:
        self.app = app
        host, port = app.settings.smtp_host_port
        if listen is not None:
            from deskmail.settings import parse_host_port  # noqa: PLC0415 - rarely used

            host, port = parse_host_port(listen)
        # max_batch=1 is one commit per mail (the benchmark compares it with group commit).
        self.store = GroupCommitStore(app.sessions, max_batch=max_batch)
        self.thread = SmtpServerThread(self.store.store, smtp_config(app.settings), host, port)

    @property
    def address(self) -> str:
        """`host:port` the server listens on (after `start`)."""
        return self.thread.address

    @property
    def port(self) -> int:
        """The port the server listens on (after `start`)."""
        return self.thread.port

    def start(self) -> str:
        """Start the writer, then listen; returns where it listens."""
        # aiosmtpd logs every command at INFO and every DATA line at DEBUG: bodies must never
        # reach the logs, and our own log line per mail says what matters.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        self.store.start()
        try:
            address = self.thread.start()
        except BaseException:
            self.store.stop(5)
            raise
        return f"SMTP intake listening on {address}"

    def stop(self, timeout: float) -> None:
        """Stop accepting, finish the transactions in flight, then stop the writer."""
        deadline = time.monotonic() + timeout
        if not self.thread.stop(timeout):
            log.warning("SMTP intake stopped with transactions unfinished")
        if not self.store.stop(max(deadline - time.monotonic(), 1.0)):
            log.warning("the SMTP store's writer did not finish in time")

    def failure(self) -> BaseException | None:
        """A failed loop or writer thread."""
        return self.thread.failure() or self.store.failure()
