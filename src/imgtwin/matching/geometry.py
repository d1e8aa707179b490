"""Geometric verification of two pictures' keypoints: is one a copy of (part of) the other?

For a candidate pair (``matching.deep`` finds them), the descriptors are
matched (nearest neighbour with Lowe's ratio test, both ways), a similarity
transform (rotation, uniform scale, shift) is fitted with RANSAC, and a
homography where the similarity leaves a perspective-corrected copy only
partly explained.  The fit is accepted when it explains enough matches spread
over the shared picture **and** one picture's frame lies inside the other's:
a crop, a straightened copy, a screenshot, a sticker leave one frame inside
the other, while two shots of one scene shifted by 40-60 % (the near-miss
pairs every photo library holds) overlap by half at most.  That containment
test, not the inlier count, is what keeps near-misses apart: they share
thousands of genuinely matching pixels.

The fit also says what the copy is: ``rotated 3°``, ``crop 22%`` (of the
other's area), ``inside a larger frame`` (a screenshot, a border), or
``perspective``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from imgtwin.hashing.local import LocalFeatures, _cv2


@dataclass(frozen=True, slots=True)
class GeometryParams:
    """Acceptance rule of a fit; defaults measured on the phone-edits corpus (docs/benchmarks.md)."""

    ratio: float = 0.75  # Lowe's ratio test on Hamming distances (0.85 let 6x more random pairs reach RANSAC)
    max_distance: int = 80  # of 256 bits: a nearest neighbour further away is no match
    reprojection: float = 0.012  # RANSAC inlier threshold, fraction of the target image's long side
    min_inliers: int = 14
    min_inlier_ratio: float = 0.18  # inliers / mutual ratio-test matches
    containment: float = 0.9  # one frame must lie this much inside the other
    min_spread: float = 0.08  # inliers' hull / area shared by both frames, with fewer than 2 x min_inliers
    min_spread_many: float = 0.015  # the same with more: low-detail pictures have detail in one spot only
    min_scale: float = 1 / 8
    max_scale: float = 8.0


@dataclass(frozen=True, slots=True)
class Fit:
    """An accepted fit ``a -> b`` and what it says about the pair.

    ``a_shown``: fraction of ``a``'s frame visible in ``b``; ``b_shown``: fraction
    of ``b``'s frame that shows ``a``'s picture.  A crop of ``a`` has
    ``b_shown`` ~ 1 and ``a_shown`` < 1; ``a`` inside a screenshot has
    ``a_shown`` ~ 1 and ``b_shown`` < 1.
    """

    matrix: np.ndarray  # 3 x 3, a's pixels -> b's pixels
    inliers: int
    matches: int
    a_shown: float
    b_shown: float
    rotation: float  # degrees, counter-clockwise, of a's picture in b
    scale: float  # b pixels per a pixel
    perspective: bool
    pairs: np.ndarray | None = None  # (inliers, 2) int64: each inlier's keypoint in a, in b
    #: Whether the fit was made on a's, b's inner picture (``LocalFeatures.inner``): ``pairs`` index its keypoints.
    inner: tuple[bool, bool] = (False, False)

    def sides(self, a: LocalFeatures, b: LocalFeatures) -> tuple[LocalFeatures, LocalFeatures]:
        """The features of ``a`` and ``b`` this fit was made on: theirs, or their inner pictures'."""
        return (a.inner if self.inner[0] and a.inner is not None else a,
                b.inner if self.inner[1] and b.inner is not None else b)

    def describe(self, of_b: bool = True) -> str | None:
        """How ``b`` relates to ``a`` (``of_b``) or ``a`` to ``b``, in a few words; None: same frame."""
        rotation = self.rotation if of_b else -self.rotation
        shown_self, shown_other = (self.b_shown, self.a_shown) if of_b else (self.a_shown, self.b_shown)
        words = []
        if abs(rotation) >= 0.75:
            words.append(f"rotated {rotation:.0f}°" if abs(rotation) >= 1.5 else f"rotated {rotation:.1f}°")
        if self.perspective:
            words.append("perspective")
        if shown_other < 0.95:
            words.append(f"crop {100 * (1 - shown_other):.0f}%")
        if shown_self < 0.9:
            words.append("inside a larger frame")
        return ", ".join(words) or None


