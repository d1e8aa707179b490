"""A deep fit's evidence must lie in the pictures, not in the screen layout around them (issue 24).

Two screenshots of *different* photos taken in one app share everything but
the photo: the status bar, the app bar's title, the buttons, the caption, the
picture box's place.  Their keypoints match there, and the matches fit a
transform (the identity) as well as a copy's do, while not one inlier lies on
either photo.  So a fit between files with a frame is judged again on the
inliers that lie in both files' *picture*, with the same rule as any fit
(``geometry``: at least ``min_inliers``, spread over the shared picture).

The picture of a file, on the 32 x 32 thumbnail the index holds
(:func:`picture_mask`): where a file has a frame (its most common grey,
within ``FLAT_LEVELS``, covers a fifth of the thumbnail, runs along most of
its edge and covers most of what lies outside the picture, as app
backgrounds, borders and letterboxing do), its picture is the box around the
largest connected part off that colour; text and icons on the frame are
small parts of their own.  A file without a frame is all picture, and a pair
of such files is not judged again (the rule changes nothing for plain photos
and their copies, nor for soft photos whose most common grey is a band of a
gradient or a sky).
"""

from __future__ import annotations

import numpy as np

from imgtwin.hashing.features import THUMB
from imgtwin.hashing.local import LocalFeatures, _cv2
from imgtwin.matching.framing import FLAT_LEVELS
from imgtwin.matching.geometry import Fit, GeometryParams, _map, spread_enough

#: A file may have a frame when this share of its thumbnail has one grey level (within FLAT_LEVELS).
FRAME_MIN_SHARE = 0.2
#: ... and it has one when that colour runs along this share of the thumbnail's edge (a frame surrounds
#: its picture) and covers this share of the area outside the picture's box (a frame is one flat colour
#: with sparse text and icons).  Phone screenshots: 0.70-0.98 of the edge, 0.86-0.94 of the area; soft
#: photos whose most common grey is a band of a gradient, a dark corner or a sky: 0.17-0.59 of the edge,
#: or at most 0.70 of the area where the edge reaches 0.44 (phone-edits corpus, the fits this rule dropped
#: before it looked at the edge).
FRAME_EDGE = 2 / 3
FRAME_FLAT = 0.8


def picture_mask(thumb: np.ndarray) -> np.ndarray | None:
    """(32, 32) bool: the thumbnail pixels of the file's picture, the box around the largest part off the
    frame colour; None: the file has no frame (see the module doc), it is all picture."""
    pixels = thumb.astype(np.int16)
    mode = np.bincount(pixels.ravel(), minlength=256).argmax()
    off = np.abs(pixels - mode) > FLAT_LEVELS
    if 1.0 - off.mean() < FRAME_MIN_SHARE:
        return None
    edge = np.concatenate([off[0], off[-1], off[1:-1, 0], off[1:-1, -1]])
    if 1.0 - edge.mean() < FRAME_EDGE:
        return None
    count, _, stats, _ = _cv2().connectedComponentsWithStats(off.astype(np.uint8), connectivity=4)
    mask = np.zeros((THUMB, THUMB), bool)
    if count > 1:
        x, y, w, h = stats[1 + int(stats[1:, 4].argmax()), :4]  # label 0 is the frame
        mask[y : y + h, x : x + w] = True
    if mask.all() or 1.0 - off[~mask].mean() < FRAME_FLAT:
        return None
    return mask


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
