"""A deep fit's evidence must lie in the pictures, not in the screen layout around them (issue 24).

Two screenshots of *different* photos taken in one app share everything but
the photo: the status bar, the app bar's title, the buttons, the caption, the
picture box's place.  Their keypoints match there, and the matches fit a
transform (the identity) as well as a copy's do, while not one inlier lies on
either photo.  So a fit between files with a frame is judged again on the
inliers that lie in both files' *picture*, with the same rule as any fit
(``geometry``: at least ``min_inliers``, spread over the shared picture).

The picture of a file, on the 32 x 32 thumbnail the index holds
(:func:`picture_mask`): where a file has a frame colour (a fifth of the
thumbnail or more within ``FLAT_LEVELS`` of its most common grey, as app
backgrounds, borders and letterboxing are), its picture is the largest
connected part off that colour (and any part half as large: a collage);
text and icons on the frame are small parts of their own.  A file without
such a colour is all picture, and a pair of such files is not judged again
(the rule changes nothing for plain photos and their copies).
"""

from __future__ import annotations

import numpy as np

from imgtwin.hashing.features import THUMB
from imgtwin.hashing.local import LocalFeatures, _cv2
from imgtwin.matching.framing import FLAT_LEVELS
from imgtwin.matching.geometry import Fit, GeometryParams, _map, spread_enough

#: A file has a frame when this share of its thumbnail has one grey level (within FLAT_LEVELS): the
#: gate ``framing.frame_share`` and the phone-edits corpus measured (a frame is one colour for 80 % of
#: its pixels, median; it covers a third of a phone screenshot or more).
FRAME_MIN_SHARE = 0.2


def picture_mask(thumb: np.ndarray) -> np.ndarray | None:
    """(32, 32) bool: the thumbnail pixels that belong to the file's picture; None: no frame, all picture."""
    pixels = thumb.astype(np.int16)
    mode = np.bincount(pixels.ravel(), minlength=256).argmax()
    off = np.abs(pixels - mode) > FLAT_LEVELS
    if 1.0 - off.mean() < FRAME_MIN_SHARE:
        return None
    count, labels, stats, _ = _cv2().connectedComponentsWithStats(off.astype(np.uint8), connectivity=4)
    if count <= 1:
        return np.zeros((THUMB, THUMB), bool)
    areas = stats[1:, 4]  # label 0 is the frame
    keep = 1 + np.flatnonzero(areas >= 0.5 * areas.max())
    result: np.ndarray = np.isin(labels, keep)
    return result


def _in_mask(mask: np.ndarray, points: np.ndarray, feat: LocalFeatures) -> np.ndarray:
    u = np.clip((points[:, 0] * THUMB / feat.width).astype(np.int64), 0, THUMB - 1)
    v = np.clip((points[:, 1] * THUMB / feat.height).astype(np.int64), 0, THUMB - 1)
    result: np.ndarray = mask[v, u]
    return result


def fits_on_layout(fit: Fit, a: LocalFeatures, b: LocalFeatures, thumb_a: np.ndarray, thumb_b: np.ndarray,
                   params: GeometryParams) -> bool:  # fmt: skip
    """Whether the fit ``a -> b`` holds only by the frames around the pictures (then it is no copy).

    Judged on the inliers inside both pictures: fewer than ``min_inliers``, or
    spread over too little of the picture area both files share, and the
    pictures do not match.
    """
    if fit.points is None:
        return False
    mask_a, mask_b = picture_mask(thumb_a), picture_mask(thumb_b)
    if mask_a is None and mask_b is None:
        return False
    full = np.ones((THUMB, THUMB), bool)
    mask_a = full if mask_a is None else mask_a
    mask_b = full if mask_b is None else mask_b
    points = fit.points.astype(np.float64)
    inside = _in_mask(mask_a, points, a) & _in_mask(mask_b, _map(fit.matrix, points), b)
    if int(inside.sum()) < params.min_inliers:
        return True
    # the picture both files share, in a's pixels: a's picture pixels whose centres land in b's picture
    v, u = np.nonzero(mask_a)
    centres = np.stack([(u + 0.5) * a.width / THUMB, (v + 0.5) * a.height / THUMB], axis=1)
    mapped = _map(fit.matrix, centres)
    within = (mapped[:, 0] >= 0) & (mapped[:, 0] < b.width) & (mapped[:, 1] >= 0) & (mapped[:, 1] < b.height)
    shared = int(_in_mask(mask_b, mapped[within], b).sum()) * a.width * a.height / (THUMB * THUMB)
    return not spread_enough(points[inside], shared, params)
