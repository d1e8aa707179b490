"""Colour and pixel agreement: what the grey-level structure checks cannot see.

The pHash and the detail checks read grey levels only, and on flat pictures
their bits are rounding noise, so they cannot tell an orange page from a
green one, a green ellipse on orange from a brown one on green, or two black
frames with a small light in different places. Two checks settle those:

* **colour layout** (every candidate pair): the CIELAB a*/b* thumbnails, cut
  with the same crop windows the structure alignment chose, are compared cell
  by cell (4 x 4 cells). Both pictures must have colour for the check to
  apply: a grey copy of a colour photo is still a copy. On detailed pictures
  (neither low-detail nor mostly flat: the structure decides there) the cells
  are compared relative to each picture's own cast and colourfulness, since a
  phone's warm, cool or sepia filter, a white balance, a brightness, contrast
  or gamma edit moves all of a photo's colours together; only a colour that
  moved against the rest (an object recoloured) counts. Where the structure
  cannot decide (flat, low-detail, mostly flat pictures), colours are compared
  as they are: a tinted grey page, an orange and a brown screen are different.
* **pixel agreement** (pairs where either picture is low-detail): the grey
  thumbnails themselves, without alignment (a flat picture has nothing to align
  on, and a crop search would slide a small light onto another), must agree
  almost everywhere and nowhere differ strongly (a stamp, a dot, a thin line or
  a light elsewhere is a strong local difference), and so must the colours,
  pixel by pixel (a gradient turned to another direction). Where a soft photo's structure agrees,
  they are compared once in each other's tones too (a brightness or contrast edit moves every grey).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imgtwin.hashing.features import COLOUR_THUMB, dihedral_pixels
from imgtwin.matching.verify import crop_windows, resampler

#: Pictures whose mean chroma is below this carry no colour to compare.
CHROMA_FLOOR = 4.0
#: The most a filter or tone edit is taken to strengthen or weaken a detailed picture's colours.
MAX_GAIN = 2.0
_CELLS = 4


@dataclass(frozen=True, slots=True)
class ColourRules:
    """Thresholds of the two checks (CIELAB units for colour, grey levels 0-255 for pixels).

    Measured on ``benchmarks/flat_set.py`` (440 different flat pictures and 269
    copies): every copy kept within them but 2 %, no two different pictures.
    """

    max_cell_shift: float = 14.0  # mean a*b* distance of the 4 x 4 cells (detailed: relative to each cast)
    max_mean_difference: float = 3.0  # low-detail: mean |grey difference| of the 32 x 32 thumbnails
    max_relative_peak: float = 0.5  # low-detail: the 4 largest differences over the pictures' own contrast
    # ... or over this many grey levels where they have less: copies of a flat picture differ by 2 at most
    # there (re-encoded, resized), while a dot or a thin line a person sees leaves 5 and more.
    min_contrast: float = 8.0
    # ... and the same for the colours (CIELAB a*b*, 16 x 16), where chroma subsampling leaves up to ~5.
    min_colour_contrast: float = 12.0
    max_colour_difference: float = 4.0  # low-detail: mean a*b* distance of the 16 x 16 thumbnails, pixel by pixel
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


def _cells(x: np.ndarray) -> np.ndarray:
    """(n, 2, 4, 4): the mean a*b* of each cell of (n, 2, 16, 16) thumbnails."""
    size = COLOUR_THUMB // _CELLS
    result: np.ndarray = x.reshape(len(x), 2, _CELLS, size, _CELLS, size).mean(axis=(3, 5))
    return result


def _shift(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean a*b* distance over the 4 x 4 cells where both pictures have colour (0 where fewer than 4 do)."""
    cells_a, cells_b = _cells(a), _cells(b)
    distance = np.sqrt(((cells_a - cells_b) ** 2).sum(axis=1))
    coloured = (np.hypot(cells_a[:, 0], cells_a[:, 1]) >= CHROMA_FLOOR) & (
        np.hypot(cells_b[:, 0], cells_b[:, 1]) >= CHROMA_FLOOR)
    count = coloured.sum(axis=(1, 2))
    total = np.where(coloured, distance, 0.0).sum(axis=(1, 2))
    return np.where(count >= 4, total / np.maximum(count, 1), 0.0)


