"""A pool kept up for items that come one at a time: right answers, per-item time limit and crashes, clean close."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from imgtwin.config import ProcessingConfig
from imgtwin.processing.service import PoolService, ServiceStopped
from imgtwin.records import FileError


@dataclass(frozen=True)
class NapTask:
    """Item ``(value, seconds, crash)``: sleeps, then answers ``value * 2``, or kills its worker process.

    With ``marks`` (a folder), each item leaves ``<value>.<pid>`` there as it starts: the tests wait on
    what the workers did, never on a guess of how long they take.
    """

    marks: str = ""

    def mark(self, value: int) -> None:
        if self.marks:
            Path(self.marks, f"{value}.{os.getpid()}").touch()

    def run(self, item: tuple[int, float, bool]) -> tuple[str, int, str]:
        value, seconds, crash = item
        self.mark(value)
        time.sleep(seconds)
        if crash:
            os._exit(3)  # a decoder that takes its process down
        return "done", value * 2, str(os.getpid())

    def failed(self, item: tuple[int, float, bool], error: FileError) -> tuple[str, int, str]:
        return "failed", item[0], error.reason.value


@dataclass(frozen=True)
class MeetingTask(NapTask):
    """Items 0 and 1 each wait (30 s at most) until both have started: only two workers at once can end them."""

    def run(self, item: tuple[int, float, bool]) -> tuple[str, int, str]:
        if item[0] < 2:
            self.mark(item[0])
            deadline = time.monotonic() + 30
            while len(starters(Path(self.marks), {0, 1})) < 2 and time.monotonic() < deadline:
                time.sleep(0.005)
        return super().run(item)


def starters(marks: Path, values: set[int]) -> set[str]:
    """The worker processes (pids) that started any of ``values``."""
    return {name.split(".")[1] for name in os.listdir(marks) if int(name.split(".")[0]) in values}


def wait_for_start(marks: Path, value: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not starters(marks, {value}):
        assert time.monotonic() < deadline, f"item {value} never started"
        time.sleep(0.005)


def service(workers: int, timeout: float = 30.0, task: NapTask | None = None
            ) -> PoolService[tuple[int, float, bool], tuple[str, int, str]]:
    return PoolService(task or NapTask(), ProcessingConfig(max_concurrent_tasks=workers, file_timeout=timeout))


@pytest.mark.slow
def test_each_answer_reaches_the_future_of_its_own_item(tmp_path: Path) -> None:
    pool = service(2, task=MeetingTask(str(tmp_path)))
    try:
        futures = {v: pool.submit((v, 0.001 * (v % 5), False)) for v in range(60)}
        answers = {v: f.result(timeout=60) for v, f in futures.items()}
    finally:
        pool.close()
    assert all(answers[v][:2] == ("done", 2 * v) for v in range(60)), answers
    both = starters(tmp_path, {0, 1})
    assert len(both) == 2  # items 0 and 1 ran side by side: two workers
    assert {a[2] for a in answers.values()} == both == starters(tmp_path, set(range(60)))  # the same two throughout


@pytest.mark.slow
def test_a_spinning_item_times_out_alone_and_the_clock_starts_when_a_worker_takes_it() -> None:
    pool = service(1, timeout=1.0)
    try:
        spinning = pool.submit((1, 3600.0, False))  # answered within 20 s: it was stopped, whatever the load
        queued = [pool.submit((v, 0.4, False)) for v in range(2, 6)]  # 1.6 s of work behind a 1 s limit
        assert spinning.result(timeout=20) == ("failed", 1, "timeout")
        assert [f.result(timeout=20)[:2] for f in queued] == [("done", 2 * v) for v in range(2, 6)]
    finally:
        pool.close()


def test_a_crash_costs_its_own_item_and_the_next_worker_goes_on() -> None:
    pool = service(1)
    try:
        first = pool.submit((1, 0.0, False)).result(timeout=60)
        crashed = pool.submit((2, 0.0, True))
        after = pool.submit((3, 0.0, False))
        assert crashed.result(timeout=60) == ("failed", 2, "worker_crashed")
        later = after.result(timeout=60)
    finally:
        pool.close()
    assert later[:2] == ("done", 6) and later[2] != first[2]  # a new process


@pytest.mark.slow
def test_close_fails_what_waits_kills_the_workers_and_refuses_more(tmp_path: Path) -> None:
    pool = service(1, task=NapTask(str(tmp_path)))
    answered = pool.submit((1, 0.0, False)).result(timeout=60)
    worker = int(answered[2])
    waiting = [pool.submit((v, 20.0, False)) for v in range(2, 5)]
    wait_for_start(tmp_path, 2)  # the first of them is on the worker
    started = time.monotonic()
    pool.close()
    assert time.monotonic() - started < 15
    for future in waiting:
        with pytest.raises(ServiceStopped):
            future.result(timeout=10)
    with pytest.raises(ProcessLookupError):
        os.kill(worker, 0)
    with pytest.raises(ServiceStopped):
        pool.submit((9, 0.0, False))


def test_closing_an_unused_service_starts_nothing() -> None:
    pool = service(4)
    pool.close()
    assert pool._work is None  # no pool was started
    with pytest.raises(ServiceStopped):
        pool.submit((1, 0.0, False))
