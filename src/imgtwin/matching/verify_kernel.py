"""Compiled crop-aligned verification (numba): :func:`verify.aligned_scores`' decisions, one pair per loop pass.

Each pair is one pass over a few kilobytes that stay in cache, laid out so that
the inner loops run along contiguous rows (SIMD): each picture is held
transposed, resampled with two taps a row, the 16 x 16 DCT block is two small
products that use the basis' symmetry (row ``k`` of the DCT is even or odd
about the middle, so half the products), once per distinct window of each
picture, the median by a sampled bracket (``selection.bracketed``: exact), the gradient correlation from raw sums (no
centred copy), the detail distance by popcount.

The arithmetic is float64 throughout, in a fixed order. The numpy path rounds
to float32 in BLAS products whose rounding depends on a pair's row in the
batch (it can judge a pair on a near-tie differently when the candidates come
in another order); its largest errors, measured on the corpora, are 3.2e-5 on
a 1-D crop score and 0.0019 on a DCT coefficient. Every pair whose outcome no
error that small can change gets the numpy path's decision, computed here; the
rest are reported, for the numpy path to judge as before: a flat profile, 1-D
scores within ``SCORE_TOL`` where their order matters (mirror-image crops of a
symmetric picture tie), DCT coefficients within ``2 COEF_TOL`` of a block's
median that could change the winning combination or its distance (a symmetric
picture's odd frequencies are all zero: its bits are rounding noise). Measured
on docs/benchmarks.md's corpora ("Verification at array speed"): 3-5 % of pairs
(22 % with the earlier tolerances of 1e-4 and 0.025), and the same detail
distances and windows as the numpy path on every pair.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from imgtwin.matching.mih_kernel import _bits
from imgtwin.matching.selection import SAMPLE, bracketed

_FAST = {"reassoc", "contract"}  # sums in any order: float64 error far below the float32 path's
FLAT_PROFILE = 1e-3  # product of 1-D profile norms under which every crop score is noise
# Where float32 rounding is all that separates two numbers the numpy path's choice is noise (a symmetric or flat
# picture's coefficients tie at the median, mirror crops tie): those pairs go to it. Largest float32 errors
# measured: 3.2e-5 (crop scores), 0.0019 (DCT coefficients).
SCORE_TOL = 4e-5
COEF_TOL = 0.0025


@njit(nogil=True, cache=True)
def _turned_t(src: np.ndarray, g: np.int64, out: np.ndarray) -> None:
    """``out`` = ``src`` under dihedral transform ``g`` (order of ``features.dihedral_pixels``), transposed."""
    n = src.shape[0]
    for i in range(n):
        for j in range(n):
            r = n - 1 - i if g & 2 else i
            c = n - 1 - j if g & 1 else j
            out[j, i] = src[c, r] if g >= 4 else src[r, c]


@njit(nogil=True, cache=True)
def _profiles(img: np.ndarray, out: np.ndarray) -> None:
    """``out[0]``/``out[1]``: the column / row means of a picture held as (x, y) (summed in a fixed order)."""
    n = img.shape[0]
    out[1, :] = 0.0
    for x in range(n):
        row = img[x]
        s = 0.0
        for y in range(n):
            s += row[y]
            out[1, y] += row[y]
        out[0, x] = s / n
    for y in range(n):
        out[1, y] /= n


@njit(nogil=True, cache=True, fastmath=_FAST)
def _window_diffs(p: np.ndarray, taps: np.ndarray, wts: np.ndarray, sampled: np.ndarray, diffs: np.ndarray,
                  scale: np.ndarray) -> float:  # fmt: skip
    """Centred first differences of ``p`` resampled to each window, and ``1 / norm`` of each; returns the
    smallest squared norm.

    ``taps``/``wts`` (tap, window, row): unsigned indices (no wraparound test) in one contiguous row per tap
    and window, every window sampled first into ``sampled`` (window, row): 7.3 -> 5.8 us a profile.
    """
    m = p.shape[0] - 1
    for w in range(taps.shape[1]):
        i0, i1, w0, w1, row = taps[0, w], taps[1, w], wts[0, w], wts[1, w], sampled[w]
        for r in range(m + 1):
            row[r] = w0[r] * p[i0[r]] + w1[r] * p[i1[r]]
    smallest = np.inf
    for w in range(taps.shape[1]):
        row, out = sampled[w], diffs[w]
        mean = (row[m] - row[0]) / m  # the differences telescope
        sq = 0.0
        for r in range(m):
            v = row[r + 1] - row[r] - mean
            out[r] = v
            sq += v * v
        smallest = min(smallest, sq)
        scale[w] = 1.0 / max(np.sqrt(sq), 1e-12)
    return smallest


@njit(nogil=True, cache=True, fastmath=_FAST)
def _axis_scores(pa: np.ndarray, pb: np.ndarray, taps: np.ndarray, wts: np.ndarray, windows: np.ndarray,
                 diffs: np.ndarray, scale: np.ndarray, sampled: np.ndarray, scores: np.ndarray) -> float:  # fmt: skip
    """Correlation of the centred first differences of both resampled profiles, per hypothesis.

    Returns the smallest product of squared norms (a flat profile makes every score noise).
    """
    small_a = _window_diffs(pa, taps[0], wts[0], sampled, diffs[0], scale[0])
    small_b = _window_diffs(pb, taps[1], wts[1], sampled, diffs[1], scale[1])
    for k in range(windows.shape[0]):
        wa, wb = windows[k, 0], windows[k, 1]
        ra, rb = diffs[0, wa], diffs[1, wb]
        dot = 0.0
        for r in range(ra.shape[0]):
            dot += ra[r] * rb[r]
        scores[k] = dot * scale[0, wa] * scale[1, wb]
    return small_a * small_b


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


@njit(nogil=True, cache=True, fastmath=_FAST)
def _resample_rows(x: np.ndarray, idx: np.ndarray, wts: np.ndarray, out: np.ndarray) -> None:
    """``out[c] = w0 x[i0] + w1 x[i1]`` per output row ``c``: ``x`` resampled along its first axis."""
    for c in range(out.shape[0]):
        x0, x1, row = x[idx[c, 0]], x[idx[c, 1]], out[c]
        w0, w1 = wts[c, 0], wts[c, 1]
        for r in range(row.shape[0]):
            row[r] = w0 * x0[r] + w1 * x1[r]


@njit(nogil=True, cache=True, fastmath=_FAST)
def _half_dct(x: np.ndarray, even: np.ndarray, odd: np.ndarray, out: np.ndarray, pair: np.ndarray) -> None:
    """``out[k] = sum_c B[k, c] x[c]``: the DCT along ``x``'s first axis, even frequencies first, then odd.

    Row ``k`` of the DCT is even (k even) or odd about the middle, so half the products: ``even``/``odd``
    (half, h) are the even / odd rows' first halves, transposed. ``pair``: a (2, columns) scratch.
    """
    n = x.shape[0]
    half = even.shape[1]
    out[:] = 0.0
    plus, minus = pair[0], pair[1]
    for c in range(n // 2):
        lo, hi = x[c], x[n - 1 - c]
        for r in range(lo.shape[0]):
            plus[r] = lo[r] + hi[r]
            minus[r] = lo[r] - hi[r]
        for m in range(half):
            e, o = even[c, m], odd[c, m]
            row_e, row_o = out[m], out[half + m]
            for r in range(lo.shape[0]):
                row_e[r] += e * plus[r]
                row_o[r] += o * minus[r]


@njit(nogil=True, cache=True, fastmath=_FAST)
def _gradient_sums(a: np.ndarray, out: np.ndarray) -> tuple[float, float]:
    """``verify._gradients`` of one picture into ``out``; returns their mean and the ``1 / norm`` of their centred
    values (as ``verify._zscore``).

    The differences first, row by row, then the sums over ``out`` in one pass: three plain loops
    that vectorise, not one that stores and sums at once (2.9 -> 1.1 us a block).
    """
    n = a.shape[0] - 1
    for y in range(n):
        r0, r1 = a[y], a[y + 1]
        gx, gy = out[y * n : (y + 1) * n], out[(n + y) * n : (n + y + 1) * n]
        for x in range(n):
            gx[x] = r0[x + 1] - r0[x]
        for x in range(n):
            gy[x] = r1[x] - r0[x]
    s = 0.0
    sq = 0.0
    for t in range(2 * n * n):
        v = out[t]
        s += v
        sq += v * v
    mean = s / (2 * n * n)
    return mean, 1.0 / max(np.sqrt(max(sq - s * mean, 0.0)), 1e-9)


@njit(nogil=True, cache=True)
def _detail(block: np.ndarray, position: np.ndarray, scratch: tuple, bits: np.ndarray, tol: float) -> int:  # type: ignore[type-arg]
    """``bits`` (packed, at ``position``) = the DCT block's coefficients above their median; the DC term (first in
    the kernel's order) left out. ``scratch``: the coefficients, and :func:`selection.bracketed`'s scratch.

    Returns how many bits could differ if every coefficient moved by up to ``tol``: none unless
    another coefficient lies within ``2 tol`` of the median, else those (and the median's own).
    """
    flat = block.reshape(-1)
    places = position.reshape(-1)
    values, sample, inside = scratch
    for t in range(1, flat.shape[0]):
        values[t - 1] = flat[t]
    median = bracketed(values, values.shape[0] // 2, sample, inside)
    bits[:] = 0
    near = 0
    for t in range(1, flat.shape[0]):
        p = places[t]
        bits[p >> 6] |= np.uint64(flat[t] > median) << np.uint64(p & 63)
        near += abs(flat[t] - median) < 2 * tol
    return near if near > 1 else 0


@njit(nogil=True, cache=True, fastmath=_FAST)
def _side(img: np.ndarray, xs: np.ndarray, nx: int, ys: np.ndarray, ny: int, idx: np.ndarray, wts: np.ndarray,
          even: np.ndarray, odd: np.ndarray, position: np.ndarray, grads: np.ndarray, stats: np.ndarray,
          bits: np.ndarray, loose: np.ndarray, tol: float, work: tuple) -> None:  # type: ignore[type-arg]
    """Gradients (and their mean, 1 / norm) and detail bits of one picture ``img`` (held as (x, y)) under its
    distinct windows."""
    axt, ax, tt, ttt, aa, rtt, block, scratch, pair, sample, inside = work
    for xi in range(nx):
        _resample_rows(img, idx[xs[xi]], wts[xs[xi]], axt)  # (x, y): resampled along x
        ax[:] = axt.T
        _half_dct(axt, even, odd, tt, pair)  # (frequency in x, y)
        ttt[:] = tt.T
        for yi in range(ny):
            iy, wy = idx[ys[yi]], wts[ys[yi]]
            _resample_rows(ax, iy, wy, aa)  # (y, x): the picture the gradients are taken of
            stats[xi, yi, 0], stats[xi, yi, 1] = _gradient_sums(aa, grads[xi, yi])
            _resample_rows(ttt, iy, wy, rtt)  # (y, frequency in x)
            _half_dct(rtt, even, odd, block, pair)  # (frequency in y, frequency in x)
            loose[xi, yi] = _detail(block, position, (scratch, sample, inside), bits[xi, yi], tol)


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
                  idx: np.ndarray, wts: np.ndarray, taps: np.ndarray, tap_wts: np.ndarray, windows: np.ndarray,
                  even: np.ndarray, odd: np.ndarray,
                  position: np.ndarray, score_tol: float, coef_tol: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """(correlation, detail, window_x, window_y, flat) per pair; see the module docstring. Pictures are held
    transposed, (x, y), so that resampling along x is a pass over rows.

    ``idx``/``wts`` (side, window, row, tap): the two-tap resampling of each distinct window of
    each side (0: the first picture, 1: the second); ``taps``/``tap_wts`` (side, tap, window, row): the same
    for the 1-D profiles, one contiguous row per tap; ``windows`` (hypothesis, side): its window
    per side; ``even``/``odd``: the halves of the DCT rows (see :func:`_half_dct`); ``position``
    (y frequency, x frequency, in their order): the detail bit of each coefficient (DC first, not used).
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
    profiles = np.empty((2, 2, size))
    n_win = idx.shape[1]
    diffs, scale, sampled = np.empty((2, n_win, size - 1)), np.empty((2, n_win)), np.empty((n_win, size))
    scores = np.empty(windows.shape[0])
    kx, ky = np.empty(top, np.int64), np.empty(top, np.int64)
    xs, ys = np.empty((2, top), np.int64), np.empty((2, top), np.int64)
    nx, ny = np.zeros(2, np.int64), np.zeros(2, np.int64)
    grads = np.empty((2, top, top, 2 * (size - 1) ** 2))
    stats = np.empty((2, top, top, 2))
    words = (d * d - 1 + 63) // 64
    bits = np.empty((2, top, top, words), np.uint64)
    loose = np.zeros((2, top, top), np.int64)
    gaps = np.empty((2, top))
    found = np.empty((3, top, top))
    work = (np.empty((size, size)), np.empty((size, size)), np.empty((d, size)), np.empty((size, d)),
            np.empty((size, size)), np.empty((size, d)), np.empty((d, d)), np.empty(d * d - 1), np.empty((2, size)),
            np.empty(SAMPLE), np.empty(d * d - 1))
    for p in range(n):
        _turned_t(thumbs_a[p], np.int64(transforms[p]), imgs[0])
        for i in range(size):
            for j in range(size):
                imgs[1, j, i] = thumbs_b[p, i, j]
        doubt = False
        _profiles(imgs[0], profiles[0])
        _profiles(imgs[1], profiles[1])
        for axis in range(2):
            smallest = _axis_scores(profiles[0, axis], profiles[1, axis], taps, tap_wts, windows, diffs, scale, sampled,
                                    scores)
            _top(scores, top, kx if axis == 0 else ky, gaps[axis])
            doubt |= smallest < FLAT_PROFILE**2
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
                  bits[s], loose[s], coef_tol, work)
        for tx in range(top):
            xa, xb = _position(xs[0], nx[0], windows[kx[tx], 0]), _position(xs[1], nx[1], windows[kx[tx], 1])
            for ty in range(top):
                ya, yb = _position(ys[0], ny[0], windows[ky[ty], 0]), _position(ys[1], ny[1], windows[ky[ty], 1])
                found[0, tx, ty] = _correlation(grads[0, xa, ya], stats[0, xa, ya], grads[1, xb, yb], stats[1, xb, yb])
                distance = 0
                for w in range(words):
                    distance += int(_bits(bits[0, xa, ya, w] ^ bits[1, xb, yb, w]))
                found[1, tx, ty] = distance
                found[2, tx, ty] = loose[0, xa, ya] + loose[1, xb, yb]
        corr[p], detail[p], bx, by, certain = _settle(found, gaps, score_tol)
        wx[p], wy[p] = kx[bx], ky[by]
        flat[p] = doubt or not certain
    return corr, detail, wx, wy, flat


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

