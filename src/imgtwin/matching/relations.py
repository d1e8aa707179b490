"""How two matched pictures differ: which one shows more, which one has something added, which one is squashed.

The keeper must be the original, and a copy usually gives itself away against
the original it was made from: a crop shows less of the picture, a padded or
framed copy or a screenshot adds uniform bars, a watermarked or logo'd copy
adds a small bright or sharp patch, a squashed copy has another aspect ratio
for the same content. All of it is read from what the verification already
has, the aligned 32 x 32 thumbnails and their crop windows, for matched pairs
only (never a loop over all pairs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imgtwin.hashing.features import dihedral_pixels
from imgtwin.matching.verify import aligned_scores, crop_windows, uncropped_window

#: A side counts as cut when the alignment took at least this share of it (2 % steps) ...
CROP_MARGIN = 0.035
#: ... and the crop fits the pair better than no crop by more than this (bits of the 255-bit detail hash).
CROP_GAIN = 4
#: Aspect ratios this far apart (log ratio, ~2.5 %) for the same content: one picture is distorted.
ASPECT_MARGIN = 0.025
#: A difference is an overlay when this share of the pixels holds ...
OVERLAY_AREA = 0.10
#: ... at least this share of all the difference, after matching brightness and contrast ...
OVERLAY_CONCENTRATION = 0.45
#: ... and differs there by at least this much on average (in standard deviations of the picture).
OVERLAY_MIN_DIFFERENCE = 0.03

# Transforms (dihedral index, features.DIHEDRAL_NAMES order) that swap width and height.
_SWAPS = np.array([False, False, False, False, True, True, True, True])


@dataclass(frozen=True, slots=True)
class Relations:
    """Per matched pair ``(a, b)``: +1 when it speaks against ``b``, -1 against ``a``, 0 when it says nothing.

    ``crop``: the other shows more of the picture (this one is a crop of it).
    ``overlay``: this one has a small patch the other lacks (a logo, a caption, a watermark).
    ``aspect``: log of b's aspect ratio over a's, for the same content (0 when they agree).
    """

    a: np.ndarray
    b: np.ndarray
    crop: np.ndarray
    overlay: np.ndarray
    aspect: np.ndarray


def relate(thumbs_a: np.ndarray, thumbs_b: np.ndarray, transforms: np.ndarray, window_x: np.ndarray,
           window_y: np.ndarray, aspect_a: np.ndarray, aspect_b: np.ndarray, a: np.ndarray, b: np.ndarray
           ) -> Relations:  # fmt: skip
    """Relations of matched pairs from their thumbnails (a turned by ``transforms``), windows and aspect ratios.

    ``aspect_*``: width / height of each picture's content (borders excluded), as displayed.
    """
    # The alignment searched crops to verify the pair; a crop counts only if it fits clearly better than
    # none (a watermark or a retouch can make the 1-D profiles favour a spurious one).
    aligned = aligned_scores(thumbs_a, thumbs_b, transforms).detail
    plain = aligned_scores(thumbs_a, thumbs_b, transforms, align=False).detail
    uncut = plain <= aligned + CROP_GAIN
    window_x = np.where(uncut, uncropped_window(), window_x)
    window_y = np.where(uncut, uncropped_window(), window_y)
    offsets = crop_windows()[2]
    ox, oy = offsets[window_x.astype(np.int64)], offsets[window_y.astype(np.int64)]  # (n, 2): low, high sides
    sides = np.concatenate([ox, oy], axis=1)
    cut_a = np.clip(sides, 0, None).sum(axis=1)  # positive offsets cut the first picture
    cut_b = np.clip(-sides, 0, None).sum(axis=1)
    crop = np.where(cut_a - cut_b >= CROP_MARGIN, 1, np.where(cut_b - cut_a >= CROP_MARGIN, -1, 0))
    # Aspect of the aligned content: the windows keep (1 - cuts) of each axis.

    def span(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        kept: np.ndarray = 1.0 - np.clip(lo, 0, None) - np.clip(hi, 0, None)
        return kept

    swapped = _SWAPS[transforms.astype(np.int64)]
    turned_a = np.where(swapped, 1.0 / aspect_a, aspect_a)
    seen_a = turned_a * span(ox[:, 0], ox[:, 1]) / span(oy[:, 0], oy[:, 1])
    seen_b = aspect_b * span(-ox[:, 0], -ox[:, 1]) / span(-oy[:, 0], -oy[:, 1])
    aspect = np.log(seen_b / seen_a)
    aspect = np.where(np.abs(aspect) >= ASPECT_MARGIN, aspect, 0.0)
    overlay = _overlays(thumbs_a, thumbs_b, transforms, window_x, window_y)
    return Relations(a, b, crop, overlay, aspect)


def _overlays(thumbs_a: np.ndarray, thumbs_b: np.ndarray, transforms: np.ndarray, window_x: np.ndarray,
              window_y: np.ndarray) -> np.ndarray:  # fmt: skip
    """+1 where b has a small added patch, -1 where a has, 0 where the difference is spread or nil.

    After aligning and matching brightness and contrast, a copy with a logo or a caption differs
    from its original in one compact region, and in that region it has the sharper, busier pixels
    (text and badge edges over the photo's own texture).
    """
    n = len(thumbs_a)
    if n == 0:
        return np.zeros(0, dtype=np.int8)
    first, second, _ = crop_windows()
    index = np.arange(n)
    turned = np.stack(dihedral_pixels(thumbs_a.astype(np.float32)), axis=1)[index, transforms.astype(np.int64)]
    wx, wy = window_x.astype(np.int64), window_y.astype(np.int64)
    aa = first[wy].astype(np.float32) @ turned @ np.swapaxes(first[wx].astype(np.float32), 1, 2)
    bb = second[wy].astype(np.float32) @ thumbs_b.astype(np.float32) @ np.swapaxes(second[wx].astype(np.float32),
                                                                                      1, 2)
    flat_a, flat_b = aa.reshape(n, -1), bb.reshape(n, -1)
    za = (flat_a - flat_a.mean(1, keepdims=True)) / np.maximum(flat_a.std(1, keepdims=True), 1.0)
    zb = (flat_b - flat_b.mean(1, keepdims=True)) / np.maximum(flat_b.std(1, keepdims=True), 1.0)
    difference = np.abs(za - zb)
    count = max(1, int(OVERLAY_AREA * difference.shape[1]))
    region = np.argpartition(-difference, count - 1, axis=1)[:, :count]
    top = np.take_along_axis(difference, region, axis=1).sum(1)
    # A re-encode's noise is spread out (the top tenth holds about a quarter of it); an added patch is not.
    concentrated = (top >= OVERLAY_CONCENTRATION * np.maximum(difference.sum(1), 1e-9)) & (
        top / count >= OVERLAY_MIN_DIFFERENCE)
    busy_a = np.take_along_axis(_busyness(aa).reshape(n, -1), region, axis=1).mean(1)
    busy_b = np.take_along_axis(_busyness(bb).reshape(n, -1), region, axis=1).mean(1)
    side = np.where(busy_b > busy_a * 1.15, 1, np.where(busy_a > busy_b * 1.15, -1, 0))
    return np.where(concentrated, side, 0).astype(np.int8)


def _busyness(x: np.ndarray) -> np.ndarray:
    """Local gradient magnitude of (n, 32, 32) images, same shape."""
    gx = np.abs(np.diff(x, axis=2, append=x[:, :, -1:]))
    gy = np.abs(np.diff(x, axis=1, append=x[:, -1:, :]))
    return gx + gy
