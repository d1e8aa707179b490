"""A deep fit's evidence must lie in the pictures, not in the screen layout around them (issue 24).

Two screenshots of *different* photos taken in one app share everything but
the photo: the status bar, the app bar's title, the buttons, the caption, the
picture box's place.  Their keypoints match there, and the matches fit a
transform (the identity) as well as a copy's do, while not one inlier lies on
either photo.  So a fit between files with a frame is judged again on the
inliers that lie in both files' *picture*, with the same rule as any fit
(``geometry``: at least ``min_inliers``, spread over the shared picture).

The picture of a file, on the 32 x 32 thumbnail the index holds
(:func:`picture_box`): where a file has a frame (its most common grey,
within ``FLAT_LEVELS``, covers a fifth of the thumbnail, surrounds the
picture and covers most of what lies outside it, as app backgrounds,
borders and letterboxing do), its picture is the box around the largest
connected part off that colour; text and icons on the frame are small parts
of their own.  An inlier counts where its keypoint lies inside both
pictures, away from their edges.  A file without a frame is all picture, and a pair
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
#: ... and it has one when this share of the thumbnail's edge lies outside the picture's box (a frame
#: surrounds its picture) and that colour covers this share of the area outside the box (a frame is one
#: flat colour with sparse text and icons: phone screenshots 0.86-0.94; soft photos whose most common
#: grey is a band of a gradient or a sky 0.43-0.70, and their box reaches most of the edge).
FRAME_EDGE = 2 / 3
FRAME_FLAT = 0.8


#: How far inside the picture's box an inlier must lie, at pyramid level 0, in detection pixels: half the
#: ORB patch's radius (``hashing.local``: patchSize 19, scaleFactor 1.2 per level), so that most of its
#: patch is picture.  The whole radius dropped one true screenshot pair of 893 deep fits on the small
#: phone-edits corpus (a small picture's inliers lie near its edge); half of it, none.
PATCH_RADIUS = 4.75
PATCH_STEP = 1.2


def picture_box(thumb: np.ndarray) -> tuple[int, int, int, int] | None:
    """The file's picture as ``(left, top, right, bottom)`` thumbnail pixels: the box around the largest
    part off the frame colour; None: the file has no frame (see the module doc), it is all picture."""
    pixels = thumb.astype(np.int16)
    mode = np.bincount(pixels.ravel(), minlength=256).argmax()
    off = np.abs(pixels - mode) > FLAT_LEVELS
    if 1.0 - off.mean() < FRAME_MIN_SHARE or not off.any():
        return None
    _, _, stats, _ = _cv2().connectedComponentsWithStats(off.astype(np.uint8), connectivity=4)
    x, y, w, h = (int(v) for v in stats[1 + int(stats[1:, 4].argmax()), :4])  # label 0 is the frame
    mask = np.zeros((THUMB, THUMB), bool)
    mask[y : y + h, x : x + w] = True
    edge = np.concatenate([mask[0], mask[-1], mask[1:-1, 0], mask[1:-1, -1]])
    if edge.mean() > 1.0 - FRAME_EDGE or 1.0 - off[~mask].mean() < FRAME_FLAT:
        return None
    return x, y, x + w, y + h


def _in_picture(box: tuple[int, int, int, int] | None, feat: LocalFeatures, index: np.ndarray) -> np.ndarray:
    """Which keypoints ``index`` of ``feat`` have most of their patch inside the picture ``box``.

    A keypoint on the picture's edge describes that edge (a photo's border
    against an app's background), which any photo shown at the same place
    has too.
    """
    if box is None:
        return np.ones(len(index), bool)
    x, y = feat.points[index, 0].astype(np.float64), feat.points[index, 1].astype(np.float64)
    radius = PATCH_RADIUS * PATCH_STEP ** feat.levels()[index].astype(np.float64)
    sx, sy = feat.width / THUMB, feat.height / THUMB
    left, top, right, bottom = box
    result: np.ndarray = ((x - radius >= left * sx) & (x + radius <= right * sx)
                          & (y - radius >= top * sy) & (y + radius <= bottom * sy))  # fmt: skip
    return result


def fits_on_layout(fit: Fit, a: LocalFeatures, b: LocalFeatures, thumb_a: np.ndarray, thumb_b: np.ndarray,
                   params: GeometryParams) -> bool:  # fmt: skip
    """Whether the fit ``a -> b`` holds only by the frames around the pictures (then it is no copy).

    Judged on the inliers inside both pictures: fewer than ``min_inliers``, or
    spread over too little of the picture area both files share, and the
    pictures do not match.
    """
    if fit.pairs is None:
        return False
    box_a, box_b = picture_box(thumb_a), picture_box(thumb_b)
    if box_a is None and box_b is None:
        return False
    inside = _in_picture(box_a, a, fit.pairs[:, 0]) & _in_picture(box_b, b, fit.pairs[:, 1])
    if int(inside.sum()) < params.min_inliers:
        return True
    # the picture both files share, in a's pixels: a's picture's thumbnail pixels whose centres land in b's
    left, top, right, bottom = box_a or (0, 0, THUMB, THUMB)
    v, u = np.mgrid[top:bottom, left:right]
    centres = np.stack([(u.ravel() + 0.5) * a.width / THUMB, (v.ravel() + 0.5) * a.height / THUMB], axis=1)
    mapped = _map(fit.matrix, centres) * (THUMB / np.array([b.width, b.height]))
    left, top, right, bottom = box_b or (0, 0, THUMB, THUMB)
    within = (mapped[:, 0] >= left) & (mapped[:, 0] < right) & (mapped[:, 1] >= top) & (mapped[:, 1] < bottom)
    shared = int(within.sum()) * a.width * a.height / (THUMB * THUMB)
    return not spread_enough(a.points[fit.pairs[inside, 0]].astype(np.float64), shared, params)
