"""Colour and pixel agreement: what the grey-level structure checks cannot see.

The pHash and the detail checks read grey levels only, and on flat pictures
their bits are rounding noise, so they cannot tell an orange page from a
green one, a green ellipse on orange from a brown one on green, or two black
frames with a small light in different places. Two checks settle those:

* **colour layout** (every candidate pair): the CIELAB a*/b* thumbnails, cut
  with the same crop windows the structure alignment chose, are compared cell
  by cell (4 x 4 cells). Both pictures must have colour for the check to
  apply: a grey copy of a colour photo is still a copy. Brightness, contrast
  and gamma edits move a* and b* a little; a different colour moves them a lot.
* **pixel agreement** (pairs where either picture is low-detail): the grey
  thumbnails themselves, without alignment (a flat picture has nothing to align
  on, and a crop search would slide a small light onto another), must agree
  almost everywhere and nowhere differ strongly (a stamp or a light elsewhere is
  a strong local difference), and so must the colours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imgtwin.hashing.features import COLOUR_THUMB, dihedral_pixels
from imgtwin.matching.verify import crop_windows, resampler

#: Pictures whose mean chroma is below this carry no colour to compare.
CHROMA_FLOOR = 4.0
_CELLS = 4


@dataclass(frozen=True, slots=True)
class ColourRules:
    """Thresholds of the two checks (CIELAB units for colour, grey levels 0-255 for pixels).

    Measured on ``benchmarks/flat_set.py`` (440 different flat pictures and 269
    copies): every copy kept within them but 2 %, no two different pictures.
    """

    max_cell_shift: float = 14.0  # detailed pairs: mean over 4 x 4 cells of the a*b* distance, both coloured
    max_mean_difference: float = 3.0  # low-detail: mean |grey difference| of the 32 x 32 thumbnails
    max_relative_peak: float = 0.5  # low-detail: the 4 largest differences over the pictures' own contrast
    max_colour_difference: float = 4.0  # low-detail: distance of the mean a*b* of the whole pictures
    max_feature_colour_difference: float = 12.0  # low-detail: distance of the chroma-weighted mean a*b*
    max_tone: float = 5.0  # mostly flat: mean |grey difference| of the aligned thumbnails


def _cut(colour: np.ndarray, transforms: np.ndarray, window_x: np.ndarray, window_y: np.ndarray, first: bool,
         trim: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """(n, 2, 16, 16) a*b* thumbnails, cut to ``trim`` boxes, turned (first side) and cut by the windows."""
    x: np.ndarray = colour.astype(np.float32)
    if trim is not None:  # the picture without its borders, as the grey thumbnails were aligned
        left, top, right, bottom = (trim[:, k] for k in range(4))
        cols = np.stack([resampler(COLOUR_THUMB, lo, 1 - hi) for lo, hi in zip(left, right)]).astype(np.float32)
        rows = np.stack([resampler(COLOUR_THUMB, lo, 1 - hi) for lo, hi in zip(top, bottom)]).astype(np.float32)
        x = rows[:, None] @ x @ np.swapaxes(cols, 1, 2)[:, None]
    if first:
        variants = np.stack(dihedral_pixels(x), axis=1)  # (n, 8, 2, 16, 16)
        x = variants[np.arange(len(x)), transforms.astype(np.int64)]
    low, high, _ = crop_windows(COLOUR_THUMB)
    mats = low if first else high
    cols = mats[window_x.astype(np.int64)].astype(np.float32)  # (n, 16, 16)
    rows = mats[window_y.astype(np.int64)].astype(np.float32)
    result: np.ndarray = rows[:, None] @ x @ np.swapaxes(cols, 1, 2)[:, None]
    return result


def _shift(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean a*b* distance over the 4 x 4 cells where both pictures have colour (0 where fewer than 4 do)."""
    n, size = len(a), COLOUR_THUMB // _CELLS
    cells_a = a.reshape(n, 2, _CELLS, size, _CELLS, size).mean(axis=(3, 5))
    cells_b = b.reshape(n, 2, _CELLS, size, _CELLS, size).mean(axis=(3, 5))
    distance = np.sqrt(((cells_a - cells_b) ** 2).sum(axis=1))
    coloured = (np.hypot(cells_a[:, 0], cells_a[:, 1]) >= CHROMA_FLOOR) & (
        np.hypot(cells_b[:, 0], cells_b[:, 1]) >= CHROMA_FLOOR)
    count = coloured.sum(axis=(1, 2))
    total = np.where(coloured, distance, 0.0).sum(axis=(1, 2))
    return np.where(count >= 4, total / np.maximum(count, 1), 0.0)


