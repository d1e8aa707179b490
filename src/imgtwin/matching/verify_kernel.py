"""Compiled crop-aligned verification (numba): :func:`verify.aligned_scores`' numbers, one pair per loop pass.

The numpy path spends its time on dense products with per-pair resampling
matrices that have two non-zeros a row, on temporaries and on a partition per
detail block.  Here each pair is one pass over a few kilobytes that stay in
cache: two-tap resampling (with the numpy path's float32 weights), the 16 x 16
DCT block as two small products for each distinct window of each picture, the
median by selection, the gradient correlation as one dot product.

The arithmetic is float64 where the numpy path rounds to float32, so a number
near an edge could come out on the other side.  The kernel therefore reports,
per pair, whether the float32 rounding could have changed its outcome: a 1-D
crop score within ``SCORE_TOL`` of the next one where the order matters (the
set of tried hypotheses, or ties of the detail distance across them), a flat
profile, or DCT coefficients within ``2 COEF_TOL`` of a block's median that
could change which combination wins or its distance.  Those pairs (flat and
smooth pictures, mostly) are recomputed by the numpy path.

The numpy path is not exact either: its float32 profile product is a BLAS
matrix product whose rounding depends on a row's place in the batch, so a pair
on a near-tie can be judged differently when the candidates come in another
order; recomputing it among other pairs can do the same.  Measured: no
difference on the corpora of docs/benchmarks.md ("Verification at array speed").
"""

from __future__ import annotations

import numpy as np
from numba import njit

from imgtwin.matching.mih_kernel import _bits

SCORE_TOL = 1e-4  # 1-D crop scores this close may swap places in float32 (measured error max 3.2e-5)
_FAST = {"reassoc", "contract"}  # sums in any order: float64 error far below the float32 path's
COEF_TOL = 0.025  # bound on how far float32 resampling can move a DCT coefficient (largest seen: 0.0019)


@njit(nogil=True, cache=True)
def _turn(src: np.ndarray, g: np.int64, out: np.ndarray) -> None:
    """``out`` = ``src`` under dihedral transform ``g`` (order of ``features.dihedral_pixels``)."""
    n = src.shape[0]
    for i in range(n):
        for j in range(n):
            r = n - 1 - i if g & 2 else i
            c = n - 1 - j if g & 1 else j
            out[i, j] = src[c, r] if g >= 4 else src[r, c]


@njit(nogil=True, cache=True, fastmath=_FAST)
def _window_diffs(p: np.ndarray, idx: np.ndarray, wts: np.ndarray, diffs: np.ndarray, norms: np.ndarray) -> None:
    """Centred first differences of ``p`` resampled to each window, and their squared norms."""
    flat_idx = idx.reshape(-1, 2)
    flat_wts = wts.reshape(-1, 2)
    m = p.shape[0] - 1
    sampled = np.empty(flat_idx.shape[0])
    for t in range(flat_idx.shape[0]):  # one long loop of gathers for every window at once
        sampled[t] = flat_wts[t, 0] * p[flat_idx[t, 0]] + flat_wts[t, 1] * p[flat_idx[t, 1]]
    for w in range(idx.shape[0]):
        row = diffs[w]
        base = w * (m + 1)
        mean = (sampled[base + m] - sampled[base]) / m  # the differences telescope
        sq = 0.0
        for r in range(m):
            row[r] = sampled[base + r + 1] - sampled[base + r] - mean
            sq += row[r] * row[r]
        norms[w] = sq


@njit(nogil=True, cache=True, fastmath=_FAST)
def _axis_scores(pa: np.ndarray, pb: np.ndarray, idx: np.ndarray, wts: np.ndarray, windows: np.ndarray,
                 diffs_a: np.ndarray, diffs_b: np.ndarray, norms_a: np.ndarray, norms_b: np.ndarray,
                 scores: np.ndarray) -> float:  # fmt: skip
    """Correlation of the centred first differences of both resampled profiles, per hypothesis.

    Returns the smallest product of norms (a flat profile makes every score noise).
    """
    _window_diffs(pa, idx[0], wts[0], diffs_a, norms_a)
    _window_diffs(pb, idx[1], wts[1], diffs_b, norms_b)
    m = pa.shape[0] - 1
    smallest = np.inf
    for k in range(windows.shape[0]):
        ra, rb = diffs_a[windows[k, 0]], diffs_b[windows[k, 1]]
        dot = 0.0
        for r in range(m):
            dot += ra[r] * rb[r]
        norm = np.sqrt(norms_a[windows[k, 0]] * norms_b[windows[k, 1]])
        smallest = min(smallest, norm)
        scores[k] = dot / max(norm, 1e-6)
    return smallest


