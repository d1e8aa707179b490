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
FLAT_PROFILE = 1e-3  # product of 1-D profile norms under which every crop score is noise


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
def _window_diffs(p: np.ndarray, idx: np.ndarray, wts: np.ndarray, sampled: np.ndarray, diffs: np.ndarray,
                  scale: np.ndarray) -> float:  # fmt: skip
    """Centred first differences of ``p`` resampled to each window, and ``1 / norm`` of each; returns the
    smallest squared norm."""
    m = p.shape[0] - 1
    smallest = np.inf
    for w in range(idx.shape[0]):
        iw, ww = idx[w], wts[w]
        for r in range(m + 1):
            sampled[r] = ww[r, 0] * p[iw[r, 0]] + ww[r, 1] * p[iw[r, 1]]
        mean = (sampled[m] - sampled[0]) / m  # the differences telescope
        row = diffs[w]
        sq = 0.0
        for r in range(m):
            v = sampled[r + 1] - sampled[r] - mean
            row[r] = v
            sq += v * v
        smallest = min(smallest, sq)
        scale[w] = 1.0 / max(np.sqrt(sq), 1e-12)
    return smallest


@njit(nogil=True, cache=True, fastmath=_FAST)
def _axis_scores(pa: np.ndarray, pb: np.ndarray, idx: np.ndarray, wts: np.ndarray, windows: np.ndarray,
                 diffs: np.ndarray, scale: np.ndarray, sampled: np.ndarray, scores: np.ndarray) -> float:  # fmt: skip
    """Correlation of the centred first differences of both resampled profiles, per hypothesis.

    Returns the smallest product of squared norms (a flat profile makes every score noise).
    """
    small_a = _window_diffs(pa, idx[0], wts[0], sampled, diffs[0], scale[0])
    small_b = _window_diffs(pb, idx[1], wts[1], sampled, diffs[1], scale[1])
    for k in range(windows.shape[0]):
        wa, wb = windows[k, 0], windows[k, 1]
        ra, rb = diffs[0, wa], diffs[1, wb]
        dot = 0.0
        for r in range(ra.shape[0]):
            dot += ra[r] * rb[r]
        scores[k] = dot * scale[0, wa] * scale[1, wb]
    return small_a * small_b


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
    values (as ``verify._zscore``)."""
    n = a.shape[0] - 1
    s = 0.0
    sq = 0.0
    for y in range(n):
        r0, r1 = a[y], a[y + 1]
        base = y * n
        for x in range(n):
            gx = r0[x + 1] - r0[x]
            gy = r1[x] - r0[x]
            out[base + x] = gx
            out[n * n + base + x] = gy
            s += gx + gy
            sq += gx * gx + gy * gy
    mean = s / (2 * n * n)
    return mean, 1.0 / max(np.sqrt(max(sq - s * mean, 0.0)), 1e-9)


@njit(nogil=True, cache=True)
def _detail(block: np.ndarray, position: np.ndarray, scratch: np.ndarray, bits: np.ndarray) -> None:
    """``bits`` (packed, at ``position``) = the DCT block's coefficients above their median; the DC term (first in
    the kernel's order) left out."""
    flat = block.reshape(-1)
    places = position.reshape(-1)
    for t in range(1, flat.shape[0]):
        scratch[t - 1] = flat[t]
    median = _select(scratch, scratch.shape[0] // 2)
    bits[:] = 0
    for t in range(1, flat.shape[0]):
        p = places[t]
        bits[p >> 6] |= np.uint64(flat[t] > median) << np.uint64(p & 63)


@njit(nogil=True, cache=True, fastmath=_FAST)
def _side(img: np.ndarray, xs: np.ndarray, nx: int, ys: np.ndarray, ny: int, idx: np.ndarray, wts: np.ndarray,
          even: np.ndarray, odd: np.ndarray, position: np.ndarray, grads: np.ndarray, stats: np.ndarray,
          bits: np.ndarray, work: tuple) -> None:  # type: ignore[type-arg]
    """Gradients (and their mean, 1 / norm) and detail bits of one picture ``img`` (held as (x, y)) under its
    distinct windows."""
    axt, ax, tt, ttt, aa, rtt, block, scratch, pair = work
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
    """(correlation, detail, window_x, window_y, flat) per pair; see the module docstring. Pictures are held
    transposed, (x, y), so that resampling along x is a pass over rows.

    ``idx``/``wts`` (side, window, row, tap): the two-tap resampling of each distinct window of
    each side (0: the first picture, 1: the second); ``windows`` (hypothesis, side): its window
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
    diffs, scale, sampled = np.empty((2, n_win, size - 1)), np.empty((2, n_win)), np.empty(size)
    scores = np.empty(windows.shape[0])
    kx, ky = np.empty(top, np.int64), np.empty(top, np.int64)
    xs, ys = np.empty((2, top), np.int64), np.empty((2, top), np.int64)
    nx, ny = np.zeros(2, np.int64), np.zeros(2, np.int64)
    grads = np.empty((2, top, top, 2 * (size - 1) ** 2))
    stats = np.empty((2, top, top, 2))
    words = (d * d - 1 + 63) // 64
    bits = np.empty((2, top, top, words), np.uint64)
    work = (np.empty((size, size)), np.empty((size, size)), np.empty((d, size)), np.empty((size, d)),
            np.empty((size, size)), np.empty((size, d)), np.empty((d, d)), np.empty(d * d - 1), np.empty((2, size)))
    for p in range(n):
        _turned_t(thumbs_a[p], np.int64(transforms[p]), imgs[0])
        for i in range(size):
            for j in range(size):
                imgs[1, j, i] = thumbs_b[p, i, j]
        doubt = False
        _profiles(imgs[0], profiles[0])
        _profiles(imgs[1], profiles[1])
        for axis in range(2):
            smallest = _axis_scores(profiles[0, axis], profiles[1, axis], idx, wts, windows, diffs, scale, sampled,
                                    scores)
            _top(scores, top, kx if axis == 0 else ky)
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