def _relative_shift(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean a*b* distance of the 4 x 4 cells, each picture taken relative to its own cast and colourfulness.

    A filter, a white balance or a tone edit moves every colour of a picture the same way (the
    cast: the mean a*b*) and makes them all stronger or weaker together (contrast, brightness, a
    tint layer over the picture). Both are taken out: each picture's cells minus its cast, the
    more colourful one scaled to the other's spread (by at most 2x). What is left is where the
    colours lie relative to each other, which an object recoloured in one part changes. 0 where
    either picture's cells spread less than ``CHROMA_FLOOR``: a grey, sepia or duotone copy has
    no layout of its own to compare (as a grey copy has no colour).
    """
    cells_a = _cells(a).reshape(len(a), 2, -1)
    cells_b = _cells(b).reshape(len(b), 2, -1)
    rest_a = cells_a - cells_a.mean(axis=2, keepdims=True)
    rest_b = cells_b - cells_b.mean(axis=2, keepdims=True)
    spread_a = np.sqrt((rest_a**2).sum(axis=1).mean(axis=1))
    spread_b = np.sqrt((rest_b**2).sum(axis=1).mean(axis=1))
    ratio = np.clip(spread_b / np.maximum(spread_a, 1e-6), 1 / MAX_GAIN, MAX_GAIN)
    rest_a = rest_a * np.minimum(ratio, 1.0)[:, None, None]
    rest_b = rest_b * np.minimum(1 / ratio, 1.0)[:, None, None]
    distance = np.sqrt(((rest_a - rest_b) ** 2).sum(axis=1)).mean(axis=1)
    laid_out = (spread_a >= CHROMA_FLOOR) & (spread_b >= CHROMA_FLOOR)
    result: np.ndarray = np.where(laid_out, distance, 0.0)
    return result


def colour_shift(colour_a: np.ndarray, colour_b: np.ndarray, transforms: np.ndarray, window_x: np.ndarray,
                 window_y: np.ndarray, trim_a: np.ndarray | None = None, trim_b: np.ndarray | None = None,
                 relative: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """How far apart the aligned colour layouts are (see the module doc); 0 where there is no colour to compare.

    Compared both as whole pictures and without their trimmed borders (the alignment may have been
    made on either), keeping the closer reading: borders and padding are no reason to reject a copy.
    ``relative``: per pair, whether to compare the layouts relative to each picture's own cast and
    colourfulness (detailed pictures, see :func:`_relative_shift`) rather than absolute colours.
    """
    def shift(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if relative is None or not relative.any():
            return _shift(a, b)
        result: np.ndarray = np.where(relative, _relative_shift(a, b), _shift(a, b))
        return result

    whole = shift(_cut(colour_a, transforms, window_x, window_y, True),
                  _cut(colour_b, transforms, window_x, window_y, False))
    if trim_a is None or trim_b is None:
        return whole
    trimmed = shift(_cut(colour_a, transforms, window_x, window_y, True, trim_a),
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


def _colour_contrast(ab: np.ndarray) -> np.ndarray:
    """The few strongest a*b* distances of each (n, 2, h, w) thumbnail from its own background colour."""
    background = np.median(ab.reshape(len(ab), 2, -1), axis=2)[:, :, None, None]
    return _top_mean(np.sqrt(((ab - background) ** 2).sum(axis=1)), 4)


def _relative_peak(difference: np.ndarray, contrast: np.ndarray, floor: float) -> np.ndarray:
    """The 4 largest differences over the pictures' own contrast, or over ``floor`` where they have less."""
    result: np.ndarray = _top_mean(difference, 4) / np.maximum(contrast, floor)
    return result


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
    relative = _relative_peak(difference, np.maximum(_contrast(a), _contrast(b)), rules.min_contrast)
    ca = np.stack(dihedral_pixels(colour_a.astype(np.float32)), axis=1)[index, transforms.astype(np.int64)]
    cb = colour_b.astype(np.float32)
    # The same for the colours, pixel by pixel (a gradient turned, a coloured mark of the ground's grey),
    # and their mean distance: the whole picture must be of the same colours in the same places.
    colour_difference = np.sqrt(((ca - cb) ** 2).sum(axis=1))
    colour_relative = _relative_peak(colour_difference, np.maximum(_colour_contrast(ca), _colour_contrast(cb)),
                                     rules.min_colour_contrast)
    plain = colour_difference.mean(axis=(1, 2))
    # The colour of what stands out (a warm or a cold light on black): means weighted by chroma.
    weighted = np.linalg.norm(_chroma_weighted(ca) - _chroma_weighted(cb), axis=1)
    result: np.ndarray = (
        (difference.mean(axis=(1, 2)) <= rules.max_mean_difference)
        & (relative <= rules.max_relative_peak)
        & (colour_relative <= rules.max_relative_peak)
        & (plain <= rules.max_colour_difference)
        & (weighted <= rules.max_feature_colour_difference)
    )
    return result


def low_detail_agreement(thumbs_a: np.ndarray, thumbs_b: np.ndarray, colour_a: np.ndarray, colour_b: np.ndarray,
                         transforms: np.ndarray, structure: np.ndarray, gradients: np.ndarray, featureless: np.ndarray,
                         rules: ColourRules = ColourRules()) -> np.ndarray:  # fmt: skip
    """Boolean mask: the pairs of which either picture is low-detail that are copies (see the module doc).

    Their pixels must agree (:func:`pixel_agreement`), the way they stand (a featureless picture turned or
    mirrored cannot be told from another one: a light on the left, one on the right; a picture with structure
    can, where that structure agrees turned); and where neither picture is
    ``featureless``, their ``structure`` too (the thumbnail rules), or their aligned ``gradients``. A
    brightness or contrast edit of a soft photo moves all its greys: where its structure agrees, the pixels
    must agree once in the other's tones (:func:`tone_matched`). Featureless pictures in other shades, and
    pictures whose structure does not agree, stay apart.
    """
    # Turned or mirrored, only with structure: a featureless picture (a gradient, a light in a dark frame) turned is
    # another picture as much as a copy, but where neither is featureless and the thumbnail rules' structure (the
    # hash and the aligned detail) agrees as the pixels stand turned, it is a turned copy as surely as an upright
    # one is (a phone's flip of a misty landscape; no two of its scenes' tiles agree in detail when turned).
    upright = (transforms == 0) | (~featureless & structure)
    ok: np.ndarray = pixel_agreement(thumbs_a, thumbs_b, colour_a, colour_b, transforms, rules) & upright
    ok &= featureless | structure | gradients
    toned = np.flatnonzero(~ok & ~featureless & structure & upright)
    if len(toned):
        ok[toned] = pixel_agreement(tone_matched(thumbs_a[toned], thumbs_b[toned]), thumbs_b[toned],
                                    colour_a[toned], colour_b[toned], transforms[toned], rules)
    return ok


def tone_matched(thumbs_a: np.ndarray, thumbs_b: np.ndarray) -> np.ndarray:
    """(n, 32, 32) ``thumbs_a`` in ``thumbs_b``'s tones: the gain and offset (least squares, the gain within
    ``1 / MAX_GAIN`` .. ``MAX_GAIN``) that best map each onto the other, as a brightness or contrast edit does.

    For pictures whose structure already agrees (:func:`pixel_agreement` then asks whether all of it does):
    a brightness edit moves every grey of a soft photo by 20-40 levels, far beyond what the agreement allows.
    """
    a = thumbs_a.reshape(len(thumbs_a), -1).astype(np.float32)
    b = thumbs_b.reshape(len(thumbs_b), -1).astype(np.float32)
    da, db = a - a.mean(axis=1, keepdims=True), b - b.mean(axis=1, keepdims=True)
    gain = (da * db).sum(axis=1) / np.maximum((da * da).sum(axis=1), 1e-6)
    gain = np.clip(gain, 1 / MAX_GAIN, MAX_GAIN)[:, None]
    mapped = np.clip(gain * da + b.mean(axis=1, keepdims=True), 0, 255)
    result: np.ndarray = mapped.reshape(thumbs_a.shape)
    return result


def _chroma_weighted(ab: np.ndarray) -> np.ndarray:
    """(n, 2): the mean a*b* of (n, 2, h, w) thumbnails, each pixel weighted by its chroma."""
    flat = ab.reshape(len(ab), 2, -1)
    weight = np.hypot(flat[:, 0], flat[:, 1])
    result: np.ndarray = (flat * weight[:, None]).sum(axis=2) / np.maximum(weight.sum(axis=1), 1e-6)[:, None]
    return result