@njit(nogil=True, cache=True)
def _top(scores: np.ndarray, top: int, chosen: np.ndarray, gaps: np.ndarray) -> None:
    """The ``top`` best hypotheses, best first (ties: lower index); ``gaps[t]``: score of the ``t``-th less the next's."""
    last = np.inf
    for t in range(min(top + 1, scores.shape[0])):
        best = -1
        for k in range(scores.shape[0]):
            taken = False
            for u in range(t):
                if chosen[u] == k:
                    taken = True
            if not taken and (best < 0 or scores[k] > scores[best]):
                best = k
        if t < top:
            chosen[t] = best
        if t > 0:
            gaps[t - 1] = last - scores[best]
        last = scores[best]
    if top >= scores.shape[0]:
        gaps[top - 1] = np.inf


@njit(nogil=True, cache=True)
def _can_reorder(gaps: np.ndarray, tol: float, reach: np.ndarray) -> bool:
    """Whether hypotheses whose order float32 could swap (a run of gaps under ``tol``) both reach the minimum.

    ``reach[t]``: the minimum can lie in the tried row (or column) ``t``; a last gap under ``tol`` means
    the next hypothesis could take the last one's place.
    """
    top = reach.shape[0]
    if gaps[top - 1] < tol:
        return True
    count = 1 if reach[0] else 0
    for t in range(1, top):
        count = count if gaps[t - 1] < tol else 0
        count += 1 if reach[t] else 0
        if count > 1:
            return True
    return False


