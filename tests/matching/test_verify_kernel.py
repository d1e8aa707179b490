"""The compiled verifier (verify_kernel) gives the numpy path's numbers, on real and random thumbnails.

The numpy path (``verify.numpy_scores``) is the reference every decision of ``find`` was made with;
``aligned_scores(..., compiled=True)`` runs the kernel (as ``find`` does from ``COMPILED_PAIRS``
pairs a call on) and hands the pairs the kernel is unsure of back to numpy. Detail distances and crop windows must be equal, correlations
within 1e-5.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from imgtwin.hashing.features import compute_features
from imgtwin.matching.verify import Alignment, aligned_scores, compiled_scores, numpy_scores, resampling_taps, windows32
from tests.helpers import cropped, shared_photo


def thumb(image: Image.Image) -> np.ndarray:
    return compute_features(image).thumb_array()


def assert_same(new: Alignment, old: Alignment) -> None:
    np.testing.assert_array_equal(new.detail, old.detail)
    np.testing.assert_array_equal(new.window_x, old.window_x)
    np.testing.assert_array_equal(new.window_y, old.window_y)
    np.testing.assert_allclose(new.correlation, old.correlation, rtol=0, atol=1e-5)


@pytest.fixture(scope="module")
def real_pairs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Copies (crops, edits, turned and mirrored copies) and different photos, as thumbnails."""
    a: list[np.ndarray] = []
    b: list[np.ndarray] = []
    g: list[int] = []

    def add(first: np.ndarray, second: np.ndarray, transform: int) -> None:
        a.append(first)
        b.append(second)
        g.append(transform)

    turns = (None, Image.Transpose.FLIP_LEFT_RIGHT, Image.Transpose.FLIP_TOP_BOTTOM, Image.Transpose.ROTATE_180,
             Image.Transpose.TRANSPOSE, Image.Transpose.ROTATE_270, Image.Transpose.ROTATE_90,
             Image.Transpose.TRANSVERSE)
    photos = [shared_photo(k, 200) for k in range(12)]
    for k, photo in enumerate(photos):
        original = thumb(photo)
        edits = [cropped(photo, 0.06, 0.0, 0.0, 0.04), cropped(photo, 0.0, 0.1, 0.08, 0.0),
                 ImageEnhance.Brightness(photo).enhance(1.3), photo.resize((120, 90))]
        for edit in edits:
            add(original, thumb(edit), 0)
        for t, turn in enumerate(turns):
            if turn is not None and t % 3 == k % 3:  # each transform on some photos
                # transform t applied to the first picture must give the second: so the second is turned
                add(original, thumb(photo.transpose(turn)), t)
        add(original, thumb(photos[(k + 1) % len(photos)]), k % 8)
    return np.stack(a), np.stack(b), np.array(g, np.int8)


def test_real_thumbnails_judged_as_by_numpy(real_pairs: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    a, b, g = real_pairs
    assert_same(aligned_scores(a, b, g, compiled=True), numpy_scores(a, b, g))
    # and the kernel alone was sure of most of them (else this would only test the fallback)
    unsure = compiled_scores(a, b, g)[4]
    assert unsure.mean() < 0.5


def test_random_smooth_thumbnails_every_transform_and_odd_counts() -> None:
    rng = np.random.default_rng(7)
    n = 300  # more than one numpy batch (256), not a multiple of it
    coarse = rng.uniform(0, 255, (n, 6, 6))
    a = np.stack([np.asarray(Image.fromarray(c.astype(np.uint8)).resize((32, 32), Image.Resampling.BICUBIC))
                  for c in coarse])
    b = np.clip(a.astype(int) + rng.integers(-8, 9, a.shape), 0, 255).astype(np.uint8)
    b[: n // 2, :, :4] = b[: n // 2, :, 4:8]  # a shifted edge: crop hypotheses differ
    g = rng.integers(0, 8, n).astype(np.int8)
    for count in (1, 2, 255, 256, 257, n):
        assert_same(aligned_scores(a[:count], b[:count], g[:count], compiled=True),
                    numpy_scores(a[:count], b[:count], g[:count]))


def test_flat_pictures_go_to_numpy_and_come_out_the_same() -> None:
    flat = np.full((4, 32, 32), 120, np.uint8)
    flat[1] += np.arange(32, dtype=np.uint8)[None, :] // 8  # a faint gradient across, none down
    flat[2, 16:] = 121  # two tones
    other = np.full((4, 32, 32), 119, np.uint8)
    g = np.zeros(4, np.int8)
    unsure = compiled_scores(flat, other, g)[4]
    assert unsure[0] and unsure[1]  # every crop score is rounding noise there
    assert_same(aligned_scores(flat, other, g, compiled=True), numpy_scores(flat, other, g))


def test_no_pairs() -> None:
    empty = np.empty((0, 32, 32), np.uint8)
    none = np.empty(0, np.int8)
    result = aligned_scores(empty, empty, none, compiled=True)
    assert len(result.correlation) == len(result.detail) == len(result.window_x) == 0
    corr, detail, wx, wy, unsure = compiled_scores(empty, empty, none)
    assert len(corr) == len(detail) == len(wx) == len(wy) == len(unsure) == 0


def test_resampling_taps_are_the_matrices() -> None:
    """Two taps a row rebuild every resampling matrix exactly (the kernel's only view of them)."""
    for matrices in windows32():
        idx, wts, window = resampling_taps(matrices.astype(np.float64))
        rebuilt = np.zeros((len(idx), *matrices.shape[1:]))
        rows = np.arange(matrices.shape[1])
        for w in range(len(idx)):
            for tap in range(2):
                np.add.at(rebuilt[w], (rows, idx[w, :, tap]), wts[w, :, tap])
        np.testing.assert_array_equal(rebuilt[window], matrices.astype(np.float64))


def test_small_calls_use_the_kernel_once_it_is_loaded_and_never_load_it() -> None:
    """A find of a few files never loads the kernel (numba's compile or cache load); once a big call loaded it,
    the small calls (the trimmed files' thumbnails, a last block) use it too, not the slower numpy path."""
    script = (
        "import sys, numpy as np\n"
        "from imgtwin.matching import verify\n"
        "a = np.random.default_rng(0).integers(0, 255, (5, 32, 32), np.uint8)\n"
        "few = verify._compiled(5, a, a, None)\n"
        "verify.aligned_scores(a, a[::-1], np.zeros(5, np.int8))\n"
        "print(few, 'imgtwin.matching.verify_kernel' in sys.modules)\n"
        "verify.compiled_scores(a, a[::-1], np.zeros(5, np.int8))\n"
        "print(verify._compiled(5, a, a, None), verify._compiled(5, a, a, False))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False", "True", "False"]


def test_pairs_cut_across_the_cores_are_judged_as_in_one_piece(real_pairs: tuple[np.ndarray, np.ndarray, np.ndarray],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """From ``SPLIT_PAIRS`` pairs on the kernel runs on one thread per core: each pair judged alone, the same
    numbers as one call (the real pairs repeated, odd pieces)."""
    from imgtwin.matching import search, verify

    a, b, g = (np.concatenate([x] * 9) for x in real_pairs)
    whole = compiled_scores(a, b, g)
    monkeypatch.setattr(verify, "SPLIT_PAIRS", 7)
    monkeypatch.setattr(search, "default_threads", lambda: 5)
    pieces = compiled_scores(a, b, g)
    for mine, theirs in zip(pieces, whole):
        np.testing.assert_array_equal(mine, theirs)
