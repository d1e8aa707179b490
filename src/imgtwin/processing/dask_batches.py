"""How many items one Dask task carries, and what a batch that failed is split into (issue 26 part 4).

Dask's scheduler, client and worker spend about a millisecond of CPU on every
task, and the scheduler is one thread for the whole cluster: a 96 x 72 tile
decodes in ~1.4 ms, a 12-MP HEIC in ~560 ms. A fixed count per task is
therefore wrong at one end or the other (16 tiles a task spent more on
scheduling than on decoding; 16 HEICs hold a worker for 9 s, so the last
tasks of a scan leave the other workers idle). Batches are sized, as the
local pool's chunks are, by the seconds they take: the workers report how long
each batch ran, and the next batch holds about ``BATCH_SECONDS`` of work.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

#: Seconds of work per task. Dask advises tasks of 100 ms or more; 0.5 s keeps the scheduler's
#: share near 0.2 % while the tail of a scan (each worker finishing its last task) stays short.
BATCH_SECONDS = 0.5
#: Items per task before the first timings come back (a guess that costs little either way).
FIRST_BATCH = 4
#: Items per task at most, however quick they are: what one lost batch costs to redo.
MAX_BATCH = 1024
#: Weight of the newest batch in the moving average of seconds per item.
SMOOTHING = 0.2

T = TypeVar("T")


class BatchSizer:
    """Items per task: ``fixed`` when given, else sized to ``seconds`` of work from the workers' timings."""

    def __init__(self, fixed: int | None = None, *, seconds: float = BATCH_SECONDS, first: int = FIRST_BATCH,
                 largest: int = MAX_BATCH) -> None:
        if fixed is not None and fixed < 1:
            raise ValueError("batch_files must be >= 1")
        self.fixed = fixed
        self.seconds = seconds
        self.first = first
        self.largest = largest
        self.item_seconds: float | None = None

    def size(self) -> int:
        if self.fixed is not None:
            return self.fixed
        if self.item_seconds is None:
            return self.first
        return max(1, min(self.largest, int(self.seconds / max(self.item_seconds, 1e-6))))

    def observe(self, items: int, seconds: float) -> None:
        """A batch of ``items`` ran for ``seconds`` on its worker."""
        if items < 1 or seconds < 0:
            return
        each = seconds / items
        self.item_seconds = each if self.item_seconds is None else (1 - SMOOTHING) * self.item_seconds + SMOOTHING * each


def split_failed(items: Sequence[T]) -> list[list[T]]:
    """A batch that failed for good: each item again alone, so that one bad file fails only itself.

    A batch fails for good when its task raised or its workers died on every
    try (a decoder that crashes the process). Singles cost a scheduler round
    trip each, a second or so for a full batch, against the items that would
    otherwise be recorded as failed with the culprit.
    """
    return [[item] for item in items] if len(items) > 1 else []