@njit(nogil=True, cache=True)
def _resample_cols(x: np.ndarray, idx: np.ndarray, wts: np.ndarray, out: np.ndarray) -> None:
    for i in range(x.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = wts[j, 0] * x[i, idx[j, 0]] + wts[j, 1] * x[i, idx[j, 1]]


@njit(nogil=True, cache=True)
def _resample_rows(x: np.ndarray, idx: np.ndarray, wts: np.ndarray, out: np.ndarray) -> None:
    for i in range(out.shape[0]):
        w0, w1 = wts[i, 0], wts[i, 1]
        r0, r1 = idx[i, 0], idx[i, 1]
        for j in range(x.shape[1]):
            out[i, j] = w0 * x[r0, j] + w1 * x[r1, j]


@njit(nogil=True, cache=True, fastmath=_FAST)
def _dots(x: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
    """``out = x @ y.T`` for small matrices (rows against rows: contiguous dot products)."""
    for i in range(x.shape[0]):
        for v in range(y.shape[0]):
            s = 0.0
            for k in range(x.shape[1]):
                s += x[i, k] * y[v, k]
            out[i, v] = s


@njit(nogil=True, cache=True)
def _select(values: np.ndarray, k: int) -> float:
    """The ``k``-th smallest of ``values`` (reordered in place, as a partition): branch-free Lomuto steps."""
    lo, hi = 0, values.shape[0] - 1
    while hi - lo > 8:
        mid = (lo + hi) // 2
        x, y, z = values[lo], values[mid], values[hi]
        pivot = max(min(x, y), min(max(x, y), z))
        # three-way split: below, equal, above
        store = lo
        for i in range(lo, hi + 1):
            v = values[i]
            less = v < pivot
            t = values[store]
            values[store] = v if less else t
            values[i] = t if less else v
            store += less
        equal = store
        for i in range(store, hi + 1):
            v = values[i]
            same = v == pivot
            t = values[equal]
            values[equal] = v if same else t
            values[i] = t if same else v
            equal += same
        if k < store:
            hi = store - 1
        elif k < equal:
            return float(pivot)
        else:
            lo = equal
    for i in range(lo + 1, hi + 1):  # insertion sort of the rest
        v = values[i]
        j = i - 1
        while j >= lo and values[j] > v:
            values[j + 1] = values[j]
            j -= 1
        values[j + 1] = v
    return float(values[k])


@njit(nogil=True, cache=True)
def _detail(block: np.ndarray, flat: np.ndarray, scratch: np.ndarray, bits: np.ndarray, tol: float) -> int:
    """``bits`` (packed) = the DCT block (DC left out) above its median.

    Returns how many bits could differ if every coefficient moved by up to ``tol``: none unless
    another coefficient lies within ``2 tol`` of the median, else those (and the median's own).
    """
    d = block.shape[0]
    for u in range(d):
        for v in range(d):
            if u or v:
                flat[u * d + v - 1] = block[u, v]
    n = flat.shape[0]
    scratch[:] = flat
    middle = n // 2
    median = _select(scratch, middle)
    near = 0
    for t in range(n):
        near += abs(flat[t] - median) < 2 * tol
    bits[:] = 0
    for t in range(n):
        if flat[t] > median:
            bits[t >> 6] |= np.uint64(1) << np.uint64(t & 63)
    return near if near > 1 else 0


@njit(nogil=True, cache=True, fastmath=_FAST)
def _zscored_gradients(x: np.ndarray, out: np.ndarray) -> None:
    """``verify._zscore(verify._gradients(x))`` of one picture."""
    n = x.shape[0] - 1
    for i in range(n):
        for j in range(n):
            out[i * n + j] = x[i, j + 1] - x[i, j]
            out[n * n + i * n + j] = x[i + 1, j] - x[i, j]
    mean = 0.0
    for t in range(out.shape[0]):
        mean += out[t]
    mean /= out.shape[0]
    sq = 0.0
    for t in range(out.shape[0]):
        out[t] -= mean
        sq += out[t] * out[t]
    scale = 1.0 / max(np.sqrt(sq), 1e-9)
    for t in range(out.shape[0]):
        out[t] *= scale


@njit(nogil=True, cache=True, fastmath=_FAST)
def _dot(x: np.ndarray, y: np.ndarray) -> float:
    s = 0.0
    for t in range(x.shape[0]):
        s += x[t] * y[t]
    return s


@njit(nogil=True, cache=True)
def _position(values: np.ndarray, count: int, value: np.int64) -> int:
    for t in range(count):
        if values[t] == value:
            return t
    return -1


@njit(nogil=True, cache=True)
def _side(img: np.ndarray, xs: np.ndarray, nx: int, ys: np.ndarray, ny: int, idx: np.ndarray, wts: np.ndarray,
          basis: np.ndarray, grads: np.ndarray, bits: np.ndarray, loose: np.ndarray, tol: float,
          work: tuple) -> None:  # type: ignore[type-arg]
    """Gradients, detail bits and their uncertain count (``loose``) of one picture under its distinct windows."""
    ax, tt, aa, rt, block, flat, scratch = work
    for xi in range(nx):
        _resample_cols(img, idx[xs[xi]], wts[xs[xi]], ax)
        _dots(basis, ax, tt)  # (DETAIL, size): the x-direction of the DCT, y not yet
        for yi in range(ny):
            _resample_rows(ax, idx[ys[yi]], wts[ys[yi]], aa)
            _zscored_gradients(aa, grads[xi, yi])
            _resample_cols(tt, idx[ys[yi]], wts[ys[yi]], rt)
            _dots(basis, rt, block)
            loose[xi, yi] = _detail(block, flat, scratch, bits[xi, yi], tol)


@njit(nogil=True, cache=True)
def verify_kernel(thumbs_a: np.ndarray, thumbs_b: np.ndarray, transforms: np.ndarray, top: int,
                  idx: np.ndarray, wts: np.ndarray, windows: np.ndarray, basis: np.ndarray,
                  score_tol: float, coef_tol: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """(correlation, detail, window_x, window_y, unsure) per pair; see the module docstring.

    ``idx``/``wts`` (side, window, row, tap): the two-tap resampling of each distinct window of
    each side (0: the first picture, 1: the second); ``windows`` (hypothesis, side): its window
    per side; ``basis``: the DETAIL x SIZE DCT rows.
    """
    n = thumbs_a.shape[0]
    size = thumbs_a.shape[1]
    d = basis.shape[0]
    corr = np.empty(n)
    detail = np.empty(n, np.int16)
    wx = np.empty(n, np.int16)
    wy = np.empty(n, np.int16)
    unsure = np.zeros(n, np.bool_)
    imgs = np.empty((2, size, size))
    pa, pb = np.empty(size), np.empty(size)
    n_win = idx.shape[1]
    diffs_a, diffs_b = np.empty((n_win, size - 1)), np.empty((n_win, size - 1))
    norms_a, norms_b = np.empty(n_win), np.empty(n_win)
    scores = np.empty(windows.shape[0])
    kx, ky = np.empty(top, np.int64), np.empty(top, np.int64)
    xs, ys = np.empty((2, top), np.int64), np.empty((2, top), np.int64)
    nx, ny = np.zeros(2, np.int64), np.zeros(2, np.int64)
    grads = np.empty((2, top, top, 2 * (size - 1) ** 2))
    words = (d * d - 1 + 63) // 64
    bits = np.empty((2, top, top, words), np.uint64)
    loose = np.zeros((2, top, top), np.int64)
    gaps = np.empty((2, top))
    found = np.empty((3, top, top))
    work = (np.empty((size, size)), np.empty((d, size)), np.empty((size, size)), np.empty((d, size)),
            np.empty((d, d)), np.empty(d * d - 1), np.empty(d * d - 1))
    for p in range(n):
        _turn(thumbs_a[p], np.int64(transforms[p]), imgs[0])
        for i in range(size):
            for j in range(size):
                imgs[1, i, j] = thumbs_b[p, i, j]
        doubt = False
        for axis in range(2):
            for t in range(size):
                sa = 0.0
                sb = 0.0
                for u in range(size):
                    sa += imgs[0, u, t] if axis == 0 else imgs[0, t, u]
                    sb += imgs[1, u, t] if axis == 0 else imgs[1, t, u]
                pa[t] = sa / size
                pb[t] = sb / size
            smallest = _axis_scores(pa, pb, idx, wts, windows, diffs_a, diffs_b, norms_a, norms_b, scores)
            _top(scores, top, kx if axis == 0 else ky, gaps[axis])
            doubt |= smallest < 1e-3  # a flat profile: every score is rounding noise
        for s in range(2):
            nx[s] = ny[s] = 0
            for t in range(top):
                if _position(xs[s], nx[s], windows[kx[t], s]) < 0:
                    xs[s, nx[s]] = windows[kx[t], s]
                    nx[s] += 1
                if _position(ys[s], ny[s], windows[ky[t], s]) < 0:
                    ys[s, ny[s]] = windows[ky[t], s]
                    ny[s] += 1
            _side(imgs[s], xs[s], nx[s], ys[s], ny[s], idx[s], wts[s], basis, grads[s], bits[s], loose[s], coef_tol,
                  work)
        for tx in range(top):
            xa, xb = _position(xs[0], nx[0], windows[kx[tx], 0]), _position(xs[1], nx[1], windows[kx[tx], 1])
            for ty in range(top):
                ya, yb = _position(ys[0], ny[0], windows[ky[ty], 0]), _position(ys[1], ny[1], windows[ky[ty], 1])
                found[0, tx, ty] = _dot(grads[0, xa, ya], grads[1, xb, yb])
                distance = 0
                for w in range(words):
                    distance += int(_bits(bits[0, xa, ya, w] ^ bits[1, xb, yb, w]))
                found[1, tx, ty] = distance
                found[2, tx, ty] = loose[0, xa, ya] + loose[1, xb, yb]
        corr[p], detail[p], bx, by, certain = _settle(found, gaps, score_tol)
        wx[p], wy[p] = kx[bx], ky[by]
        unsure[p] = doubt or not certain
    return corr, detail, wx, wy, unsure


@njit(nogil=True, cache=True)
def _settle(found: np.ndarray, gaps: np.ndarray, score_tol: float) -> tuple[float, int, int, int, bool]:
    """(correlation, detail, x position, y position, certain) from the tried combinations' numbers.

    ``found`` (correlation / detail / slack, x, y): slack is how far the detail could move; ``gaps``
    (axis, position): 1-D score gaps. The lowest detail wins, the first tried on ties (x-major);
    certain unless the slacks or a swap of nearly equal hypotheses could make another combination win.
    """
    top = found.shape[1]
    best, best_d, bx, by = -1.0, np.inf, 0, 0
    for tx in range(top):
        for ty in range(top):
            best = max(best, found[0, tx, ty])
            if found[1, tx, ty] < best_d:
                best_d, bx, by = found[1, tx, ty], tx, ty
    certain = found[2, bx, by] == 0
    reach_x, reach_y = np.zeros(top, np.bool_), np.zeros(top, np.bool_)
    for tx in range(top):
        for ty in range(top):
            low = found[1, tx, ty] - found[2, tx, ty]
            if low <= best_d:
                reach_x[tx] = reach_y[ty] = True
            if (tx, ty) != (bx, by) and (low < best_d or (low == best_d and tx * top + ty < bx * top + by)):
                certain = False
    if _can_reorder(gaps[0], score_tol, reach_x) or _can_reorder(gaps[1], score_tol, reach_y):
        certain = False
    return best, int(best_d), bx, by, certain

