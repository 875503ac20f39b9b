"""SMTP intake and the sender write before the worker's next mail on SQLite (write_gate)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import text

from deskmail.db import make_engine
from deskmail.write_gate import (
    urgent_writers_waiting,
    urgent_writes,
    wait_for_urgent_writers,
)


def test_an_urgent_writer_gets_the_lock_after_at_most_the_transactions_already_begun(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'gate.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (who TEXT)"))
    stop = threading.Event()
    worker_transactions: list[float] = []

    def long_worker() -> None:
        # Back-to-back long transactions, like the pipeline in a burst; between them the
        # worker asks the gate, as Worker.run_once does.
        while not stop.is_set():
            wait_for_urgent_writers(5.0)
            with engine.begin() as connection:
                connection.execute(text("INSERT INTO t VALUES ('worker')"))
                time.sleep(0.15)
            worker_transactions.append(time.monotonic())

    thread = threading.Thread(target=long_worker, daemon=True)
    thread.start()
    try:
        time.sleep(0.4)  # the worker is in its stride
        asked = time.monotonic()
        with urgent_writes(), engine.begin() as connection:
            connection.execute(text("INSERT INTO t VALUES ('intake')"))
        stored = time.monotonic()
    finally:
        stop.set()
        thread.join(5)
    # The one transaction in progress when intake asked, and at most one that had passed the
    # gate a moment before: never the stream of them SQLite's busy handler would allow.
    finished_meanwhile = [t for t in worker_transactions if asked < t < stored]
    assert len(finished_meanwhile) <= 2
    assert urgent_writers_waiting() == 0
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM t WHERE who='intake'")).scalar() == 1
    engine.dispose()


def test_the_worker_waits_only_while_an_urgent_writer_waits_and_only_so_long() -> None:
    assert wait_for_urgent_writers(0.0)  # nobody waiting: go at once
    # A thread outside urgent_writes() never registers.
    from deskmail.write_gate import waiting_for_lock  # noqa: PLC0415

    with waiting_for_lock():
        assert urgent_writers_waiting() == 0
    with urgent_writes(), waiting_for_lock():
        assert urgent_writers_waiting() == 1
        began = time.monotonic()
        assert not wait_for_urgent_writers(0.05)  # bounded: a stream of intake cannot starve it
        assert time.monotonic() - began < 1.0
    assert urgent_writers_waiting() == 0
