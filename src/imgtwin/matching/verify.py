"""Second, more discriminative check on candidate pairs: crop-aligned correlation.

A 64-bit pHash keeps only ~32 independent bits, so distant-but-unrelated
pictures (smooth skies, same-texture tiles cut from one photo) collide, while
an edge crop of 2-10 % moves a copy 10-20 bits away.  Both are settled here on
the stored 32 x 32 thumbnails (``MatchFeatures.thumb``):

1. the candidate's dihedral transform is applied to the first thumbnail;
2. per axis, the best crop hypothesis is found on 1-D mean profiles: each side
   of the axis may be cut by 0-14 % from one image or the other (13 x 13
   hypotheses, a batched matrix product for all pairs at once);
3. both thumbnails are resampled to the chosen windows and compared by the
   Pearson correlation of their pixel gradients (structure, not brightness:
   insensitive to brightness/contrast/gamma edits and to flat shading).

The score is in [-1, 1]; copies score ~0.8-1.0, unrelated pictures rarely 0.6.
"""

from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from imgtwin.hashing.dct import dct_matrix
from imgtwin.hashing.features import THUMB, dihedral_pixels

MAX_CROP = 0.14
CROP_STEP = 0.02
_BATCH = 256
_DETAIL_BASIS = dct_matrix(THUMB)[:16]
TOP = 3  # hypotheses per axis tried in 2-D
# From this many pairs in a call on, the compiled kernel (verify_kernel) judges them: below, loading numba
# costs more than it saves. Once it is loaded, every call uses it (verify_pairs' calls on the thumbnails of
# trimmed files, a find's last block): on the medium corpus those cost the numpy path as much as the kernel's
# whole run.
COMPILED_PAIRS = 4096
#: Pairs from which the kernel runs on every core (:func:`compiled_scores`): below, a thread's start costs more.
SPLIT_PAIRS = 1024
_KERNEL = "imgtwin.matching.verify_kernel"


@lru_cache(maxsize=4)
def crop_windows(size: int = THUMB) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Resampling matrices for every crop hypothesis of one axis.

    Returns ``(first, second, offsets)``: ``first[k]``/``second[k]`` resample a
    length-``size`` signal of the first/second image to hypothesis ``k``; a
    positive side offset cuts the first image, a negative one the second.
    """
    steps = np.round(np.arange(-MAX_CROP, MAX_CROP + 1e-9, CROP_STEP), 4)
    first, second, offsets = [], [], []
    for lo in steps:
        for hi in steps:
            first.append(resampler(size, max(lo, 0.0), max(hi, 0.0)))
            second.append(resampler(size, max(-lo, 0.0), max(-hi, 0.0)))
            offsets.append((lo, hi))
    return np.stack(first), np.stack(second), np.array(offsets)


def resampler(size: int, cut_low: float, cut_high: float) -> np.ndarray:
    """Linear interpolation matrix sampling the window [cut_low, 1 - cut_high] (read-only: shared)."""
    # Keyed by the values' types too: float32 and float64 cuts of one value give different matrices.
    return _resampler(size, type(cut_low).__name__, cut_low, type(cut_high).__name__, cut_high)


@lru_cache(maxsize=4096)
def _resampler(size: int, _low_type: str, cut_low: float, _high_type: str, cut_high: float) -> np.ndarray:
    matrix = _resample(size, cut_low, cut_high)
    matrix.setflags(write=False)
    return matrix


def _resample(size: int, cut_low: float, cut_high: float) -> np.ndarray:
    span = 1.0 - cut_low - cut_high
    centres = cut_low + (np.arange(size) + 0.5) / size * span  # in [0, 1]
    position = np.clip(centres * size - 0.5, 0, size - 1)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, size - 1)
    weight = position - low
    matrix = np.zeros((size, size))
    matrix[np.arange(size), low] += 1 - weight
    matrix[np.arange(size), high] += weight
    return matrix


def _zscore(x: np.ndarray, axis: int = -1) -> np.ndarray:
    x = x - x.mean(axis=axis, keepdims=True)
    norm = np.sqrt((x * x).sum(axis=axis, keepdims=True))
    result: np.ndarray = x / np.maximum(norm, 1e-9)
    return result


def _best_axis(profile_a: np.ndarray, profile_b: np.ndarray, top: int = 1) -> np.ndarray:
    """(n, top) indices of the crop hypotheses whose resampled 1-D profiles correlate best.

    Profiles are compared by the correlation of their first differences; the
    resampling, differencing and centring are one precomputed linear map, so
    each side is a single BLAS product for all hypotheses at once.
    """
    first, second = _profile_maps()
    k = len(crop_windows()[2])
    ra = (profile_a.astype(np.float32) @ first).reshape(len(profile_a), k, -1)
    rb = (profile_b.astype(np.float32) @ second).reshape(len(profile_b), k, -1)
    dot = np.einsum("nki,nki->nk", ra, rb)
    norm = np.sqrt(np.einsum("nki,nki->nk", ra, ra) * np.einsum("nki,nki->nk", rb, rb))
    score = dot / np.maximum(norm, 1e-6)
    return np.argsort(-score, axis=1)[:, :top]


@lru_cache(maxsize=1)
def windows32() -> tuple[np.ndarray, np.ndarray]:
    """``crop_windows()``'s matrices as float32, converted once rather than per batch."""
    first, second, _ = crop_windows()
    return first.astype(np.float32), second.astype(np.float32)


