"""Pillow's resize of small 8-bit pictures, a stack of one size at a time: the same bytes, ~7x faster.

Why: a 96 x 72 tile's 32 x 32 Lanczos resize (the pHash's step 2) cost ~75 us in Pillow, more than the
tile's decode: the filter's coefficients (two sines a tap) are made again for every picture, and the
loop multiplies one output pixel at a time. Here the coefficients are made once per pair of sizes and a
chunk's pictures of one size go through each pass together, the inner loop over contiguous values
(``resample_kernel``): ~11 us a tile.

The same bytes: Pillow 9.2+ (``libImaging/Resample.c``, 8 bits a band) rounds each normalised coefficient
to an integer of ``PRECISION_BITS`` fraction bits, sums pixel x coefficient in 32-bit integers from half a
unit, shifts and clips to 0-255 after each pass, and runs the vertical pass first where the height
shrinks by more than twice what the width does. The coefficients here come from the same double
arithmetic in the same order (the sines from the C library's ``sin``, through ``math.sin``), and integer
sums do not depend on their order. Each process still checks the first picture of every size against
Pillow and keeps Pillow for a size where they differ (a Pillow that resizes otherwise); and
``tests/hashing/test_resample.py`` checks sizes from 1 to 256 px.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np
from PIL import Image

from imgtwin.hashing.stack import stacked

#: Pillow's fixed-point fraction bits for 8-bit bands (``libImaging/Resample.c``).
PRECISION_BITS = 32 - 8 - 2
#: Pictures with a side longer than this are left to Pillow: their resize is a small part of their decode.
MAX_SIDE = 256
#: Pictures a process resizes through Pillow before it starts the compiled loop: numba's import and the
#: loop's load from its cache (~0.8 s of CPU, ~120 MB more resident, ~50 MB of it private) pay for
#: themselves ~13,000 tiny pictures later (~63 us each saved): a scan of 200,000 tiles on two cores gains
#: ~10 CPU s, one of 40,000 or fewer never starts it.
WARM_UP = 20_000
#: Pictures of one size a process resizes through Pillow before that size gets its coefficients.
REPEATS = 32

_ONE = float(1 << PRECISION_BITS)
_SUPPORT = {Image.Resampling.BOX: 0.5, Image.Resampling.LANCZOS: 3.0}

Table = tuple[np.ndarray, np.ndarray, np.ndarray]


def _sinc(x: float) -> float:
    if x == 0.0:
        return 1.0
    x = x * math.pi
    return math.sin(x) / x


def _lanczos(x: float) -> float:
    return _sinc(x) * _sinc(x / 3) if -3.0 <= x < 3.0 else 0.0


def _box(x: float) -> float:
    return 1.0 if -0.5 < x <= 0.5 else 0.0


_FILTERS: dict[Image.Resampling, Callable[[float], float]] = {
    Image.Resampling.BOX: _box, Image.Resampling.LANCZOS: _lanczos,
}


@lru_cache(maxsize=256)
def coefficients(in_size: int, out_size: int, method: Image.Resampling) -> Table:
    """Pillow's taps of each output pixel (``precompute_coeffs``, ``normalize_coeffs_8bpc``): the first input
    pixel (int64), how many (int64), and the integer coefficients ((out_size, most) int32, zero-padded)."""
    kernel, support = _FILTERS[method], _SUPPORT[method]
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support *= filterscale
    first = np.zeros(out_size, dtype=np.int64)
    count = np.zeros(out_size, dtype=np.int64)
    rows: list[list[int]] = []
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        ss = 1.0 / filterscale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size) - xmin
        taps = [kernel((x + xmin - center + 0.5) * ss) for x in range(xmax)]
        total = 0.0
        for w in taps:  # in order, as the C loop adds them
            total += w
        if total != 0.0:
            taps = [w / total for w in taps]
        rows.append([int(-0.5 + k * _ONE) if k < 0 else int(0.5 + k * _ONE) for k in taps])
        first[xx], count[xx] = xmin, max(xmax, 0)
    coef = np.zeros((out_size, max(1, int(count.max(initial=0)))), dtype=np.int32)
    for xx, row in enumerate(rows):
        coef[xx, : len(row)] = row
    for array in (first, count, coef):
        array.flags.writeable = False
    return first, count, coef


def resize_stack(stack: np.ndarray, size: tuple[int, int], method: Image.Resampling) -> np.ndarray:
    """``Image.resize(size, method)`` of each (h, w) or (h, w, bands) uint8 picture of an (n, h, w[, bands])
    stack: (n, size[1], size[0][, bands]) uint8."""
    pixels = stack if stack.ndim == 4 else stack[..., None]
    height, width = pixels.shape[1:3]
    out_w, out_h = size
    vertical_first = 0 < height - out_h and height - out_h > (width - out_w) * 2
    if vertical_first and out_h != height:
        pixels = _pass(pixels, 1, out_h, method)
    if out_w != width:  # Pillow's need_horizontal, for a box of the whole picture
        pixels = _pass(pixels, 2, out_w, method)
    if not vertical_first and out_h != height:
        pixels = _pass(pixels, 1, out_h, method)
    return pixels[..., 0] if stack.ndim == 3 else pixels


def _pass(pixels: np.ndarray, axis: int, out: int, method: Image.Resampling) -> np.ndarray:
    """One pass along ``axis`` (1: vertical, 2: horizontal) of an (n, h, w, bands) uint8 stack."""
    from imgtwin.hashing.resample_kernel import combine_rows  # numba: only once a process resizes many

    moved = np.moveaxis(pixels, axis, 0)
    rows = np.ascontiguousarray(moved).reshape(moved.shape[0], -1)
    result = combine_rows(rows, *coefficients(moved.shape[0], out, method))
    return np.moveaxis(result.reshape(out, *moved.shape[1:]), 0, axis)


class StackResizer:
    """``resize_stack`` where it gives Pillow's bytes and pays, Pillow elsewhere; one per process (``RESIZER``).

    Pillow until the process has resized ``warm_up`` pictures, and for a size until ``repeats`` of its pictures
    came (its coefficients cost ~1 ms to make: a collection of pictures of ever new sizes keeps Pillow); then a
    size is trusted once its first picture comes out the same as Pillow's. A picture with a side over
    ``MAX_SIDE`` always goes to Pillow.
    """

    def __init__(self, warm_up: int = WARM_UP, repeats: int = REPEATS) -> None:
        self.warm_up = warm_up
        self.repeats = repeats
        self._seen: dict[tuple[tuple[int, ...], tuple[int, int], Image.Resampling], int] = {}
        self._checked: dict[tuple[tuple[int, ...], tuple[int, int], Image.Resampling], bool] = {}

    def resize(self, images: Sequence[Image.Image], pixels: np.ndarray | None, size: tuple[int, int],
               method: Image.Resampling) -> np.ndarray:  # fmt: skip
        """(n, size[1], size[0][, 3]) uint8 of ``images`` (one size, mode L or RGB) resized; ``pixels``: their
        ``np.asarray`` stack (None: not made, so Pillow resizes them)."""
        if pixels is not None and self.warm_up <= 0 and self._trusted(images[0], pixels, size, method):
            return resize_stack(pixels, size, method)
        self.warm_up -= len(images)
        return stacked([image.resize(size, method) for image in images])

    def _trusted(self, image: Image.Image, pixels: np.ndarray, size: tuple[int, int], method: Image.Resampling) -> bool:
        key = (pixels.shape[1:], size, method)
        trusted = self._checked.get(key)
        if trusted is None:
            seen = self._seen[key] = self._seen.get(key, 0) + len(pixels)
            if seen <= self.repeats:
                if len(self._seen) > 4096:
                    self._seen.clear()
                return False
            trusted = max(pixels.shape[1:3]) <= MAX_SIDE and bool(
                np.array_equal(resize_stack(pixels[:1], size, method)[0], np.asarray(image.resize(size, method))))
            if len(self._checked) > 4096:
                self._checked.clear()
            self._checked[key] = trusted
        return trusted


RESIZER = StackResizer()
