"""``find --deep``: matches that global hashes miss, from local features.

1. **Candidates without all-pairs** (:func:`candidate_pairs`): locality-sensitive
   hashing of the binary descriptors.  Each of ``tables`` hash tables keys every
   descriptor by ``bits`` of its bits (the same positions for all images,
   drawn once with a fixed seed); descriptors of two images that share a key
   and are at most ``vote_distance`` apart are a vote for the pair.
   Corresponding keypoints of two copies differ in ~5 of 128 bits (median),
   so they collide in most tables.  Soft and low-detail pictures crowd a few
   keys with near-identical descriptors; in such a bucket each descriptor
   votes for its ``nearest`` closest partners only, and buckets beyond
   ``max_bucket`` are skipped, so the work grows with the number of
   descriptors, not with its square.  Votes are binned by the change of
   keypoint orientation and pyramid level (weak geometric consistency), a
   pair scores its best bin, and each image keeps its ``per_image`` best pairs
   (votes relative to both images' totals).  The loops are compiled
   (``matching.deep_kernel``).
2. **Geometric verification** (``matching.geometry``): a RANSAC fit that must
   put one picture's frame inside the other's, and inside its *picture*: a
   picture that lies partly on the other file's frame (a screenshot's bars)
   is another view of the scene that file shows (``matching.framing``); and
   enough inliers must lie in both pictures, not only on the screen layout
   around them (two screenshots of different photos in one app,
   ``matching.content``).
3. **What the fit says**: which member is the source (the keeper must never be
   a screenshot or a crop of another member, see :attr:`DeepMatches.derived`)
   and a ``transform`` text for each direction.

Byte-identical files share one feature record (they are keyed by content
hash), so the table holds each distinct picture once.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np

from imgtwin.hashing.local import LocalFeatures
from imgtwin.matching.content import fits_on_layout
from imgtwin.matching.framing import on_frame, which_source
from imgtwin.matching.geometry import Fit, GeometryParams, fit_matches
from imgtwin.matching.grouping import Matches
from imgtwin.matching.search import default_threads

DESCRIPTOR_BITS = 256


@dataclass(frozen=True, slots=True)
class DeepParams:
    """Candidate search and verification settings (see the module doc and docs/benchmarks.md)."""

    tables: int = 16
    bits: int = 24
    max_bucket: int = 256
    nearest: int = 2  # in a crowded bucket, each descriptor votes for its nearest few only
    vote_distance: int = 32  # of 256 bits: a colliding pair further apart is a coincidence, not a vote
    min_votes: int = 2
    per_image: int = 8
    seed: int = 14
    geometry: GeometryParams = field(default_factory=GeometryParams)


@dataclass(frozen=True, slots=True)
class LocalTable:
    """All images' descriptors in one array; ``owner[k]`` is the image of descriptor ``k``."""

    features: tuple[LocalFeatures | None, ...]
    descriptors: np.ndarray  # (m, d) uint8, image after image
    owner: np.ndarray  # (m,) int64, ascending
    shape: np.ndarray | None = None  # (m,) uint8: orientation bin << 3 | pyramid level

    @property
    def offsets(self) -> np.ndarray:
        """(n + 1,) int64: image ``k``'s descriptors are rows ``offsets[k]:offsets[k + 1]``."""
        return np.searchsorted(self.owner, np.arange(len(self.features) + 1)).astype(np.int64)

    @classmethod
    def build(cls, features: Sequence[LocalFeatures | None]) -> LocalTable:
        width = next((f.descriptors.shape[1] for f in features if f is not None and len(f)), 32)
        parts = [(k, f.descriptors) for k, f in enumerate(features) if f is not None and len(f)
                 and f.descriptors.shape[1] == width and width % 8 == 0]  # fmt: skip
        if not parts:
            return cls(tuple(features), np.zeros((0, width), np.uint8), np.zeros(0, np.int64))
        descriptors = np.concatenate([d for _, d in parts])
        owner = np.concatenate([np.full(len(d), k, np.int64) for k, d in parts])
        shape = np.concatenate([features[k].shape if features[k].shape is not None  # type: ignore[union-attr]
                                else np.zeros(len(d), np.uint8) for k, d in parts])  # fmt: skip
        return cls(tuple(features), descriptors, owner, shape)

    def __len__(self) -> int:
        return len(self.features)


