"""Dask batches are sized by the seconds their items take, and a failed batch is retried item by item."""

from __future__ import annotations

import pytest

from imgtwin.processing.dask_batches import FIRST_BATCH, MAX_BATCH, BatchSizer, split_failed


def test_tiny_files_get_large_batches_and_slow_ones_single() -> None:
    tiles = BatchSizer(seconds=0.5)
    assert tiles.size() == FIRST_BATCH
    tiles.observe(4, 4 * 0.0014)  # 96 x 72 tiles: 1.4 ms each
    assert tiles.size() == int(0.5 / 0.0014)
    heic = BatchSizer(seconds=0.5)
    heic.observe(4, 4 * 0.56)  # 12-MP HEICs: 560 ms each
    assert heic.size() == 1


def test_the_size_follows_the_moving_average_and_stays_in_bounds() -> None:
    sizer = BatchSizer(seconds=0.5)
    sizer.observe(10, 0.0)  # instant items: capped
    assert sizer.size() == MAX_BATCH
    for _ in range(40):
        sizer.observe(10, 10 * 0.01)
    assert sizer.size() == pytest.approx(50, abs=1)
    sizer.observe(0, 1.0)  # nothing learned from an empty batch
    assert sizer.size() == pytest.approx(50, abs=1)


def test_a_fixed_size_is_kept_and_checked() -> None:
    fixed = BatchSizer(7)
    fixed.observe(7, 100.0)
    assert fixed.size() == 7
    with pytest.raises(ValueError):
        BatchSizer(0)


def test_a_failed_batch_splits_into_singles_and_a_single_stays_failed() -> None:
    assert split_failed(["a", "b", "c"]) == [["a"], ["b"], ["c"]]
    assert split_failed(["a"]) == []
