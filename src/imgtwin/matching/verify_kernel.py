"""Compiled crop-aligned verification (numba): :func:`verify.aligned_scores`' decisions, one pair per loop pass.

Each pair is one pass over a few kilobytes that stay in cache, laid out so that
the inner loops run along contiguous rows (SIMD): each picture is held
transposed, resampled with two taps a row, the 16 x 16 DCT block is two small
products that use the basis' symmetry (row ``k`` of the DCT is even or odd
about the middle, so half the products), once per distinct window of each
picture, the median by selection, the gradient correlation from raw sums (no
centred copy), the detail distance by popcount.

The arithmetic is float64 throughout, in a fixed order: this kernel is the
reference ``find`` decides with from ``verify.COMPILED_PAIRS`` pairs a call on.
The numpy path rounds to float32 in BLAS products whose rounding depends on a
pair's row in the batch, so on a near-tie it can itself judge a pair
differently when the candidates come in another order; the kernel cannot. On the
corpora of docs/benchmarks.md ("Verification at array speed") both give the
same detail distances and windows on every pair. Only a flat profile (every
1-D crop score is rounding noise, which no arithmetic settles) is reported, for
the numpy path to judge as before.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from imgtwin.matching.mih_kernel import _bits

_FAST = {"reassoc", "contract"}  # sums in any order: float64 error far below the float32 path's
FLAT_PROFILE = 1e-3  # smallest product of 1-D profile norms under which every crop score is noise


@njit(nogil=True, cache=True)
def _turned_t(src: np.ndarray, g: np.int64, out: np.ndarray) -> None:
    """``out`` = ``src`` under dihedral transform ``g`` (order of ``features.dihedral_pixels``), transposed."""
    n = src.shape[0]
    for i in range(n):
        for j in range(n):
            r = n - 1 - i if g & 2 else i
            c = n - 1 - j if g & 1 else j
            out[j, i] = src[c, r] if g >= 4 else src[r, c]


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
def _top(scores: np.ndarray, top: int, chosen: np.ndarray) -> None:
    """The ``top`` best hypotheses, best first (ties: lower index)."""
    for t in range(min(top, scores.shape[0])):
        best = -1
        for k in range(scores.shape[0]):
            taken = False
            for u in range(t):
                if chosen[u] == k:
                    taken = True
            if not taken and (best < 0 or scores[k] > scores[best]):
                best = k
        chosen[t] = best


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


@njit(nogil=True, cache=True, fastmath=_FAST)
def _resample_t(xt: np.ndarray, idx: np.ndarray, wts: np.ndarray, out: np.ndarray) -> None:
    """``out[c] = w0 xt[i0] + w1 xt[i1]`` per output row ``c``: a transposed picture resampled along its rows."""
    for c in range(out.shape[0]):
        i0, i1 = idx[c, 0], idx[c, 1]
        w0, w1 = wts[c, 0], wts[c, 1]
        for r in range(out.shape[1]):
            out[c, r] = w0 * xt[i0, r] + w1 * xt[i1, r]


@njit(nogil=True, cache=True, fastmath=_FAST)
def _half_dct(x: np.ndarray, even: np.ndarray, odd: np.ndarray, out: np.ndarray) -> None:
    """``out[r] = DCT rows of x[:, r]`` (out (cols, 2 h): even frequencies, then odd), by the basis' symmetry.

    ``even``/``odd`` (half, h): the even / odd DCT rows' first halves, transposed.
    """
    n = x.shape[0]
    half = even.shape[1]
    out[:] = 0.0
    for c in range(n // 2):
        for r in range(x.shape[1]):
            s = x[c, r] + x[n - 1 - c, r]
            d = x[c, r] - x[n - 1 - c, r]
            for m in range(half):
                out[r, m] += s * even[c, m]
                out[r, half + m] += d * odd[c, m]


@njit(nogil=True, cache=True, fastmath=_FAST)
def _gradient_sums(at: np.ndarray, out: np.ndarray) -> tuple[float, float]:
    """Both gradients of a (transposed) picture into ``out`` (``verify._gradients``' values, another order).

    Returns their mean and ``1 / norm`` of the centred values (as ``verify._zscore``).
    """
    n = at.shape[0] - 1
    s = 0.0
    sq = 0.0
    for c in range(n):
        base = c * n
        for r in range(n):
            gx = at[c + 1, r] - at[c, r]
            gy = at[c, r + 1] - at[c, r]
            out[base + r] = gx
            out[n * n + base + r] = gy
            s += gx + gy
            sq += gx * gx + gy * gy
    count = 2 * n * n
    mean = s / count
    return mean, 1.0 / max(np.sqrt(max(sq - s * mean, 0.0)), 1e-9)


@njit(nogil=True, cache=True)
def _detail(block: np.ndarray, position: np.ndarray, scratch: np.ndarray, bits: np.ndarray) -> None:
    """``bits`` (packed, at ``position``) = the DCT block's coefficients (DC left out) above their median."""
    d = block.shape[0]
    t = 0
    for u in range(d):
        for v in range(d):
            if position[u, v] >= 0:
                scratch[t] = block[u, v]
                t += 1
    median = _select(scratch, t // 2)
    bits[:] = 0
    for u in range(d):
        for v in range(d):
            p = position[u, v]
            if p >= 0 and block[u, v] > median:
                bits[p >> 6] |= np.uint64(1) << np.uint64(p & 63)


@njit(nogil=True, cache=True, fastmath=_FAST)
def _side(xt: np.ndarray, xs: np.ndarray, nx: int, ys: np.ndarray, ny: int, idx: np.ndarray, wts: np.ndarray,
          even: np.ndarray, odd: np.ndarray, position: np.ndarray, grads: np.ndarray, stats: np.ndarray,
          bits: np.ndarray, work: tuple) -> None:  # type: ignore[type-arg]
    """Gradients (and their mean, 1 / norm) and detail bits of one picture under its distinct windows."""
    axt, tt, aat, rt, block, scratch = work
    for xi in range(nx):
        _resample_t(xt, idx[xs[xi]], wts[xs[xi]], axt)  # resampled along x (held transposed: x is the row)
        _half_dct(axt, even, odd, tt)  # (y, frequency in x)
        for yi in range(ny):
            iy, wy = idx[ys[yi]], wts[ys[yi]]
            for c in range(aat.shape[0]):  # resampled along y too: the picture the gradients are taken of
                for r in range(aat.shape[1]):
                    aat[c, r] = wy[r, 0] * axt[c, iy[r, 0]] + wy[r, 1] * axt[c, iy[r, 1]]
            stats[xi, yi, 0], stats[xi, yi, 1] = _gradient_sums(aat, grads[xi, yi])
            _resample_t(tt, iy, wy, rt)  # (y, frequency in x), y resampled
            _half_dct(rt, even, odd, block)  # (frequency in x, frequency in y)
            _detail(block, position, scratch, bits[xi, yi])


@njit(nogil=True, cache=True, fastmath=_FAST)
def _correlation(ga: np.ndarray, sa: np.ndarray, gb: np.ndarray, sb: np.ndarray) -> float:
    """Pearson correlation of two gradient vectors from their raw values, means and 1 / norms."""
    s = 0.0
    for t in range(ga.shape[0]):
        s += ga[t] * gb[t]
    result: float = (s - ga.shape[0] * sa[0] * sb[0]) * sa[1] * sb[1]
    return result


@njit(nogil=True, cache=True)
def _position(values: np.ndarray, count: int, value: np.int64) -> int:
    for t in range(count):
        if values[t] == value:
            return t
    return -1


@njit(nogil=True, cache=True)
def verify_kernel(thumbs_a: np.ndarray, thumbs_b: np.ndarray, transforms: np.ndarray, top: int,
                  idx: np.ndarray, wts: np.ndarray, windows: np.ndarray, even: np.ndarray, odd: np.ndarray,
                  position: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """(correlation, detail, window_x, window_y, flat) per pair; see the module docstring.

    ``idx``/``wts`` (side, window, row, tap): the two-tap resampling of each distinct window of
    each side (0: the first picture, 1: the second); ``windows`` (hypothesis, side): its window
    per side; ``even``/``odd``: the halves of the DCT rows (see :func:`_half_dct`); ``position``
    (x frequency, y frequency, in their order): the detail bit of each coefficient, -1 for DC.
    """
    n = thumbs_a.shape[0]
    size = thumbs_a.shape[1]
    d = 2 * even.shape[1]
    corr = np.empty(n)
    detail = np.empty(n, np.int16)
    wx = np.empty(n, np.int16)
    wy = np.empty(n, np.int16)
    flat = np.zeros(n, np.bool_)
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
    stats = np.empty((2, top, top, 2))
    words = (d * d - 1 + 63) // 64
    bits = np.empty((2, top, top, words), np.uint64)
    work = (np.empty((size, size)), np.empty((size, d)), np.empty((size, size)), np.empty((size, d)),
            np.empty((d, d)), np.empty(d * d - 1))
    for p in range(n):
        _turned_t(thumbs_a[p], np.int64(transforms[p]), imgs[0])
        for i in range(size):
            for j in range(size):
                imgs[1, j, i] = thumbs_b[p, i, j]
        doubt = False
        for axis in range(2):  # imgs are transposed: imgs[s, x, y]
            for t in range(size):
                sa = 0.0
                sb = 0.0
                for u in range(size):
                    sa += imgs[0, t, u] if axis == 0 else imgs[0, u, t]
                    sb += imgs[1, t, u] if axis == 0 else imgs[1, u, t]
                pa[t] = sa / size
                pb[t] = sb / size
            smallest = _axis_scores(pa, pb, idx, wts, windows, diffs_a, diffs_b, norms_a, norms_b, scores)
            _top(scores, top, kx if axis == 0 else ky)
            doubt |= smallest < FLAT_PROFILE
        for s in range(2):
            nx[s] = ny[s] = 0
            for t in range(top):
                if _position(xs[s], nx[s], windows[kx[t], s]) < 0:
                    xs[s, nx[s]] = windows[kx[t], s]
                    nx[s] += 1
                if _position(ys[s], ny[s], windows[ky[t], s]) < 0:
                    ys[s, ny[s]] = windows[ky[t], s]
                    ny[s] += 1
            _side(imgs[s], xs[s], nx[s], ys[s], ny[s], idx[s], wts[s], even, odd, position, grads[s], stats[s],
                  bits[s], work)
        best, best_d, bx, by = -1.0, 256, 0, 0
        for tx in range(top):  # the lowest detail wins, the first tried on ties (x-major)
            xa, xb = _position(xs[0], nx[0], windows[kx[tx], 0]), _position(xs[1], nx[1], windows[kx[tx], 1])
            for ty in range(top):
                ya, yb = _position(ys[0], ny[0], windows[ky[ty], 0]), _position(ys[1], ny[1], windows[ky[ty], 1])
                best = max(best, _correlation(grads[0, xa, ya], stats[0, xa, ya], grads[1, xb, yb], stats[1, xb, yb]))
                distance = 0
                for w in range(words):
                    distance += int(_bits(bits[0, xa, ya, w] ^ bits[1, xb, yb, w]))
                if distance < best_d:
                    best_d, bx, by = distance, tx, ty
        corr[p], detail[p], wx[p], wy[p], flat[p] = best, best_d, kx[bx], ky[by], doubt
    return corr, detail, wx, wy, flat