def colour_shift(colour_a: np.ndarray, colour_b: np.ndarray, transforms: np.ndarray, window_x: np.ndarray,
                 window_y: np.ndarray, trim_a: np.ndarray | None = None, trim_b: np.ndarray | None = None
                 ) -> np.ndarray:  # fmt: skip
    """How far apart the aligned colour layouts are (see the module doc); 0 where there is no colour to compare.

    Compared both as whole pictures and without their trimmed borders (the alignment may have been
    made on either), keeping the closer reading: borders and padding are no reason to reject a copy.
    """
    whole = _shift(_cut(colour_a, transforms, window_x, window_y, True),
                   _cut(colour_b, transforms, window_x, window_y, False))
    if trim_a is None or trim_b is None:
        return whole
    trimmed = _shift(_cut(colour_a, transforms, window_x, window_y, True, trim_a),
                     _cut(colour_b, transforms, window_x, window_y, False, trim_b))
    result: np.ndarray = np.minimum(whole, trimmed)
    return result


def tone_difference(thumbs_a: np.ndarray, thumbs_b: np.ndarray, transforms: np.ndarray, window_x: np.ndarray,
                    window_y: np.ndarray) -> np.ndarray:  # fmt: skip
    """Mean |grey difference| of (n, 32, 32) thumbnails, aligned as the structure check aligned them."""
    a = np.stack(dihedral_pixels(thumbs_a.astype(np.float32)), axis=1)[np.arange(len(thumbs_a)),
                                                                          transforms.astype(np.int64)]
    first, second, _ = crop_windows()
    wx, wy = window_x.astype(np.int64), window_y.astype(np.int64)
    aa = first[wy].astype(np.float32) @ a @ np.swapaxes(first[wx].astype(np.float32), 1, 2)
    bb = second[wy].astype(np.float32) @ thumbs_b.astype(np.float32) @ np.swapaxes(second[wx].astype(np.float32), 1, 2)
    result: np.ndarray = np.abs(aa - bb).mean(axis=(1, 2))
    return result


def _top_mean(values: np.ndarray, count: int) -> np.ndarray:
    result: np.ndarray = np.sort(values.reshape(len(values), -1), axis=1)[:, -count:].mean(axis=1)
    return result


def _contrast(thumbs: np.ndarray) -> np.ndarray:
    """The few strongest deviations of each thumbnail from its own background (its median grey)."""
    background = np.median(thumbs.reshape(len(thumbs), -1), axis=1)[:, None, None]
    return _top_mean(np.abs(thumbs - background), 4)


def pixel_agreement(thumbs_a: np.ndarray, thumbs_b: np.ndarray, colour_a: np.ndarray, colour_b: np.ndarray,
                    transforms: np.ndarray, rules: ColourRules = ColourRules()) -> np.ndarray:  # fmt: skip
    """Boolean mask: the pairs whose unaligned thumbnails agree in value and colour (see the module doc).

    ``colour_*`` are (n, 2, 16, 16) a*b* arrays, zeros for pictures without colour. The strongest local
    differences are measured against the pictures' own strongest features: a light or a stamp that
    moved differs by its whole contrast (ratio ~1), while a copy's resampling shifts it by a fraction
    of a pixel (ratio < 0.3), however small or faint the feature.
    """
    index = np.arange(len(thumbs_a))
    a = np.stack(dihedral_pixels(thumbs_a.astype(np.float32)), axis=1)[index, transforms.astype(np.int64)]
    b = thumbs_b.astype(np.float32)
    difference = np.abs(a - b)
    relative = _top_mean(difference, 4) / np.maximum(np.maximum(_contrast(a), _contrast(b)), 16.0)
    ca = np.stack(dihedral_pixels(colour_a.astype(np.float32)), axis=1)[index, transforms.astype(np.int64)]
    cb = colour_b.astype(np.float32)
    plain = np.linalg.norm(ca.reshape(len(a), 2, -1).mean(axis=2) - cb.reshape(len(a), 2, -1).mean(axis=2), axis=1)
    # The colour of what stands out (a warm or a cold light on black): means weighted by chroma.
    weighted = np.linalg.norm(_chroma_weighted(ca) - _chroma_weighted(cb), axis=1)
    result: np.ndarray = (
        (difference.mean(axis=(1, 2)) <= rules.max_mean_difference)
        & (relative <= rules.max_relative_peak)
        & (plain <= rules.max_colour_difference)
        & (weighted <= rules.max_feature_colour_difference)
    )
    return result


def _chroma_weighted(ab: np.ndarray) -> np.ndarray:
    """(n, 2): the mean a*b* of (n, 2, h, w) thumbnails, each pixel weighted by its chroma."""
    flat = ab.reshape(len(ab), 2, -1)
    weight = np.hypot(flat[:, 0], flat[:, 1])
    result: np.ndarray = (flat * weight[:, None]).sum(axis=2) / np.maximum(weight.sum(axis=1), 1e-6)[:, None]
    return result