def candidate_pairs(table: LocalTable, params: DeepParams = DeepParams(), files: np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Image pairs ``(i, j, votes)``, ``i < j``, by descriptor collisions (see the module doc).

    A vote is a pair of descriptors (one in each image) that share a key in
    one table and are at most ``vote_distance`` apart: a close
    correspondence collides in several tables and counts as often.
    ``files``: each image's file, where a file has more than one (an inner picture, :func:`_candidates`): two
    images of one file are no pair, and their votes count for nothing.
    """
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
    m = len(table.descriptors)
    if m == 0:
        return empty
    words = np.ascontiguousarray(table.descriptors).view(np.uint64)
    bits = table.descriptors.shape[1] * 8
    rng = np.random.default_rng(params.seed)
    positions = [np.sort(rng.choice(bits, min(params.bits, bits - 1), replace=False)).astype(np.int64)
                 for _ in range(params.tables)]  # fmt: skip
    limit = int(params.vote_distance * bits / DESCRIPTOR_BITS)

    n = len(table.features)
    shape = table.shape if table.shape is not None else np.zeros(m, np.uint8)
    from imgtwin.matching.deep_kernel import bucket_votes, table_keys  # numba loads in 0.3 s: only --deep needs it

    def one_table(where: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        found = bucket_votes(words, table.owner, table_keys(words, where), params.max_bucket, limit, params.nearest)
        x, y = found // m, found % m
        a, b = table.owner[x], table.owner[y]  # a < b: descriptors are stored image after image
        # Weak geometric consistency (Jegou et al., 2008): the keypoints of a
        # copy turn by the same angle and change pyramid level by the same
        # step, while chance collisions spread over all of them.  Votes are
        # counted per (pair, orientation change, level change); a pair scores
        # its best bin.
        turn = (((shape[y] >> 3).astype(np.int64) - (shape[x] >> 3) + 1) % 32) // 2  # 16 bins, 0 deg centred
        step = ((shape[y] & 7).astype(np.int64) - (shape[x] & 7) + 8) // 2  # levels 2 by 2: 1.44x in scale
        return np.unique(((a * n + b) * 16 + turn) * 8 + step, return_counts=True)

    with ThreadPoolExecutor(default_threads()) as pool:  # the kernels release the GIL
        parts = list(pool.map(one_table, positions))
    if not any(len(c) for c, _ in parts):
        return empty
    binned, where = np.unique(np.concatenate([c for c, _ in parts]), return_inverse=True)
    counts = np.bincount(where, weights=np.concatenate([k for _, k in parts])).astype(np.int64)
    pair_of = binned // 128
    starts = np.flatnonzero(np.r_[True, pair_of[1:] != pair_of[:-1]])
    pairs, votes = pair_of[starts], np.maximum.reduceat(counts, starts)
    i, j = pairs // n, pairs % n
    if files is not None:
        other = files[i] != files[j]
        pairs, votes, i, j = pairs[other], votes[other], i[other], j[other]
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


def _top_per_image(i: np.ndarray, j: np.ndarray, score: np.ndarray, k: int) -> np.ndarray:
    """Mask of pairs among the ``k`` best scored of either of their images."""
    side = np.concatenate([i, j])
    both = np.concatenate([score, score])
    order = np.lexsort((-both, side))
    ranked = side[order]
    starts = np.r_[0, np.flatnonzero(ranked[1:] != ranked[:-1]) + 1]
    position = np.arange(len(ranked)) - np.repeat(starts, np.diff(np.r_[starts, len(ranked)]))
    chosen = np.zeros(len(side), dtype=bool)
    chosen[order[position < k]] = True
    return chosen[: len(i)] | chosen[len(i) :]


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

    def of_rows(self, index: np.ndarray) -> DeepMatches:
        """These matches among a subset of rows, as matches of the rows themselves (``index[k]``: image ``k``'s row)."""
        return DeepMatches(index[self.i], index[self.j], self.inliers, self.transform, self.inverse,
                           np.where(self.source >= 0, index[np.maximum(self.source, 0)], -1), self.shared,
                           self.distance)

    def where(self, keep: np.ndarray) -> DeepMatches:
        """The matches where ``keep`` (a mask or positions)."""
        picked = np.arange(len(self.i))[keep].tolist()
        return DeepMatches(self.i[picked], self.j[picked], self.inliers[picked],
                           tuple(self.transform[k] for k in picked), tuple(self.inverse[k] for k in picked),
                           self.source[picked], self.shared[picked], self.distance[picked])

    def matches(self) -> Matches:
        """As ``grouping.Matches`` (transform text for both directions)."""
        return Matches(self.i, self.j, self.distance, tuple(t or "identity" for t in self.transform),
                       inverse=tuple(t or "identity" for t in self.inverse), basis=("local",) * len(self.i))

    def __len__(self) -> int:
        return len(self.i)


def verify_candidates(table: LocalTable, i: np.ndarray, j: np.ndarray, params: DeepParams = DeepParams(),
                      threads: int | None = None) -> list[Fit | None]:  # fmt: skip
    """The accepted fit ``i -> j`` of each candidate, or None.

    Descriptors are matched for all candidates by the compiled kernel, in
    parallel chunks; only pairs with enough matches go on to RANSAC.  Each fit
    is made onto the smaller picture (the RANSAC threshold is relative to the
    target) and turned around where that is ``i``.  A pair that does not fit
    where either file has an inner picture (``LocalFeatures.inner``: a
    screenshot's photo described on its own) is fitted again on it
    (:attr:`Fit.inner`): its keypoints are not mixed with the whole file's,
    whose coarser copies of the same patches would fail the ratio test.
    """
    out = _fits(table, i, j, params, threads)
    again = [k for k, fit in enumerate(out) if fit is None and any(
        (f := table.features[int(x)]) is not None and f.inner is not None for x in (i[k], j[k]))]  # fmt: skip
    if not again:
        return out
    # Each file twice: its whole features at 2p, its inner picture's (or the whole's again) at 2p + 1; a pair is
    # tried as each side's inner picture against the other's whole file, then both inner pictures (a framed
    # photo's flat sky may have given the plain original a box of its own).
    rows = sorted({int(x) for k in again for x in (i[k], j[k])})
    position = {r: p for p, r in enumerate(rows)}
    both = [s for r in rows for s in (table.features[r], _inner_or_whole(table.features[r]))]
    tried, pi, pj = [], [], []
    for k in again:
        a, b = position[int(i[k])], position[int(j[k])]
        inner_a, inner_b = both[2 * a] is not both[2 * a + 1], both[2 * b] is not both[2 * b + 1]
        for sides in ((True, False), (False, True), (True, True)):
            if (inner_a or not sides[0]) and (inner_b or not sides[1]):
                tried.append((k, sides))
                pi.append(2 * a + sides[0])
                pj.append(2 * b + sides[1])
    fits = _fits(LocalTable.build(both), np.array(pi, np.int64), np.array(pj, np.int64), params, threads)
    for (k, sides), fit in zip(tried, fits):
        if fit is not None and out[k] is None:
            out[k] = replace(fit, inner=sides)
    return out


def _inner_or_whole(features: LocalFeatures | None) -> LocalFeatures | None:
    return features.inner if features is not None and features.inner is not None else features


def _fits(table: LocalTable, i: np.ndarray, j: np.ndarray, params: DeepParams, threads: int | None
          ) -> list[Fit | None]:  # fmt: skip
    """:func:`verify_candidates` on ``table``'s own features (the whole files')."""
    out: list[Fit | None] = [None] * len(i)
    if len(i) == 0 or not len(table.descriptors):
        return out
    words = np.ascontiguousarray(table.descriptors).view(np.uint64)
    offsets = table.offsets
    area = np.array([0 if f is None else f.width * f.height for f in table.features], dtype=np.int64)
    swap = area[i] < area[j]
    src, dst = np.where(swap, j, i), np.where(swap, i, j)
    geometry = params.geometry
    limit = geometry.max_distance * table.descriptors.shape[1] * 8 / DESCRIPTOR_BITS
    width = int(np.diff(offsets).max())
    from imgtwin.matching.deep_kernel import pair_matches  # numba: only --deep needs it

    def chunk(lo: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
        hi = min(lo + _VERIFY_CHUNK, len(i))
        out_a = np.empty((hi - lo, width), np.int64)
        out_b = np.empty((hi - lo, width), np.int64)
        counts = np.zeros(hi - lo, np.int64)
        pair_matches(words, offsets, src[lo:hi], dst[lo:hi], geometry.ratio, limit, geometry.min_inliers,
                     out_a, out_b, counts)
        return lo, out_a, out_b, counts

    with ThreadPoolExecutor(threads or default_threads()) as pool:
        for lo, out_a, out_b, counts in pool.map(chunk, range(0, len(i), _VERIFY_CHUNK)):
            for r in np.flatnonzero(counts).tolist():
                k = lo + r
                a, b = table.features[int(src[k])], table.features[int(dst[k])]
                assert a is not None and b is not None
                fit = fit_matches(a, b, out_a[r, : counts[r]], out_b[r, : counts[r]], geometry)
                if fit is not None:
                    out[k] = _inverted(fit, a, b) if swap[k] else fit
    return out


_VERIFY_CHUNK = 512


def _inverted(fit: Fit, a: LocalFeatures, b: LocalFeatures) -> Fit:
    """The fit b -> a of a fit a -> b."""
    pairs = None if fit.pairs is None else fit.pairs[:, ::-1]
    return Fit(np.linalg.inv(fit.matrix), fit.inliers, fit.matches, fit.b_shown, fit.a_shown, -fit.rotation,
               1 / fit.scale, fit.perspective, pairs, fit.inner[::-1])


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
    i, j = _candidates(features, table, params)
    if skip:
        keep = np.fromiter(((a, b) not in skip for a, b in zip(i.tolist(), j.tolist())), bool, len(i))
        i, j = i[keep], j[keep]
    return verified_matches(table, i, j, thumbs, hashes, params)


def _candidates(features: Sequence[LocalFeatures | None], table: LocalTable, params: DeepParams
                ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """:func:`candidate_pairs` of ``features`` (``table``), each inner picture (``LocalFeatures.inner``) searched as
    an image of its own: a screenshot's photo has its own best pairs and its votes are weighed against its own
    total, not crowded out by the app's keypoints (as the default ``find`` searches a framed picture's hash as a
    file's: ``matching.framed``). Pairs ``(i, j)``, ``i < j``, of ``features``."""
    framed = [k for k, f in enumerate(features) if f is not None and f.inner is not None]
    if not framed:
        i, j, _ = candidate_pairs(table, params)
        return i, j
    owner = np.concatenate([np.arange(len(features)), np.array(framed, np.int64)])
    extended = [*features, *(features[k].inner for k in framed)]  # type: ignore[union-attr]
    i, j, _ = candidate_pairs(LocalTable.build(extended), params, owner)
    a, b = owner[i], owner[j]
    keys = np.unique(np.minimum(a, b)[a != b] * len(features) + np.maximum(a, b)[a != b])
    return keys // len(features), keys % len(features)


def verified_matches(table: LocalTable, i: np.ndarray, j: np.ndarray, thumbs: np.ndarray | None = None,
                     hashes: np.ndarray | None = None, params: DeepParams = DeepParams()) -> DeepMatches:
    """The pairs ``(i, j)`` of ``table``'s images whose fit holds, as :func:`deep_matches` judges its candidates
    (``thumbs`` and ``hashes`` as there); the default ``find``'s escalation (``matching.escalate``) gives its own."""
    fits = verify_candidates(table, i, j, params)
    for k, fit in enumerate(fits):  # the inliers must lie in the pictures, and the containment hold for them
        a, b = table.features[int(i[k])], table.features[int(j[k])]
        if fit is None or a is None or b is None:
            continue
        if fits_on_layout(fit, a, b, params.geometry) or (thumbs is not None and on_frame(
                fit, a, b, thumbs[int(i[k])], thumbs[int(j[k])], params.geometry.containment)):
            fits[k] = None
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
        side, fraction = which_source(fit, a, b, ta, tb)
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
