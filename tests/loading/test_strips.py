"""Rows kept for the keeper's upscale checks (``loading.strips``): the same pixels as decoding again."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from imgtwin.loading.pillow_loader import StandardImageLoader
from imgtwin.loading.strips import StripStore
from imgtwin.matching.resolution import STRIP, top_rows
from tests.helpers import camera_jpeg, phone_heic, synthetic_photo


@pytest.fixture
def heic(tmp_path: Path) -> Path:
    pytest.importorskip("pillow_heif")
    return phone_heic(tmp_path / "IMG_2000.HEIC", synthetic_photo(20, (600, 452)), thumbnail=None)


def test_kept_rows_are_the_rows_a_check_would_decode(heic: Path, tmp_path: Path) -> None:
    store = StripStore(str(tmp_path / "rows"))
    os.mkdir(store.folder)
    StandardImageLoader(strips=store).load(str(heic))
    assert store.top(str(heic)) is not None
    for reduce in (1, 2, 4):
        kept, kept_height = top_rows(str(heic), STRIP, reduce, store)
        decoded, height = top_rows(str(heic), STRIP, reduce)
        assert kept_height == height
        assert np.array_equal(np.asarray(kept), np.asarray(decoded)), reduce


def test_only_costly_formats_within_the_budget_and_only_the_same_file(heic: Path, tmp_path: Path) -> None:
    folder = tmp_path / "rows"
    folder.mkdir()
    jpeg = camera_jpeg(tmp_path / "IMG_2001.JPG", synthetic_photo(21, (600, 450)))
    StandardImageLoader(strips=StripStore(str(folder))).load(str(jpeg))
    assert list(folder.iterdir()) == []  # a JPEG's top rows decode alone: nothing to keep
    StandardImageLoader(strips=StripStore(str(folder), budget=1000)).load(str(heic))
    assert list(folder.iterdir()) == []  # over the budget
    store = StripStore(str(folder))
    StandardImageLoader(strips=store).load(str(heic))
    assert store.top(str(heic)) is not None
    os.utime(heic, ns=(1, 1))  # the file changed since: its rows are not those of the picture now
    assert store.top(str(heic)) is None
