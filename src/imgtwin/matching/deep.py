"""``find --deep``: matches that global hashes miss, from local features.

1. **Candidates without all-pairs** (:func:`candidate_pairs`): locality-sensitive
   hashing of the binary descriptors.  Each of ``tables`` hash tables keys every
   descriptor by ``bits`` of its 256 bits (the same positions for all images,
   drawn once with a fixed seed); descriptors sharing a key in a table are
   *collisions*, and two images collect a vote per colliding descriptor pair.
   Corresponding keypoints of two copies differ in ~10-40 bits, so they
   collide in several tables; unrelated descriptors (~100+ bits apart) almost
   never do.  Keys shared by too many descriptors (flat-texture patterns that
   carry no information, like stop words) are dropped, so the work is bounded
   by ``max_bucket`` per key: it grows linearly with the collection, not with
   the square of it.  Pairs with at least ``min_votes`` are kept, at most
   ``per_image`` per image (the best by votes relative to both images'
   totals).
2. **Geometric verification** (``matching.geometry``): a RANSAC fit that must
   put one picture's frame inside the other's.
3. **What the fit says**: which member is the source (the keeper must never be
   a screenshot or a crop of another member, see :attr:`DeepMatches.derived`)
   and a ``transform`` text for each direction.

Byte-identical files share one feature record (they are keyed by content
hash), so the table holds each distinct picture once.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from imgtwin.hashing.features import THUMB
from imgtwin.hashing.local import LocalFeatures, LocalSpec
from imgtwin.loading.pillow_loader import StandardImageLoader
from imgtwin.matching.geometry import Fit, GeometryParams, fit_pair
from imgtwin.matching.grouping import Matches
from imgtwin.matching.search import default_threads

DESCRIPTOR_BITS = 256


def deep_loader(spec: LocalSpec) -> StandardImageLoader:
    """The deep pass's decode: JPEGs drafted to at least 3/4 of ``spec.side`` on the short side.

    That leaves at least the detector's pixel budget (``local.detection_image``)
    for 4:3 pictures and close to it for squarer ones.
    """
    return StandardImageLoader(max_dimension=2 * spec.side, decode_size=max(8, 3 * spec.side // 4))


@dataclass(frozen=True, slots=True)
class DeepParams:
    """Candidate search and verification settings (see the module doc and docs/benchmarks.md)."""

    tables: int = 16
    bits: int = 22
    max_bucket: int = 8
    vote_distance: int = 64  # of 256 bits: a colliding pair further apart is a coincidence, not a vote
    min_votes: int = 2
    per_image: int = 4
    seed: int = 14
    geometry: GeometryParams = GeometryParams()


@dataclass(frozen=True, slots=True)
class LocalTable:
    """All images' descriptors in one array; ``owner[k]`` is the image of descriptor ``k``."""

    features: tuple[LocalFeatures | None, ...]
    descriptors: np.ndarray  # (m, 32) uint8
    owner: np.ndarray  # (m,) int64

    @classmethod
    def build(cls, features: Sequence[LocalFeatures | None]) -> LocalTable:
        width = next((f.descriptors.shape[1] for f in features if f is not None and len(f)), 32)
        parts = [(k, f.descriptors) for k, f in enumerate(features) if f is not None and len(f)
                 and f.descriptors.shape[1] == width and width % 8 == 0]  # fmt: skip
        if not parts:
            return cls(tuple(features), np.zeros((0, width), np.uint8), np.zeros(0, np.int64))
        descriptors = np.concatenate([d for _, d in parts])
        owner = np.concatenate([np.full(len(d), k, np.int64) for k, d in parts])
        return cls(tuple(features), descriptors, owner)

    def __len__(self) -> int:
        return len(self.features)


