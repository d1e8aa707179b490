"""Where one picture sits in another's frame, judged on the 32 x 32 thumbnails the index holds.

A deep fit (``matching.geometry``) that puts one frame inside the other
says one of two things: the inner picture is a crop of the outer one, or the
outer file shows the inner picture inside a frame of its own (a screenshot's
app bars, a border, letterboxing).  Both rules here look at the outer file's
thumbnail around and under the inner picture's quadrilateral:

* :func:`frame_share`: how much of the area *around* the inner picture is
  one flat colour, which tells a frame from more picture (who is the source);
* :func:`picture_on_frame`: how much of the inner picture lands *on* that
  frame colour where the inner picture has detail.  A screenshot of one view
  of a scene holds the keypoints of a second view shifted by half a frame:
  the shared half fits, and the second view's frame lies inside the
  screenshot's frame, but its other half lies over the app's bars.  The
  containment that a copy needs is inside the outer file's *picture*, not
  its frame.

On them, ``matching.deep`` decides which of a fitted pair is the source
(:func:`which_source`) and whether the fit is another view of a framed scene
(:func:`on_frame`).
"""

from __future__ import annotations

import numpy as np

from imgtwin.hashing.features import THUMB
from imgtwin.hashing.local import LocalFeatures
from imgtwin.hashing.picture import FLAT_LEVELS  # one flat colour: within these grey levels of the mode
from imgtwin.matching.geometry import Fit, _frame, _map

#: A thumbnail pixel has detail when its 3 x 3 neighbourhood spans at least this many grey levels.
DETAIL_LEVELS = 10


def inner_quad(fit: Fit, inner: LocalFeatures, outer: LocalFeatures, inner_is_a: bool) -> np.ndarray:
    """The inner picture's frame in the outer file's thumbnail pixels (4 x 2)."""
    matrix = fit.matrix if inner_is_a else np.linalg.inv(fit.matrix)
    quad: np.ndarray = _map(matrix, _frame(inner.width, inner.height)) * (THUMB / np.array([outer.width, outer.height]))
    return quad