def turned(x: np.ndarray, transforms: np.ndarray) -> np.ndarray:
    """Each of ``x`` (n, ..., h, w) under its own dihedral transform (index as ``DIHEDRAL_NAMES``).

    The same pixels as picking from all 8 variants of every item, without making the 8.
    """
    g = np.asarray(transforms).astype(np.int64)
    if len(g) and not g.any():
        return x
    if x.shape[-1] != x.shape[-2]:  # transposes change the shape: pick from all 8
        return np.stack(dihedral_pixels(x), axis=1)[np.arange(len(x)), g]
    out = np.empty_like(x)
    for k in np.unique(g):
        rows = np.flatnonzero(g == k)
        out[rows] = dihedral_pixels(x[rows])[int(k)]
    return out


@lru_cache(maxsize=1)
def _profile_maps() -> tuple[np.ndarray, np.ndarray]:
    """(size, k * (size - 1)) maps: profile -> centred differences of each hypothesis."""
    first, second, _ = crop_windows()
    size = first.shape[-1]
    diff = np.diff(np.eye(size), axis=0)  # (size - 1, size)
    centre = np.eye(size - 1) - 1.0 / (size - 1)
    maps = []
    for matrix in (first, second):
        m = centre @ diff @ matrix  # (k, size - 1, size)
        maps.append(np.ascontiguousarray(m.reshape(-1, size).T, dtype=np.float32))
    return maps[0], maps[1]


def _gradients(x: np.ndarray) -> np.ndarray:
    gx = np.diff(x, axis=-1)[..., :-1, :]
    gy = np.diff(x, axis=-2)[..., :, :-1]
    return np.concatenate([gx.reshape(len(x), -1), gy.reshape(len(x), -1)], axis=1)


@dataclass(frozen=True, slots=True)
class Alignment:
    """What :func:`aligned_scores` found per pair: scores, and the crop windows that gave the detail distance.

    ``window_x``/``window_y`` index the hypotheses of :func:`crop_windows` (same
    order at every size), so colour thumbnails can be cut the same way.
    """

    correlation: np.ndarray
    detail: np.ndarray
    window_x: np.ndarray
    window_y: np.ndarray

    def __iter__(self):  # type: ignore[no-untyped-def]
        """``correlation, detail = aligned_scores(...)`` keeps working."""
        return iter((self.correlation, self.detail))


def uncropped_window() -> int:
    """Index of the hypothesis that cuts nothing from either image."""
    offsets = crop_windows()[2]
    return int(np.flatnonzero((offsets[:, 0] == 0) & (offsets[:, 1] == 0))[0])


def aligned_similarity(
    thumbs_a: np.ndarray, thumbs_b: np.ndarray, transforms: np.ndarray, *, align: bool = True, top: int = TOP
) -> np.ndarray:
    """Gradient correlation only (see :func:`aligned_scores`)."""
    return aligned_scores(thumbs_a, thumbs_b, transforms, align=align, top=top).correlation


def detail_bits(x: np.ndarray) -> np.ndarray:
    """(n, 255) bools: the 16 x 16 DCT block of 32 x 32 pixels (DC left out) above its median.

    Four times the pHash's resolution: same-scene tiles and smooth pictures
    that collide on the 64-bit hash (~0-10 bits) are >= ~42 bits apart here,
    while true copies, once aligned, mostly stay within ~20.
    """
    block = _DETAIL_BASIS @ x.astype(np.float64) @ _DETAIL_BASIS.T
    flat = block.reshape(len(x), -1)[:, 1:]
    # The median of an odd count is its middle element: what np.median returns, without its overhead.
    middle = flat.shape[1] // 2
    if flat.shape[1] % 2 == 0:
        above: np.ndarray = flat > np.median(flat, axis=1, keepdims=True)
        return above
    result: np.ndarray = flat > np.partition(flat, middle, axis=1)[:, middle : middle + 1]
    return result


