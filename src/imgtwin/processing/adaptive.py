"""Adaptive concurrency for ``--workers auto``: hill climbing on files per second.

The best number of workers depends on things unknown before the scan: the
mix of formats (CPU-bound JPEG decodes vs. I/O-bound reads from a NAS), the
disk, and what else the machine is doing. So the pool keeps ``maximum``
workers started and feeds only ``active`` of them; this controller measures
throughput over fixed windows and moves ``active`` one step at a time:

- after a move, if throughput rose by more than ``hysteresis``, keep going;
  if it fell, go back and hold; if it stayed flat after adding a worker, go
  back (that worker bought nothing) and hold; flat after removing one: hold
  (same speed with fewer workers);
- while holding, a drop in throughput (slower files, a busy machine) steps
  down, a rise (the work got lighter) probes up, and every ``probe_after``
  windows it probes up once, to notice headroom;
- never up while the 1-minute load average per core exceeds
  ``max_load_per_core`` (the machine is already saturated).

Clock, load average and completions are injected, so tests drive it without
sleeping.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from imgtwin.config import cpu_count


def _load_average() -> float:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # not on this platform
        return 0.0


@dataclass(frozen=True, slots=True)
class Change:
    """One decision that changed the worker count, with what it was based on."""

    before: int
    after: int
    rate: float  # files/s in the window just measured
    load: float  # 1-minute load average per core
    why: str

    def __str__(self) -> str:
        return (f"adaptive workers: {self.before} -> {self.after} ({self.why}; {self.rate:.1f} files/s, "
                f"load {self.load:.2f} per core)")


class AdaptiveConcurrency:
    """Decides how many workers should be fed; see the module docstring."""

    def __init__(
        self,
        minimum: int = 1,
        maximum: int | None = None,
        initial: int | None = None,
        *,
        interval: float = 2.0,
        hysteresis: float = 0.1,
        probe_after: int = 5,
        max_load_per_core: float = 1.5,
        cores: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        load_average: Callable[[], float] = _load_average,
    ) -> None:
        self.cores = cores or cpu_count()
        self.minimum = max(1, minimum)
        self.maximum = max(self.minimum, maximum if maximum is not None else 2 * self.cores)
        start = initial if initial is not None else self.cores
        self.active = min(self.maximum, max(self.minimum, start))
        self.interval = interval
        self.hysteresis = hysteresis
        self.probe_after = probe_after
        self.max_load_per_core = max_load_per_core
        self.clock = clock
        self.load_average = load_average
        self.changes: list[Change] = []
        self._window_start = clock()
        self._done = 0
        self._prev_rate: float | None = None
        self._last_move = 0  # +1 / -1: the previous window followed a move; 0: holding
        self._held = 0

    def record(self, files: int = 1) -> None:
        """Count finished files (called by the pool for every result)."""
        self._done += files

    def update(self) -> Change | None:
        """At the end of each window, maybe change ``active``; the change, or None."""
        now = self.clock()
        elapsed = now - self._window_start
        if elapsed < self.interval:
            return None
        rate = self._done / elapsed
        self._window_start, self._done = now, 0
        load = self.load_average() / self.cores
        prev, self._prev_rate = self._prev_rate, rate
        if prev is None:  # first window, or first after going back: a baseline only
            return self._move(+1, rate, load, "exploring") if self._last_move == 0 and not self.changes else None
        better = rate > prev * (1 + self.hysteresis)
        worse = rate < prev * (1 - self.hysteresis)
        last, self._last_move = self._last_move, 0
        if last:
            if better:
                return self._move(last, rate, load, "throughput rose")
            if worse or last > 0:
                self._prev_rate = None  # measure the restored count afresh before judging it
                return self._move(-last, rate, load, "throughput fell" if worse else "no gain from the last worker")
            self._hold()
            return None
        if worse:
            return self._move(-1, rate, load, "throughput dropped")
        if better:
            return self._move(+1, rate, load, "throughput grew")
        self._held += 1
        if self._held >= self.probe_after:
            return self._move(+1, rate, load, "probing")
        return None

    def _hold(self) -> None:
        self._held = 0

    def _move(self, step: int, rate: float, load: float, why: str) -> Change | None:
        target = min(self.maximum, max(self.minimum, self.active + step))
        if step > 0 and load > self.max_load_per_core:
            target = self.active  # the machine is saturated: adding workers would only add contention
        self._held = 0
        if target == self.active:
            self._last_move = 0
            return None
        change = Change(self.active, target, rate, load, why)
        self.active = target
        self._last_move = step if self._prev_rate is not None else 0
        self.changes.append(change)
        return change