def _keys(words: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """(m,) int64 keys: the descriptor bits at ``positions`` (``words``: (m, 4) uint64 views)."""
    key = np.zeros(len(words), dtype=np.int64)
    for p in positions.tolist():
        key = (key << 1) | ((words[:, p >> 6] >> np.uint64(p & 63)) & np.uint64(1)).astype(np.int64)
    return key


def _bucket_pairs(keys: np.ndarray, max_bucket: int) -> tuple[np.ndarray, np.ndarray]:
    """Descriptor index pairs ``(x, y)`` sharing a key, in buckets of at most ``max_bucket``."""
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    lengths = np.diff(np.r_[starts, len(keys)])
    xs, ys = [], []
    for length in np.unique(lengths):
        if length < 2 or length > max_bucket:
            continue
        first = starts[lengths == length]
        left, right = np.triu_indices(int(length), 1)
        xs.append(order[first[:, None] + left[None, :]].ravel())
        ys.append(order[first[:, None] + right[None, :]].ravel())
    if not xs:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(xs), np.concatenate(ys)


def candidate_pairs(table: LocalTable, params: DeepParams = DeepParams()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Image pairs ``(i, j, votes)``, ``i < j``, by descriptor collisions (see the module doc).

    A vote is a distinct pair of descriptors (one in each image) that share a
    key in at least one table, so a correspondence found by many tables, or a
    pattern repeated across one picture, counts once per descriptor pair.
    """
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
    m = len(table.descriptors)
    if m == 0:
        return empty
    words = np.ascontiguousarray(table.descriptors).view(np.uint64)
    bits = table.descriptors.shape[1] * 8
    rng = np.random.default_rng(params.seed)
    codes = []
    for _ in range(params.tables):
        positions = rng.choice(bits, min(params.bits, bits - 1), replace=False)
        x, y = _bucket_pairs(_keys(words, positions), params.max_bucket)
        other = table.owner[x] != table.owner[y]
        x, y = x[other], y[other]
        codes.append(np.minimum(x, y) * m + np.maximum(x, y))
    descriptor_pairs = np.unique(np.concatenate(codes))
    x, y = descriptor_pairs // m, descriptor_pairs % m
    close = np.bitwise_count(words[x] ^ words[y]).sum(axis=1) <= params.vote_distance * bits / DESCRIPTOR_BITS
    x, y = x[close], y[close]
    if len(x) == 0:
        return empty
    n = int(table.owner.max()) + 1
    a, b = table.owner[x], table.owner[y]
    pairs, votes = np.unique(np.minimum(a, b) * n + np.maximum(a, b), return_counts=True)
    i, j = pairs // n, pairs % n
    # Soft, grainy or repetitive pictures collide with everything; a pair is
    # ranked by its votes relative to both pictures' totals (a cosine), so it
    # is the pair's own agreement that counts, not how busy its pictures are.
    total = np.bincount(i, weights=votes, minlength=n) + np.bincount(j, weights=votes, minlength=n)
    score = votes / np.sqrt(total[i] * total[j])
    strong = votes >= params.min_votes
    i, j, votes, score = i[strong], j[strong], votes[strong], score[strong]
    if params.per_image > 0 and len(i):
        keep = _top_per_image(i, j, score, params.per_image)
        i, j, votes = i[keep], j[keep], votes[keep]
    return i, j, votes


def _top_per_image(i: np.ndarray, j: np.ndarray, votes: np.ndarray, k: int) -> np.ndarray:
    """Mask of pairs among the ``k`` best scored (``votes``) of either of their images."""
    keep = np.zeros(len(i), dtype=bool)
    for side in (i, j):
        order = np.lexsort((-votes, side))
        ranked = side[order]
        starts = np.r_[0, np.flatnonzero(ranked[1:] != ranked[:-1]) + 1]
        position = np.arange(len(ranked)) - np.repeat(starts, np.diff(np.r_[starts, len(ranked)]))
        keep[order[position < k]] = True
    return keep


@dataclass(frozen=True, slots=True)
class DeepMatches:
    """Verified deep matches between images ``i[k]`` and ``j[k]``.

    ``transform[k]`` says how ``j``'s picture relates to ``i``'s, ``inverse[k]``
    how ``i``'s relates to ``j``'s (None: same frame).  ``source[k]`` is the
    member whose picture the other one shows a part of or frames (``i[k]``,
    ``j[k]``, or -1 when neither is derived: same frame, a sticker, a
    rotation), and ``shared[k]`` the fraction of the source's picture the
    other one shows.
    """

    i: np.ndarray
    j: np.ndarray
    inliers: np.ndarray
    transform: tuple[str | None, ...]
    inverse: tuple[str | None, ...]
    source: np.ndarray
    shared: np.ndarray
    distance: np.ndarray

    @property
    def derived(self) -> list[tuple[int, int]]:
        """``(source, derived)`` pairs: the derived copy must never be kept over its source."""
        out = []
        for a, b, s in zip(self.i.tolist(), self.j.tolist(), self.source.tolist()):
            if s >= 0:
                out.append((s, b if s == a else a))
        return out

    def matches(self) -> Matches:
        """As ``grouping.Matches`` (transform text for both directions)."""
        return Matches(self.i, self.j, self.distance, tuple(t or "identity" for t in self.transform),
                       tuple(t or "identity" for t in self.inverse))

    def __len__(self) -> int:
        return len(self.i)


def _frame_like(thumb: np.ndarray, fit: Fit, inner: LocalFeatures, outer: LocalFeatures, inner_is_a: bool) -> bool:
    """Is ``outer``'s area around ``inner``'s picture a frame (UI, border) rather than more picture?

    Looked at on ``outer``'s 32 x 32 thumbnail: app bars, letterboxing and
    borders are flat but for sparse text and icons, while the rest of a
    photo has texture nearly everywhere.
    """
    from imgtwin.matching.geometry import _frame, _map

    matrix = fit.matrix if inner_is_a else np.linalg.inv(fit.matrix)
    quad = _map(matrix, _frame(inner.width, inner.height))  # inner's frame in outer's pixels
    quad = quad * (THUMB / np.array([outer.width, outer.height]))
    y, x = np.mgrid[0:THUMB, 0:THUMB] + 0.5
    inside = np.ones((THUMB, THUMB), dtype=bool)
    for k in range(4):
        p, q = quad[k], quad[(k + 1) % 4]
        cross = (q[0] - p[0]) * (y - p[1]) - (q[1] - p[1]) * (x - p[0])
        inside &= cross >= -0.5 if _orientation(quad) > 0 else cross <= 0.5
    outside = ~inside
    if outside.sum() < 0.05 * THUMB * THUMB:
        return False
    t = thumb.astype(np.int16)
    gradient = np.zeros((THUMB, THUMB), dtype=np.int16)
    gradient[:, :-1] = np.maximum(gradient[:, :-1], np.abs(np.diff(t, axis=1)))
    gradient[:-1, :] = np.maximum(gradient[:-1, :], np.abs(np.diff(t, axis=0)))
    flat = gradient <= 1
    return bool(flat[outside].mean() >= 0.5)


def _orientation(quad: np.ndarray) -> float:
    x, y = quad[:, 0], quad[:, 1]
    return float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def _source(fit: Fit, a: LocalFeatures, b: LocalFeatures, thumb_a: np.ndarray | None, thumb_b: np.ndarray | None
            ) -> tuple[int, float]:  # fmt: skip
    """(0: a is the source, 1: b is, -1: neither; the fraction of the source shown by the other)."""
    containment = 0.9
    if fit.b_shown >= containment and fit.a_shown < 0.95:
        # b's frame inside a's picture: b is a crop of a, unless a's extra is a frame around b
        if thumb_a is not None and _frame_like(thumb_a, fit, b, a, inner_is_a=False):
            return 1, fit.b_shown
        return 0, fit.a_shown
    if fit.a_shown >= containment and fit.b_shown < 0.95:
        if thumb_b is not None and _frame_like(thumb_b, fit, a, b, inner_is_a=True):
            return 0, fit.a_shown
        return 1, fit.b_shown
    return -1, min(fit.a_shown, fit.b_shown)


def verify_candidates(table: LocalTable, i: np.ndarray, j: np.ndarray, params: DeepParams = DeepParams(),
                      threads: int | None = None) -> list[Fit | None]:  # fmt: skip
    """``fit_pair`` of each candidate, the smaller picture as the fit's target (OpenCV releases the GIL)."""

    def one(pair: tuple[int, int]) -> Fit | None:
        a, b = table.features[pair[0]], table.features[pair[1]]
        assert a is not None and b is not None
        if a.width * a.height >= b.width * b.height:
            return fit_pair(a, b, params.geometry)
        fit = fit_pair(b, a, params.geometry)
        return None if fit is None else _inverted(fit, b, a)

    with ThreadPoolExecutor(threads or default_threads()) as pool:
        return list(pool.map(one, zip(i.tolist(), j.tolist()), chunksize=64))


def _inverted(fit: Fit, a: LocalFeatures, b: LocalFeatures) -> Fit:
    """The fit b -> a of a fit a -> b."""
    return Fit(np.linalg.inv(fit.matrix), fit.inliers, fit.matches, fit.b_shown, fit.a_shown, -fit.rotation,
               1 / fit.scale, fit.perspective)


def deep_matches(
    features: Sequence[LocalFeatures | None],
    thumbs: np.ndarray | None = None,
    hashes: np.ndarray | None = None,
    params: DeepParams = DeepParams(),
    skip: set[tuple[int, int]] | None = None,
) -> DeepMatches:
    """Verified deep matches among ``features`` (indices into it).

    ``thumbs`` (n, 32, 32): the untrimmed thumbnails of the matching features,
    used to tell a frame from more picture; ``hashes`` (n,) uint64: their
    64-bit pHashes, for the reported distance; ``skip``: pairs ``(i, j)``,
    ``i < j``, not to verify (already matched).
    """
    table = LocalTable.build(features)
    i, j, _ = candidate_pairs(table, params)
    if skip:
        keep = np.fromiter(((a, b) not in skip for a, b in zip(i.tolist(), j.tolist())), bool, len(i))
        i, j = i[keep], j[keep]
    fits = verify_candidates(table, i, j, params)
    rows = [k for k, f in enumerate(fits) if f is not None]
    out_i, out_j = i[rows], j[rows]
    transform, inverse, source, shared, inliers = [], [], [], [], []
    for k in rows:
        fit = fits[k]
        assert fit is not None
        a, b = table.features[int(i[k])], table.features[int(j[k])]
        assert a is not None and b is not None
        ta = thumbs[int(i[k])] if thumbs is not None else None
        tb = thumbs[int(j[k])] if thumbs is not None else None
        side, fraction = _source(fit, a, b, ta, tb)
        transform.append(fit.describe(of_b=True))
        inverse.append(fit.describe(of_b=False))
        source.append(int(i[k]) if side == 0 else int(j[k]) if side == 1 else -1)
        shared.append(fraction)
        inliers.append(fit.inliers)
    if hashes is not None and len(rows):
        distance = np.bitwise_count(hashes[out_i] ^ hashes[out_j]).astype(np.int64)
    else:
        distance = np.zeros(len(rows), np.int64)
    return DeepMatches(out_i, out_j, np.array(inliers, np.int64), tuple(transform), tuple(inverse),
                       np.array(source, np.int64), np.array(shared, np.float64), distance)