def aligned_scores(
    thumbs_a: np.ndarray, thumbs_b: np.ndarray, transforms: np.ndarray, *, align: bool = True, top: int = TOP,
    compiled: bool | None = None,
) -> Alignment:
    """Crop-aligned gradient correlation of thumbnail pairs.

    ``thumbs_a``/``thumbs_b``: (n, 32, 32) uint8; ``transforms``: (n,) dihedral
    index applied to ``a`` so that it looks like ``b``.  The ``top`` best crop
    hypotheses of each axis (by 1-D profiles) are tried in 2-D and the best
    score is kept.  ``align=False`` skips the crop search.  ``compiled``: whether the
    kernel judges them (default: from ``COMPILED_PAIRS`` pairs on, or once loaded); the pairs it is
    unsure of are judged by :func:`numpy_scores` either way.
    """
    if align and _compiled(len(thumbs_a), thumbs_a, thumbs_b, compiled):
        correlation, detail, window_x, window_y, handed = compiled_scores(thumbs_a, thumbs_b, transforms, top)
        rows = np.flatnonzero(handed)
        if len(rows):  # float32 rounding alone decides these: the numpy path's rounding, as before
            again = numpy_scores(thumbs_a[rows], thumbs_b[rows], np.asarray(transforms)[rows], top=top)
            correlation[rows], detail[rows] = again.correlation, again.detail
            window_x[rows], window_y[rows] = again.window_x, again.window_y
        return Alignment(correlation, detail, window_x, window_y)
    return numpy_scores(thumbs_a, thumbs_b, transforms, align=align, top=top)


def _compiled(n: int, thumbs_a: np.ndarray, thumbs_b: np.ndarray, asked: bool | None) -> bool:
    """Whether the kernel should judge ``n`` pairs of these shapes."""
    shape = (THUMB, THUMB)
    if n == 0 or thumbs_a.shape[1:] != shape or thumbs_b.shape[1:] != shape:
        return False
    if asked is not None:
        return asked
    return n >= COMPILED_PAIRS or _KERNEL in sys.modules


def numpy_scores(
    thumbs_a: np.ndarray, thumbs_b: np.ndarray, transforms: np.ndarray, *, align: bool = True, top: int = TOP
) -> Alignment:
    """:func:`aligned_scores` in numpy batches: the reference the compiled kernel is held to."""
    n = len(thumbs_a)
    out = np.empty(n)
    detail = np.empty(n, dtype=np.int16)
    window_x = np.full(n, uncropped_window(), dtype=np.int16)
    window_y = window_x.copy()
    first, second = windows32()
    for lo in range(0, n, _BATCH):
        a = thumbs_a[lo : lo + _BATCH].astype(np.float32)
        b = thumbs_b[lo : lo + _BATCH].astype(np.float32)
        a = turned(a, np.asarray(transforms[lo : lo + _BATCH]))
        if not align:
            out[lo : lo + _BATCH] = (_zscore(_gradients(a)) * _zscore(_gradients(b))).sum(axis=1)
            detail[lo : lo + _BATCH] = (detail_bits(a) != detail_bits(b)).sum(axis=1)
            continue
        kx = _best_axis(a.mean(axis=1), b.mean(axis=1), top)
        ky = _best_axis(a.mean(axis=2), b.mean(axis=2), top)
        best = np.full(len(a), -1.0)
        best_detail = np.full(len(a), 255, dtype=np.int16)
        best_x = np.empty(len(a), dtype=np.int16)
        best_y = np.empty(len(a), dtype=np.int16)
        for tx in range(kx.shape[1]):
            fx, sx = first[kx[:, tx]], second[kx[:, tx]]
            a_x = a @ np.swapaxes(fx, 1, 2)
            b_x = b @ np.swapaxes(sx, 1, 2)
            for ty in range(ky.shape[1]):
                aa = first[ky[:, ty]] @ a_x
                bb = second[ky[:, ty]] @ b_x
                score = (_zscore(_gradients(aa)) * _zscore(_gradients(bb))).sum(axis=1)
                best = np.maximum(best, score)
                distance = (detail_bits(aa) != detail_bits(bb)).sum(axis=1)
                better = distance < best_detail
                best_detail = np.where(better, distance, best_detail)
                best_x = np.where(better, kx[:, tx], best_x)
                best_y = np.where(better, ky[:, ty], best_y)
        out[lo : lo + _BATCH] = best
        detail[lo : lo + _BATCH] = best_detail
        window_x[lo : lo + _BATCH] = best_x
        window_y[lo : lo + _BATCH] = best_y
    return Alignment(out, detail, window_x, window_y)


