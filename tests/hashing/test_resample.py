"""Pillow's resize of small pictures, a stack at a time (``hashing.resample``): Pillow's own bytes."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imgtwin.hashing import resample
from imgtwin.hashing.dct import DCTHasher
from imgtwin.hashing.extractor import MatchFeatureExtractor
from imgtwin.hashing.resample import MAX_SIDE, StackResizer, resize_stack
from imgtwin.hashing.stack import stacked
from imgtwin.loading.pillow_loader import StandardImageLoader
from imgtwin.loading.preview_loader import PreviewFirstLoader
from imgtwin.processing.task import ScanTask
from tests.helpers import synthetic_photo

LANCZOS, BOX = Image.Resampling.LANCZOS, Image.Resampling.BOX
SIDES = (1, 2, 3, 5, 8, 15, 16, 17, 31, 32, 33, 36, 47, 48, 64, 72, 96, 100, 127, 128, 200, 256)


def _stack(rng: np.random.Generator, height: int, width: int, bands: int) -> np.ndarray:
    """Noise, black and white, a narrow band of greys, and a photo: each sum's extremes and its rounding."""
    shape = (height, width) + ((bands,) if bands > 1 else ())
    photo = synthetic_photo(height * 1000 + width, (width, height))
    pictures = [rng.integers(0, 256, shape, dtype=np.uint8), (rng.integers(0, 2, shape) * 255).astype(np.uint8),
                rng.integers(100, 104, shape, dtype=np.uint8),
                np.asarray(photo if bands == 3 else photo.convert("L"))]
    return np.stack(pictures)


@pytest.mark.parametrize(("method", "size"), [(LANCZOS, (32, 32)), (BOX, (16, 16))])
@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_a_stack_comes_out_as_pillow_resizes_each_picture(method: Image.Resampling, size: tuple[int, int],
                                                           mode: str) -> None:  # fmt: skip
    # Down and up, by whole and odd factors, both passes and either alone, and either pass first
    # (Pillow runs the vertical one first where the height shrinks by more than twice the width).
    rng = np.random.default_rng(7)
    for height, width in itertools.product(SIDES, SIDES):
        stack = _stack(rng, height, width, 3 if mode == "RGB" else 1)
        ours = resize_stack(stack, size, method)
        assert ours.dtype == np.uint8
        for picture, got in zip(stack, ours, strict=True):
            expected = np.asarray(Image.fromarray(picture, mode).resize(size, method))
            assert np.array_equal(got, expected), (width, height, mode)


def test_the_resizer_uses_pillow_until_warm_and_for_a_size_that_would_differ() -> None:
    def pillow(pictures: list[Image.Image]) -> np.ndarray:
        return np.stack([np.asarray(p.resize((32, 32), LANCZOS)) for p in pictures])

    pictures = [synthetic_photo(k, (96, 72)).convert("L") for k in range(4)]
    resizer = StackResizer(warm_up=4, repeats=0)
    assert np.array_equal(resizer.resize(pictures, stacked(pictures), (32, 32), LANCZOS), pillow(pictures))
    assert resizer.warm_up == 0  # warmed up by Pillow; now its own loop, checked on the first picture
    assert np.array_equal(resizer.resize(pictures, stacked(pictures), (32, 32), LANCZOS), pillow(pictures))
    # Pixels that do not come out as Pillow's (as with a Pillow that resized otherwise): the size's first
    # check fails, and it stays with Pillow, whose bytes of the pictures come back.
    small = [synthetic_photo(k, (40, 30)).convert("L") for k in range(3)]
    inverted = 255 - stacked(small)
    assert np.array_equal(resizer.resize(small, inverted, (32, 32), LANCZOS), pillow(small))
    assert np.array_equal(resizer.resize(small, inverted, (32, 32), LANCZOS), pillow(small))
    large = [synthetic_photo(k, (MAX_SIDE + 1, 40)).convert("L") for k in range(2)]
    assert np.array_equal(resizer.resize(large, 255 - stacked(large), (32, 32), LANCZOS), pillow(large))


def test_a_size_gets_its_own_loop_only_after_some_of_its_pictures() -> None:
    # The last picture's pixels are not its own: where the compiled loop resizes the stack (its check reads
    # the first picture only) that picture comes out otherwise than Pillow makes it, which shows the path.
    pictures = [synthetic_photo(k, (60, 44)).convert("L") for k in range(2)]
    pixels = stacked(pictures).copy()
    pixels[-1] = 255 - pixels[-1]
    pillow = np.stack([np.asarray(p.resize((32, 32), LANCZOS)) for p in pictures])
    resizer = StackResizer(warm_up=0, repeats=3)
    assert np.array_equal(resizer.resize(pictures, pixels, (32, 32), LANCZOS), pillow)  # 2 of its size so far
    second = resizer.resize(pictures, pixels, (32, 32), LANCZOS)  # 4: its own loop
    assert np.array_equal(second[0], pillow[0]) and not np.array_equal(second[1], pillow[1])


def test_prepare_many_resizes_grey_pictures_together_as_prepare_does_each() -> None:
    hasher = DCTHasher()
    pictures = [synthetic_photo(k, size).convert("L") for k, size in enumerate([(96, 72)] * 5 + [(72, 96)] * 3)]
    pictures += [pictures[0].convert("F"), synthetic_photo(9, (300, 200)).convert("L")]
    pixels = [np.asarray(p.convert("L")) for p in pictures]
    kept, resample.RESIZER = resample.RESIZER, StackResizer(warm_up=0, repeats=0)  # its own loop from the start
    try:
        together = hasher.prepare_many(pictures, pixels=pixels)
    finally:
        resample.RESIZER = kept
    assert together.dtype == np.float64
    assert np.array_equal(together, np.stack([hasher.prepare(p) for p in pictures]))


def test_a_scan_s_features_are_the_same_bytes_through_either_resize(tmp_path: Path) -> None:
    """Tiles of two orientations, a grey one and a PNG, through the scan's task: Pillow's resize (a process
    warming up) and this module's give the same stored bytes."""
    paths = []
    for k, size in enumerate([(96, 72)] * 6 + [(72, 96)] * 3 + [(72, 54)] * 2):
        path = tmp_path / f"t{k}.jpg"
        synthetic_photo(k, size).save(path, quality=80)
        paths.append(str(path))
    synthetic_photo(20, (96, 72)).convert("L").save(tmp_path / "grey.jpg")
    synthetic_photo(21, (90, 60)).save(tmp_path / "p.png")
    paths += [str(tmp_path / "grey.jpg"), str(tmp_path / "p.png")]
    task = ScanTask(PreviewFirstLoader(StandardImageLoader()), DCTHasher(8), MatchFeatureExtractor())

    def stored(warm_up: int) -> list[tuple[object, ...]]:
        kept, resample.RESIZER = resample.RESIZER, StackResizer(warm_up=warm_up, repeats=0)
        try:
            results = task.run_many(paths, lambda: None)
        finally:
            resample.RESIZER = kept
        return [(r.status, r.hash, r.features, r.signals, r.picture) for r in results]

    assert stored(10**9) == stored(0)