def quad_masks(quad: np.ndarray, margin: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """(inside, around): thumbnail pixels whose centres lie ``margin`` pixels inside / outside the convex ``quad``."""
    y, x = np.mgrid[0:THUMB, 0:THUMB] + 0.5
    sign = 1.0 if _orientation(quad) > 0 else -1.0
    distance = np.full((THUMB, THUMB), np.inf)
    for k in range(4):
        p, q = quad[k], quad[(k + 1) % 4]
        length = max(float(np.hypot(*(q - p))), 1e-9)
        cross = ((q[0] - p[0]) * (y - p[1]) - (q[1] - p[1]) * (x - p[0])) * sign / length
        distance = np.minimum(distance, cross)  # signed distance to the nearest edge, positive inside
    return distance >= margin, distance <= -margin


def _orientation(quad: np.ndarray) -> float:
    x, y = quad[:, 0], quad[:, 1]
    return float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def frame_share(thumb: np.ndarray, quad: np.ndarray) -> float | None:
    """How much of the outer thumbnail around ``quad`` is one flat colour (None: no such area).

    App bars, letterboxing and borders are mostly one background colour (text
    and icons are sparse), while the rest of a photo, however soft, spreads
    over many grey levels.
    """
    _, around = quad_masks(quad)
    pixels = thumb[around].astype(np.int16)
    if len(pixels) < 0.05 * THUMB * THUMB:
        return None
    mode = np.bincount(pixels, minlength=256).argmax()
    return float((np.abs(pixels - mode) <= FLAT_LEVELS).mean())


def picture_on_frame(outer_thumb: np.ndarray, inner_thumb: np.ndarray, quad: np.ndarray) -> float:
    """The share of the inner picture (its quad in the outer thumbnail) that lies on the outer's frame colour
    where the inner picture itself has detail: 0 for a copy, about the unshared part for a shifted view.

    The frame colour is the mode of the outer thumbnail around ``quad``. A
    copy's flat areas (a sky, a wall) and the outer picture's own pixels of
    that colour lie where the inner picture is flat too, so only detail of the
    inner picture over flat frame counts (a sticker over a copy covers a tenth
    of it at most).
    """
    inside, around = quad_masks(quad)
    if not inside.any() or around.sum() < 0.05 * THUMB * THUMB:
        return 0.0
    outer = outer_thumb.astype(np.int16)
    mode = np.bincount(outer[around], minlength=256).argmax()
    framed = np.abs(outer[inside] - mode) <= FLAT_LEVELS
    # each inside pixel's place in the inner thumbnail: the quad's corners are the inner thumbnail's corners
    y, x = np.mgrid[0:THUMB, 0:THUMB] + 0.5
    to_inner = _square_homography(quad)
    points = np.stack([x[inside], y[inside], np.ones(int(inside.sum()))], axis=1) @ to_inner.T
    u = np.clip((points[:, 0] / points[:, 2]).astype(np.int64), 0, THUMB - 1)
    v = np.clip((points[:, 1] / points[:, 2]).astype(np.int64), 0, THUMB - 1)
    detail = _local_range(inner_thumb)[v, u] >= DETAIL_LEVELS
    return float((framed & detail).mean())


def _square_homography(quad: np.ndarray) -> np.ndarray:
    """The 3 x 3 map of ``quad``'s corners onto the thumbnail's (0, 0), (T, 0), (T, T), (0, T)."""
    from imgtwin.hashing.local import _cv2

    square = _frame(THUMB, THUMB).astype(np.float32)
    matrix: np.ndarray = _cv2().getPerspectiveTransform(quad.astype(np.float32), square).astype(np.float64)
    return matrix


def _local_range(thumb: np.ndarray) -> np.ndarray:
    """Each pixel's 3 x 3 neighbourhood's span of grey levels."""
    padded = np.pad(thumb.astype(np.int16), 1, mode="edge")
    stack = np.stack([padded[dy : dy + THUMB, dx : dx + THUMB] for dy in range(3) for dx in range(3)])
    result: np.ndarray = stack.max(axis=0) - stack.min(axis=0)
    return result


# Measured on the phone-edits corpus (685 fits): the area a screenshot or a
# frame adds around the photo is one colour (within 2 grey levels) for 80 %
# of its pixels (median; 10th percentile 53 %), the part of a photo a crop
# removed for 14 % (90th percentile 35 %).  In between, neither file is
# called the source.
_FRAME_SHARE = 0.5
_PICTURE_SHARE = 0.35
# The share of an inner picture that may lie on the outer file's frame colour where it has detail
# (``framing.picture_on_frame``): at most 0.18 for copies (stickers, flat walls and skies), from 0.27 up for
# views shifted by 40-60 % inside a screenshot of the other (benchmarks/texture_negatives.py, 1,450 fits).
_PICTURE_ON_FRAME = 0.25


def which_source(fit: Fit, a: LocalFeatures, b: LocalFeatures, thumb_a: np.ndarray | None, thumb_b: np.ndarray | None
            ) -> tuple[int, float]:  # fmt: skip
    """(0: a is the source, 1: b is, -1: neither or unsure; the fraction of the source shown by the other).

    When one frame lies inside the other, the inner one is either a crop of
    the outer picture (the outer one is the source) or a picture the outer
    one frames (a screenshot, a border: the inner one is the source); the
    outer file's area around the inner picture tells which (``framing.frame_share``).
    """
    containment = 0.9
    if fit.b_shown >= containment and fit.a_shown < 0.95:  # b's frame inside a's
        inner, outer, thumb, inner_is_a, inner_side = b, a, thumb_a, False, 1
    elif fit.a_shown >= containment and fit.b_shown < 0.95:  # a's frame inside b's
        inner, outer, thumb, inner_is_a, inner_side = a, b, thumb_b, True, 0
    else:
        return -1, min(fit.a_shown, fit.b_shown)
    quad = inner_quad(fit, inner, outer, inner_is_a)
    if in_a_corner(quad):  # a crop (see in_a_corner), however flat the part it cut off
        return 1 - inner_side, fit.a_shown if inner_side == 1 else fit.b_shown
    share = frame_share(thumb, quad) if thumb is not None else None
    shown = fit.a_shown if inner_side == 0 else fit.b_shown
    if share is None or _PICTURE_SHARE < share < _FRAME_SHARE:
        return -1, shown
    if share >= _FRAME_SHARE:
        return inner_side, shown
    return 1 - inner_side, fit.a_shown if inner_side == 1 else fit.b_shown


#: A side of the inner picture lies on the outer file's edge within this share of the outer's side (the fit's
#: error is about 1 %: ``GeometryParams.reprojection``).
_ON_EDGE = 0.02


def in_a_corner(quad: np.ndarray) -> bool:
    """Whether the inner picture (``quad``, in the outer thumbnail's pixels) lies on exactly two adjacent edges of
    the outer file: a crop off two sides (the straighten and crop tools of every gallery keep a corner where the
    user drags one). No frame does that: an app, a viewer or a chat shows a picture centred or across the width
    with its bars above and below, letterboxing and borders lie on opposite sides or all around. On the medium
    phone-edits corpus a crop off the left and bottom of a photo with a flat grey background was called the
    original's source by its flat cut-off part (``framing.frame_share`` 0.54-0.63), and kept over it."""
    low, high = _ON_EDGE * THUMB, (1 - _ON_EDGE) * THUMB
    left, top = bool(quad[:, 0].min() <= low), bool(quad[:, 1].min() <= low)
    right, bottom = bool(quad[:, 0].max() >= high), bool(quad[:, 1].max() >= high)
    return left + top + right + bottom == 2 and left != right


def on_frame(fit: Fit, a: LocalFeatures, b: LocalFeatures, thumb_a: np.ndarray, thumb_b: np.ndarray,
              containment: float) -> bool:  # fmt: skip
    """Whether a picture the fit puts inside the other's frame lies partly on that file's frame, not its picture.

    Then the containment that makes it a copy does not hold: it is another
    view of the scene that the outer file frames (see ``matching.framing``).
    """
    for inner, outer, inner_thumb, outer_thumb, inner_is_a, shown in (
            (a, b, thumb_a, thumb_b, True, fit.a_shown), (b, a, thumb_b, thumb_a, False, fit.b_shown)):
        quad = inner_quad(fit, inner, outer, inner_is_a)
        if shown >= containment and picture_on_frame(outer_thumb, inner_thumb, quad) > _PICTURE_ON_FRAME:
            return True
    return False
