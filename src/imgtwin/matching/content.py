"""A deep fit's evidence must lie in the pictures, not in the screen layout around them (issue 24).

Two screenshots of *different* photos taken in one app share everything but
the photo: the status bar, the app bar's title, the buttons, the caption, the
picture box's place.  Their keypoints match there, and the matches fit a
transform (the identity) as well as a copy's do, while not one inlier lies on
either photo.  So a fit between files with a frame is judged again on the
inliers that lie in both files' *picture*, with the same rule as any fit
(``geometry``: at least ``min_inliers``, spread over the shared picture).

The picture of a file is the box its local features carry
(``hashing.picture``: found on the detection image, between the bands of
one flat colour that an app's bars, gaps, captions and margins make, where
they lie on both sides of it).  An inlier counts where its keypoint lies
inside both pictures, away from their edges.  A file without a frame is all
picture, and a pair of such files is not judged again (the rule changes
nothing for plain photos and their copies, nor for photos whose flat sky
touches one edge).
"""

from __future__ import annotations

import numpy as np

from imgtwin.hashing.local import LocalFeatures
from imgtwin.hashing.picture import Box
from imgtwin.matching.geometry import Fit, GeometryParams, _map, spread_enough

#: How far inside the picture's box an inlier must lie, at pyramid level 0, in detection pixels: half the
#: ORB patch's radius (``hashing.local``: patchSize 19, scaleFactor 1.2 per level), so that most of its
#: patch is picture.  The whole radius dropped one true screenshot pair of 893 deep fits on the small
#: phone-edits corpus (a small picture's inliers lie near its edge); half of it, none (with the thumbnail's
#: box then, and with the detection image's box now: the same 893).
PATCH_RADIUS = 4.75
PATCH_STEP = 1.2
#: The grid (per side) on which the picture area both files share is measured.
SAMPLES = 32


def _in_picture(feat: LocalFeatures, index: np.ndarray) -> np.ndarray:
    """Which keypoints ``index`` of ``feat`` have most of their patch inside its picture.

    A keypoint on the picture's edge describes that edge (a photo's border
    against an app's background), which any photo shown at the same place
    has too.
    """
    if feat.picture is None:
        return np.ones(len(index), bool)
    x, y = feat.points[index, 0].astype(np.float64), feat.points[index, 1].astype(np.float64)
    radius = PATCH_RADIUS * PATCH_STEP ** feat.levels()[index].astype(np.float64)
    left, top, right, bottom = feat.picture
    result: np.ndarray = ((x - radius >= left) & (x + radius <= right)
                          & (y - radius >= top) & (y + radius <= bottom))  # fmt: skip
    return result


def _box(feat: LocalFeatures) -> Box:
    return feat.picture or (0, 0, feat.width, feat.height)


def fits_on_layout(fit: Fit, a: LocalFeatures, b: LocalFeatures, params: GeometryParams) -> bool:
    """Whether the fit ``a -> b`` holds only by the frames around the pictures (then it is no copy).

    Judged on the inliers inside both pictures: fewer than ``min_inliers``, or
    spread over too little of the picture area both files share, and the
    pictures do not match.
    """
    if fit.pairs is None or (a.picture is None and b.picture is None):
        return False
    a, b = fit.sides(a, b)  # an inner picture's features carry their file's picture box
    inside = _in_picture(a, fit.pairs[:, 0]) & _in_picture(b, fit.pairs[:, 1])
    if int(inside.sum()) < params.min_inliers:
        return True
    # the picture both files share, in a's pixels: the share of a grid over a's picture that lands in b's
    left, top, right, bottom = _box(a)
    v, u = np.mgrid[0:SAMPLES, 0:SAMPLES] + 0.5
    centres = np.stack([left + u.ravel() * (right - left) / SAMPLES, top + v.ravel() * (bottom - top) / SAMPLES], 1)
    mapped = _map(fit.matrix, centres)
    left_b, top_b, right_b, bottom_b = _box(b)
    within = ((mapped[:, 0] >= left_b) & (mapped[:, 0] < right_b)
              & (mapped[:, 1] >= top_b) & (mapped[:, 1] < bottom_b))  # fmt: skip
    shared = float(within.mean()) * (right - left) * (bottom - top)
    return not spread_enough(a.points[fit.pairs[inside, 0]].astype(np.float64), shared, params)