def _frame(width: int, height: int) -> np.ndarray:
    return np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float64)


def _map(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    homogeneous = np.hstack([points, np.ones((len(points), 1))]) @ matrix.T
    result: np.ndarray = homogeneous[:, :2] / homogeneous[:, 2:3]
    return result


def _area(polygon: np.ndarray) -> float:
    x, y = polygon[:, 0], polygon[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _overlap(quad: np.ndarray, width: int, height: int) -> float:
    """Area of the convex quadrilateral ``quad`` inside the rectangle [0, width] x [0, height]."""
    area, _ = _cv2().intersectConvexConvex(quad.astype(np.float32), _frame(width, height).astype(np.float32))
    return float(area)


def _hull_area(points: np.ndarray) -> float:
    if len(points) < 3:
        return 0.0
    hull = _cv2().convexHull(points.astype(np.float32))
    return _area(hull.reshape(-1, 2).astype(np.float64))


def _good_matches(a: LocalFeatures, b: LocalFeatures, params: GeometryParams) -> tuple[np.ndarray, np.ndarray]:
    """Indices (ia, ib) of mutual nearest neighbours that pass the ratio test one way."""
    if len(a) < 2 or len(b) < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    bits = a.descriptors.shape[1] * 8
    limit = params.max_distance * bits / 256
    if a.descriptors.shape[1] <= 64:  # binary (ORB, AKAZE): the compiled loop, both directions in one pass
        from imgtwin.matching.deep_kernel import mutual_matches

        wa = np.ascontiguousarray(a.descriptors).view(np.uint64)
        wb = np.ascontiguousarray(b.descriptors).view(np.uint64)
        out_a, out_b = np.empty(len(a), np.int64), np.empty(len(a), np.int64)
        count = mutual_matches(wa, wb, params.ratio, limit, out_a, out_b)
        return out_a[:count], out_b[:count]
    else:  # float-like (SIFT bytes), for the detector comparison only
        diff = a.descriptors[:, None, :].astype(np.float32) - b.descriptors[None, :, :].astype(np.float32)
        distance = np.sqrt((diff * diff).sum(axis=2))
        limit = params.max_distance * 4.0
    nearest = distance.argmin(axis=1)
    two = np.partition(distance, 1, axis=1)[:, :2]
    backward = distance.argmin(axis=0)
    ia = np.arange(len(a))
    ok = (two[:, 0] <= limit) & (two[:, 0] <= params.ratio * two[:, 1]) & (backward[nearest] == ia)
    return ia[ok], nearest[ok].astype(np.int64)


def fit_pair(a: LocalFeatures, b: LocalFeatures, params: GeometryParams = GeometryParams()) -> Fit | None:
    """The accepted fit of ``a`` onto ``b``, or None (see the module doc)."""
    if len(a) < params.min_inliers or len(b) < params.min_inliers:
        return None
    ia, ib = _good_matches(a, b, params)
    return fit_matches(a, b, ia, ib, params)


def fit_matches(a: LocalFeatures, b: LocalFeatures, ia: np.ndarray, ib: np.ndarray,
                params: GeometryParams = GeometryParams()) -> Fit | None:  # fmt: skip
    """The accepted fit of ``a`` onto ``b`` from matched keypoints ``a[ia] ~ b[ib]``, or None."""
    if len(ia) < params.min_inliers:
        return None
    src, dst = a.points[ia].astype(np.float64), b.points[ib].astype(np.float64)
    cv2 = _cv2()
    threshold = params.reprojection * max(b.width, b.height)
    affine, mask = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=threshold,
                                               maxIters=1000, confidence=0.995, refineIters=10)
    best: tuple[np.ndarray, np.ndarray, bool] | None = None
    if affine is not None:
        best = (np.vstack([affine, [0.0, 0.0, 1.0]]), mask.ravel().astype(bool), False)
    partial = best is not None and params.min_inliers // 2 <= best[1].sum() < max(params.min_inliers, 0.8 * len(ia))
    if partial:  # a similarity explains part of the matches: a perspective fix explains more of them
        homography, hmask = cv2.findHomography(src, dst, cv2.RANSAC, threshold, maxIters=1000, confidence=0.995)
        if homography is not None and _sane_homography(homography, a):
            inliers = hmask.ravel().astype(bool)
            if best is None or inliers.sum() >= 1.15 * best[1].sum() + 2:
                best = (homography / homography[2, 2], inliers, True)
    if best is None:
        return None
    matrix, inliers, perspective = best
    count = int(inliers.sum())
    if count < params.min_inliers or count < params.min_inlier_ratio * len(ia):
        return None
    return _judge(matrix, np.stack([ia[inliers], ib[inliers]], axis=1), len(ia), a, b, perspective, params)


def _sane_homography(h: np.ndarray, a: LocalFeatures) -> bool:
    """A homography a camera or an editor could make: convex, same orientation, mild perspective."""
    if abs(h[2, 2]) < 1e-12:
        return False
    quad = _map(h / h[2, 2], _frame(a.width, a.height))
    if not np.all(np.isfinite(quad)):
        return False
    cross = []
    for k in range(4):
        p, q, r = quad[k], quad[(k + 1) % 4], quad[(k + 2) % 4]
        cross.append((q[0] - p[0]) * (r[1] - q[1]) - (q[1] - p[1]) * (r[0] - q[0]))
    if not (all(c > 0 for c in cross) or all(c < 0 for c in cross)) or cross[0] < 0:
        return False  # folded, or mirrored (a mirror is the global matcher's business)
    sides = [np.linalg.norm(quad[(k + 1) % 4] - quad[k]) for k in range(4)]
    # opposite sides of the mapped frame within 35 % of each other: a keystone fix, not a degenerate fit
    result: bool = min(sides[0], sides[2]) >= 0.65 * max(sides[0], sides[2]) and \
                min(sides[1], sides[3]) >= 0.65 * max(sides[1], sides[3])
    return result


def spread_enough(points: np.ndarray, area: float, params: GeometryParams) -> bool:
    """Whether the inliers ``points`` spread over enough of ``area`` (in the points' pixels) to be a copy's."""
    spread = _hull_area(points) / max(area, 1e-9)
    return spread >= (params.min_spread if len(points) < 2 * params.min_inliers else params.min_spread_many)


def _judge(matrix: np.ndarray, pairs: np.ndarray, matches: int, a: LocalFeatures, b: LocalFeatures,
           perspective: bool, params: GeometryParams) -> Fit | None:
    inliers, inlier_points = len(pairs), a.points[pairs[:, 0]].astype(np.float64)
    quad = _map(matrix, _frame(a.width, a.height))
    quad_area = _area(quad)
    if quad_area <= 0:
        return None
    shared = _overlap(quad, b.width, b.height)
    a_shown = shared / quad_area
    b_shown = shared / (b.width * b.height)
    scale = math.sqrt(quad_area / (a.width * a.height))
    if not params.min_scale <= scale <= params.max_scale:
        return None
    if max(a_shown, b_shown) < params.containment:
        return None  # overlapping views of one scene, not a copy
    shared_in_a = shared / (scale * scale)  # the shared area in a's pixels
    if not spread_enough(inlier_points, shared_in_a, params):
        return None  # a few matches clustered in one spot: a repeated pattern, a logo both carry
    rotation = math.degrees(math.atan2(matrix[1, 0] - matrix[0, 1], matrix[0, 0] + matrix[1, 1]))
    return Fit(matrix, inliers, matches, min(1.0, a_shown), min(1.0, b_shown), -rotation, scale, perspective,
               pairs)
