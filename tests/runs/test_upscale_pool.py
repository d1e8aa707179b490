"""``runs.find.UpscalePool``: one worker pool answers every round of upscale checks of a run
(a thread pool here: ``PoolService`` is the same over processes, tested in tests/processing/test_service.py)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from imgtwin.matching.resolution import UpscaleCheck
from imgtwin.options import ScanOptions
from imgtwin.runs.find import UpscalePool
from tests.helpers import shared_photo


def test_one_pool_answers_every_round_and_stops_with_the_run(tmp_path: Path) -> None:
    image = shared_photo(5, 600)
    image.save(tmp_path / "original.jpg", quality=92)
    image.resize((960, round(960 * image.height / image.width)), Image.Resampling.LANCZOS).save(
        tmp_path / "upscaled.jpg", quality=92)
    check = UpscaleCheck(str(tmp_path / "upscaled.jpg"), "U", ((str(tmp_path / "original.jpg"), "O"),))
    unreadable = UpscaleCheck(str(tmp_path / "missing.jpg"), "M", ((str(tmp_path / "original.jpg"), "O"),))
    with UpscalePool(ScanOptions(executor="thread", workers=4).processing_config()) as pool:
        assert pool([]) == [] and pool.service is None  # no checks, no pool started
        first = pool([check, unreadable])
        service = pool.service
        second = pool([check])  # the next round: the same pool
        assert pool.service is service is not None
        assert service.config.workers == 2  # as many as the first round's checks, not the 4 allowed
    assert sorted((v.large_hash, v.upscaled) for v in first) == [("M", False), ("U", True)]
    assert [v.ratio for v in first if v.large_hash == "M"] == [None]
    assert second == [v for v in first if v.large_hash == "U"]
    assert service._closed  # stopped with the run
