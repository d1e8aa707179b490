"""The compiled threshold step gives the reference's bits: every hypothesis hash ``find`` derives, on real thumbnails."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageOps

from imgtwin.hashing.features import THUMB, compute_features, hashes_of_blocks
from imgtwin.matching.derived import crop_hashes, rotated_hashes
from imgtwin.matching.partial import WINDOWS, window_hashes
from imgtwin.matching.phash_kernel import pack_hashes
from imgtwin.matching.straighten import straightened_hashes
from tests.helpers import cropped, shared_photo, straightened
from tests.matching.conftest import scene


def _thumbs() -> np.ndarray:
    """(n, 32, 32) uint8 thumbnails as the scan stores them: photos, their edits, and the flat and symmetric
    pictures whose coefficients tie with the median (where rounding decides the bits)."""
    photos = [shared_photo(k, 320).convert("L") for k in range(6)] + [scene(seed) for seed in range(6)]
    edits = [cropped(photos[0], 0.1, 0.05), straightened(photos[1], 4), ImageOps.mirror(photos[2]),
             photos[3].rotate(90, expand=True), photos[4].resize((320, 120))]
    half = np.full((240, 320), 200, np.uint8)
    half[:, :160] = 30  # two flat halves: every quarter window is one flat colour
    ramp = np.tile(np.arange(256, dtype=np.uint8), (64, 1))
    plain = [Image.new("L", (64, 48), 128), Image.fromarray(half), Image.fromarray(ramp),
             Image.fromarray(np.kron(np.eye(4), np.ones((16, 16))).astype(np.uint8) * 255)]
    pictures = photos + edits + plain
    return np.stack([np.frombuffer(compute_features(p).thumb, np.uint8).reshape(THUMB, THUMB) for p in pictures])


@pytest.fixture(scope="module")
def thumbs() -> np.ndarray:
    return _thumbs()


@pytest.mark.parametrize("derive", [rotated_hashes, crop_hashes, straightened_hashes,
                                    lambda t, pack: window_hashes(t, WINDOWS, pack)],
                         ids=["rotated", "crop", "straight", "hard"])  # fmt: skip
def test_every_hypothesis_hash_has_the_reference_bits(thumbs: np.ndarray, derive) -> None:
    fast, reference = derive(thumbs, pack=pack_hashes), derive(thumbs, pack=hashes_of_blocks)
    assert fast.dtype == reference.dtype == np.uint64
    assert np.array_equal(fast, reference)
    assert len(np.unique(fast)) > len(fast.ravel()) // 2  # real, distinct hashes: not all one value


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ties_and_rounding_are_decided_as_numpy_decides_them(dtype: type) -> None:
    rng = np.random.default_rng(7)
    blocks = rng.normal(size=(70_000, 8, 8)) * rng.choice([1e-7, 1e-3, 1.0, 1e4], size=(70_000, 1, 1))
    blocks[:500] = 0.0  # every coefficient ties
    blocks[500:1000] = rng.integers(-2, 3, size=(500, 8, 8))  # many ties at the median
    blocks[1000:1500, :, :4] = 1.0000005  # a half that rounds to one value (half to even at 6 decimals)
    blocks[1500:2000] = 1e-6 * rng.integers(-3, 4, size=(500, 8, 8)) + 5e-7  # every value on a rounding edge
    blocks = blocks.astype(dtype)
    # more rows than one thread task: the threaded path too
    assert np.array_equal(pack_hashes(blocks), hashes_of_blocks(blocks))
    assert np.array_equal(pack_hashes(blocks[:3].reshape(3, 1, 8, 8)), hashes_of_blocks(blocks[:3]).reshape(3, 1))
