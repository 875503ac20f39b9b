"""Who writes first on SQLite: short, latency-bound writers go before the pipeline worker.

Where it sits: SQLite has one writer at a time, and `deskmail serve` runs every service in one
process against it. The pipeline worker's transactions are long (a mail is parsed, classified,
matched and answered in one transaction, docs/decisions/0004), SMTP intake's are short but the
sender is waiting for its `250`, and the outbox sender's are short and hold up the answers.
SQLite's busy handler is not fair: a writer polling for the lock with growing sleeps rarely
wins against a worker that begins its next transaction the moment it commits, so in a burst
intake answered 451 and acknowledgements waited (docs/decisions/0074).

The gate is cooperative and in-process: threads that do urgent writes run them inside
`urgent_writes()`; while such a thread waits for the lock at `BEGIN IMMEDIATE`
(`deskmail.db`), the worker does not start its next mail (`wait_for_urgent_writers`, bounded,
so a steady stream of intake cannot stop the worker for good). PostgreSQL locks rows, not the
database, and needs none of this; the gate is only consulted for SQLite engines.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_local = threading.local()
_condition = threading.Condition()
_waiting = 0


@contextmanager
def urgent_writes() -> Iterator[None]:
    """Mark the writes of this thread, inside the block, as ones the worker lets go first."""
    previous = getattr(_local, "urgent", False)
    _local.urgent = True
    try:
        yield
    finally:
        _local.urgent = previous


def is_urgent_thread() -> bool:
    """Whether the current thread is inside `urgent_writes()`."""
    return bool(getattr(_local, "urgent", False))


@contextmanager
def waiting_for_lock() -> Iterator[None]:
    """Around an urgent writer's wait for the database lock (no-op for other threads)."""
    global _waiting  # noqa: PLW0603 - one gate per process, like the database lock it guards
    if not is_urgent_thread():
        yield
        return
    with _condition:
        _waiting += 1
    try:
        yield
    finally:
        with _condition:
            _waiting -= 1
            _condition.notify_all()


def urgent_writers_waiting() -> int:
    """How many urgent writers wait for the lock now."""
    with _condition:
        return _waiting


def wait_for_urgent_writers(max_seconds: float) -> bool:
    """Block until no urgent writer waits for the lock, at most `max_seconds`; True if none."""
    with _condition:
        return _condition.wait_for(lambda: _waiting == 0, timeout=max_seconds)
