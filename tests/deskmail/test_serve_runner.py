"""The process runner with stand-in services: start order, stop on the event, failures, signals."""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import cast

import pytest

from deskmail.app import App
from deskmail.serve import (
    ServiceError,
    WorkerService,
    run_services,
    stop_on_signals,
)
from deskmail.worker import Worker


@dataclass
class FakeService:
    name: str
    log: list[str]
    fail_start: bool = False
    broken: BaseException | None = None
    stopped_with: list[float] = field(default_factory=list)

    def start(self) -> str:
        if self.fail_start:
            raise ServiceError(f"{self.name} cannot start")
        self.log.append(f"start {self.name}")
        return f"{self.name} running"

    def stop(self, timeout: float) -> None:
        self.log.append(f"stop {self.name}")
        self.stopped_with.append(timeout)

    def failure(self) -> BaseException | None:
        return self.broken


def test_services_start_in_order_and_all_stop_when_asked() -> None:
    log: list[str] = []
    services = [FakeService("a", log), FakeService("b", log)]
    lines: list[str] = []
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    status = run_services(services, stop, announce=lines.append, stop_timeout=7, poll_seconds=0.05)
    assert status == 0
    assert lines == ["a: a running", "b: b running", "ready"]
    assert log[:2] == ["start a", "start b"]
    assert sorted(log[2:]) == ["stop a", "stop b"]
    assert all(s.stopped_with == [7] for s in services)


def test_a_failed_service_stops_everything_with_status_1() -> None:
    log: list[str] = []
    broken = FakeService("b", log)
    services = [FakeService("a", log), broken]
    threading.Timer(0.2, lambda: setattr(broken, "broken", RuntimeError("thread died"))).start()
    status = run_services(services, threading.Event(), announce=lambda _: None, poll_seconds=0.05)
    assert status == 1
    assert sorted(log[2:]) == ["stop a", "stop b"]


def test_a_service_that_cannot_start_stops_the_ones_started() -> None:
    log: list[str] = []
    services = [FakeService("a", log), FakeService("b", log, fail_start=True)]
    with pytest.raises(ServiceError, match="b cannot start"):
        run_services(services, threading.Event(), announce=lambda _: None)
    assert log == ["start a", "stop a"]


def test_sigterm_sets_the_stop_event() -> None:
    stop = threading.Event()
    before = signal.getsignal(signal.SIGTERM)
    with stop_on_signals(stop):
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.wait(5)
    assert signal.getsignal(signal.SIGTERM) is before


class _DyingWorker:
    name = "dying"

    def run_forever(self, stop: threading.Event) -> None:
        raise RuntimeError("database gone for good")


class _PatientWorker:
    name = "patient"

    def run_forever(self, stop: threading.Event) -> None:
        stop.wait()


def test_worker_service_reports_a_dead_thread_and_stops_the_others(sqlite_app: App) -> None:
    dying = WorkerService(sqlite_app, threads=1, build=lambda *_: cast(Worker, _DyingWorker()))
    dying.start()
    deadline = time.monotonic() + 5
    while dying.failure() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert isinstance(dying.failure(), RuntimeError)

    patient = WorkerService(sqlite_app, threads=2, build=lambda *_: cast(Worker, _PatientWorker()))
    assert patient.start() == "2 pipeline worker thread(s)"
    assert patient.failure() is None
    began = time.monotonic()
    patient.stop(5)
    assert time.monotonic() - began < 2
    assert patient.failure() is None


class _RecordingWorker:
    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log

    def run_forever(self, stop: threading.Event) -> None:
        self.log.append(f"claim {self.name}")
        stop.wait()


def test_worker_threads_claim_nothing_before_the_warm_up_has_run_once(sqlite_app: App) -> None:
    events: list[str] = []

    def warm_up() -> None:
        time.sleep(0.2)  # the model loading: the other thread must wait, not claim
        events.append("warm up")

    service = WorkerService(
        sqlite_app,
        threads=2,
        build=lambda _app, name: cast(Worker, _RecordingWorker(name, events)),
        warm_up=warm_up,
    )
    service.start()
    deadline = time.monotonic() + 5
    while len(events) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    service.stop(5)
    assert len(events) == 3
    assert events[0] == "warm up"
    assert all(event.startswith("claim ") for event in events[1:])