def resampling_taps(matrices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct windows of (hypothesis, out, in) resampling matrices as two taps a row.

    Returns ``(idx, wts, window)``: (window, out, 2) input indices and weights, and each
    hypothesis' window.
    """
    distinct, window = np.unique(matrices.reshape(len(matrices), -1), axis=0, return_inverse=True)
    distinct = distinct.reshape(-1, *matrices.shape[1:])
    idx = np.zeros((*distinct.shape[:2], 2), np.int64)
    wts = np.zeros((*distinct.shape[:2], 2))
    for w, matrix in enumerate(distinct):
        for r, row in enumerate(matrix):
            taps = np.flatnonzero(row)
            if len(taps) > 2 or not len(taps):
                raise ValueError("a resampling row needs one or two taps")
            idx[w, r, : len(taps)] = taps
            idx[w, r, len(taps) :] = taps[0]
            wts[w, r, : len(taps)] = row[taps]
    return idx, wts, window.reshape(-1)


@lru_cache(maxsize=1)
def _kernel_tables() -> tuple[np.ndarray, ...]:
    """Both sides' two-tap windows (padded to one count; and as unsigned taps, a row per tap), each hypothesis'
    windows, the DCT's halves, bit places."""
    # The float32 weights the numpy path multiplies with.
    sides = [resampling_taps(m.astype(np.float64)) for m in windows32()]
    count = max(len(s[0]) for s in sides)

    def padded(x: np.ndarray) -> np.ndarray:
        return np.concatenate([x, np.repeat(x[:1], count - len(x), axis=0)])

    idx = np.stack([padded(s[0]) for s in sides])
    wts = np.stack([padded(s[1]) for s in sides])
    basis = _DETAIL_BASIS
    d, size = basis.shape
    half = size // 2
    # Row k of the DCT is even (k even) or odd about the middle: half of it and the sign give the rest.
    sign = np.where(np.arange(d) % 2 == 0, 1.0, -1.0)[:, None]
    if not np.allclose(basis[:, half:], sign * basis[:, :half][:, ::-1]):
        raise ValueError("the DCT basis lacks its symmetry")
    order = np.concatenate([np.arange(0, d, 2), np.arange(1, d, 2)])  # the kernel's order of frequencies
    even = np.ascontiguousarray(basis[0::2, :half].T)
    odd = np.ascontiguousarray(basis[1::2, :half].T)
    # position[y frequency, x frequency] (kernel order): the bit detail_bits gives it, -1 for DC
    position = order[:, None] * d + order[None, :] - 1
    taps = np.ascontiguousarray(np.moveaxis(idx, -1, 1).astype(np.uint32))  # (side, tap, window, row)
    tap_wts = np.ascontiguousarray(np.moveaxis(wts, -1, 1))
    return idx, wts, taps, tap_wts, np.stack([s[2] for s in sides], axis=1), even, odd, position.astype(np.int64)


def compiled_scores(thumbs_a: np.ndarray, thumbs_b: np.ndarray, transforms: np.ndarray, top: int = TOP
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """The compiled kernel alone on (n, 32, 32) uint8 pairs: correlation, detail, windows, and which it hands back.

    Loads numba (:mod:`verify_kernel`) on first use. From :data:`SPLIT_PAIRS` pairs on, the pairs are cut into one
    piece per core, judged on threads (the kernel releases the GIL; each pair is judged alone, so the same numbers).
    """
    from imgtwin.matching import verify_kernel as kernel
    from imgtwin.matching.search import default_threads

    idx, wts, taps, tap_wts, windows, even, odd, position = _kernel_tables()
    a, b = np.ascontiguousarray(thumbs_a, dtype=np.uint8), np.ascontiguousarray(thumbs_b, dtype=np.uint8)
    g = np.ascontiguousarray(transforms, dtype=np.int64)

    def piece(cut: slice) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        result: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] = kernel.verify_kernel(
            a[cut], b[cut], g[cut], top, idx, wts, taps, tap_wts, windows, even, odd, position, kernel.SCORE_TOL,
            kernel.COEF_TOL)
        return result

    threads = min(default_threads(), len(a) // SPLIT_PAIRS)
    if threads < 2:
        return piece(slice(None))
    from concurrent.futures import ThreadPoolExecutor

    bounds = np.linspace(0, len(a), threads + 1).astype(np.int64)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        parts = list(pool.map(piece, [slice(lo, hi) for lo, hi in itertools.pairwise(bounds.tolist())]))
    out = tuple(np.concatenate(column) for column in zip(*parts))
    return out[0], out[1], out[2], out[3], out[4]
