"""The hash candidates of ``matching.near``, searched and filtered a block of files at a time (issue 26 part 2).

On tiles that share a layout the radius searches' raw candidates grow with the square of the collection
(29.5 a file at 200,000 mosaic tiles, ~150 projected at a million) while the layout filter keeps a few of
them: made whole before the filter, they set ``find``'s peak memory (1.9 GB at 200k). Here each block of
query files is searched (its plain hashes, turned and cropped hypotheses against every file's hashes), each
pair of it resolved completely, filtered, and let go before the next block: memory grows with the kept
candidates, not the raw ones. The kept set is the whole search's:

* a pair's rows are recomputed from the two files' hashes (both directions: every hash pairing the three
  searches compare, within the same radii), so its best row (``candidates.best_per_pair``) is the one the
  whole search gives, whichever block found it;
* each pair is resolved once, in the block of its *owner*: the smaller file if its own hashes reach the other,
  else the larger one (whose hashes then do);
* blocks go chunk pair by chunk pair (``layout.CHUNK_FILES``), so each file's layout vectors are derived once
  per chunk pair (``layout.HeldChunks``), as ``layout.layout_score`` derives them for the whole list.

What the escalation (``matching.partial``) read of the dropped candidates is kept as that: whether a pair is
any candidate (:class:`RawCandidates`, recomputed from the hashes), and its second look at the dropped
upright ones, taken per block (``look``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from imgtwin.matching import layout
from imgtwin.matching.candidates import CROP, PLAIN, ROTATED, Candidates, best_per_pair, merged
from imgtwin.matching.derived import CROP_HYPOTHESES
from imgtwin.matching.hashtable import HashTable, hypotheses
from imgtwin.matching.layout import HeldChunks, LayoutRule, either_trimmed
from imgtwin.matching.search import radius_join
from imgtwin.matching.table import FeatureTable
from imgtwin.matching.verify import Alignment

if TYPE_CHECKING:
    from imgtwin.matching.near import NearParams

#: Search rows (query hash, file, distance) a block aims at: its size follows the rows a file made so far.
TARGET_ROWS = 2_000_000
#: Files of the first block (all of a smaller collection: one block, the whole search's order).
FIRST_BLOCK = 16_384
#: The fewest files of a block after the first.
MIN_BLOCK = 256
#: Pairs whose hash distances are computed at once (~50 uint64 distances each).
PAIR_BATCH = 262_144
_FAR = np.int16(64)  # no row: farther than any radius

#: A second look at a block's dropped candidates (``partial.look_again``): the pairs it keeps.
Look = Callable[[Candidates], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True, slots=True)
class StreamCounts:
    """What the stream saw: candidates before the layout filter (each pair once), kept, blocks, and the most
    search rows one block held (what its memory follows)."""

    raw: int = 0
    kept: int = 0
    blocks: int = 0
    most_rows: int = 0
    queried: int = 0  # query files searched so far (each file once per chunk of targets)


@dataclass(frozen=True, slots=True)
class RawCandidates:
    """Which pairs the whole search has as candidates, the dropped ones included, answered from the hashes:
    any hash pairing of the plain, turned or cropped searches within its radius, or a low-detail layout pair."""

    table: FeatureTable | HashTable
    radius: int
    crop_radius: int
    flat: np.ndarray  # i * n + j of the low-detail layout pairs (i < j)
    turned: np.ndarray | None  # (n, 7) the turned and mirrored hashes, where searched (``hashtable.hypotheses``)
    crops: np.ndarray | None  # (n, 6) the crop hypotheses' hashes, where searched

    @classmethod
    def of(cls, table: FeatureTable | HashTable, params: NearParams, flat: Candidates) -> RawCandidates:
        """The candidates ``params`` search for (hypotheses read or derived once: a ``FeatureTable`` derives)."""
        searched = len(table) > 1
        return cls(table, params.threshold + params.extension, params.crop_threshold,
                   flat.i.astype(np.int64) * len(table) + flat.j,
                   hypotheses(table, "rotated") if params.rotations and searched else None,
                   hypotheses(table, "crop") if params.crop_threshold > 0 and searched else None)

    def contains(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        lo, hi = np.minimum(i, j).astype(np.int64), np.maximum(i, j).astype(np.int64)
        found = np.zeros(len(lo), bool)
        for start in range(0, len(lo), PAIR_BATCH):
            cut = slice(start, start + PAIR_BATCH)
            ahead, back = _side(self, lo[cut], hi[cut]), _side(self, hi[cut], lo[cut])
            found[cut] = ahead.any(self) | back.any(self)
        result: np.ndarray = (i != j) & (found | np.isin(lo * len(self.table) + hi, self.flat))
        return result


@dataclass(frozen=True, slots=True)
class _Side:
    """Per pair ``(a, b)``, the best rows found from ``a``'s hashes: plain, turned (and its transform), cropped."""

    plain: np.ndarray
    turned: np.ndarray
    transform: np.ndarray
    cropped: np.ndarray

    def any(self, raw: RawCandidates) -> np.ndarray:
        result: np.ndarray = ((self.plain <= raw.radius) | (self.turned <= raw.radius)
                              | (self.cropped <= raw.crop_radius))  # fmt: skip
        return result


def _distance(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    result: np.ndarray = np.bitwise_count(x ^ y).astype(np.int16)
    return result


def _side(raw: RawCandidates, a: np.ndarray, b: np.ndarray) -> _Side:
    """The rows the three searches make with ``a``'s hashes as queries and ``b``'s as the table (same radii)."""
    table, m = raw.table, len(a)
    h, t = table.hashes, table.trim_hashes
    ha, ta, hb, tb = h[a], t[a], h[b], t[b]
    plain = np.minimum(np.minimum(_distance(ha, hb), _distance(ha, tb)), np.minimum(_distance(ta, hb), _distance(ta, tb)))
    turned, transform, cropped = np.full(m, _FAR), np.zeros(m, np.int8), np.full(m, _FAR)
    if raw.turned is not None:
        d = _distance(raw.turned[a], tb[:, None])
        turned, transform = d.min(axis=1), (d.argmin(axis=1) + 1).astype(np.int8)  # the first of the least
    if raw.crops is not None:
        crops = raw.crops[a]
        cropped = np.minimum(_distance(crops, hb[:, None]).min(axis=1), _distance(crops, tb[:, None]).min(axis=1))
    return _Side(plain, turned, transform, cropped)


def _best(raw: RawCandidates, lo: np.ndarray, hi: np.ndarray, ahead: _Side, back: _Side) -> Candidates:
    """Each pair's best row, as ``best_per_pair`` picks it among the whole search's rows: those rows in the
    whole search's order where it matters (turned rows of the smaller file's queries first)."""
    r, c = raw.radius, raw.crop_radius
    rows = [(lo, hi, ahead.plain, np.zeros(len(lo), np.int8), PLAIN, ahead.plain <= r),
            (lo, hi, ahead.turned, ahead.transform, ROTATED, ahead.turned <= r),
            (hi, lo, back.turned, back.transform, ROTATED, back.turned <= r),
            (lo, hi, ahead.cropped, np.zeros(len(lo), np.int8), CROP, ahead.cropped <= c),
            (hi, lo, back.cropped, np.zeros(len(lo), np.int8), CROP, back.cropped <= c)]
    i, j, d, g, k = (np.concatenate(x) for x in zip(*((a[w], b[w], d[w], g[w], np.full(int(w.sum()), kind, np.int8))
                                                     for a, b, d, g, kind, w in rows)))  # fmt: skip
    return best_per_pair(i.astype(np.int64), j.astype(np.int64), d, g, k)


def _found(raw: RawCandidates, queries: range, targets: range) -> tuple[np.ndarray, np.ndarray, int]:
    """``(x, y)``: the files ``x`` of ``queries`` whose hashes reach a file ``y`` of ``targets`` in any search
    (each directed pair once), and the search rows that took."""
    table, s, e, ts, te = raw.table, queries.start, queries.stop, targets.start, targets.stop
    h, t = table.hashes, table.trim_hashes
    both, size = np.concatenate([h[ts:te], t[ts:te]]), te - ts
    q, b, _ = radius_join(np.concatenate([h[s:e], t[s:e]]), both, raw.radius)
    x, y, rows = [s + q % (e - s)], [ts + b % size], len(q)
    if raw.turned is not None:
        q, b, _ = radius_join(raw.turned[s:e].reshape(-1), t[ts:te], raw.radius)
        x.append(s + q // 7)
        y.append(ts + b)
        rows += len(q)
    if raw.crops is not None:
        k = len(CROP_HYPOTHESES)
        q, b, _ = radius_join(raw.crops[s:e].reshape(-1), both, raw.crop_radius)
        x.append(s + q // k)
        y.append(ts + b % size)
        rows += len(q)
    n = np.int64(len(table))
    keys = np.unique(np.concatenate(x).astype(np.int64) * n + np.concatenate(y))
    keys = keys[keys // n != keys % n]
    return keys // n, keys % n, rows


def _owned(raw: RawCandidates, x: np.ndarray, y: np.ndarray) -> Candidates:
    """The best rows of the pairs ``(x, y)`` whose owner is ``x`` (see the module doc)."""
    parts = []
    for start in range(0, len(x), PAIR_BATCH):
        a, b = x[start : start + PAIR_BATCH], y[start : start + PAIR_BATCH]
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        ahead, back = _side(raw, lo, hi), _side(raw, hi, lo)
        mine = np.where(ahead.any(raw), lo, hi) == a
        parts.append(_best(raw, lo[mine], hi[mine], _Side(*(f[mine] for f in (ahead.plain, ahead.turned,
                     ahead.transform, ahead.cropped))), _Side(*(f[mine] for f in (back.plain, back.turned,
                     back.transform, back.cropped)))))  # fmt: skip
    return _joined(parts)


def _joined(parts: list[Candidates]) -> Candidates:
    if not parts:
        return Candidates.empty()
    return Candidates(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("i", "j", "distance", "transform",
                                                                                "kind")))  # fmt: skip


def _compact(cand: Candidates) -> Candidates:
    """A block's kept candidates in 12 bytes a pair (files as int32) while the other blocks run."""
    small = np.int32 if len(cand.i) == 0 or max(int(cand.i.max()), int(cand.j.max())) < 2**31 else np.int64
    return Candidates(cand.i.astype(small), cand.j.astype(small), cand.distance, cand.transform, cand.kind)


def _sorted(parts: list[Candidates], n: int) -> Candidates:
    """The blocks' candidates as one list sorted by pair (``best_per_pair``'s order), a column at a time: at a
    million files the kept candidates of the mosaic tiles are ~20 million, and a lexsort holds several copies."""
    key = np.concatenate([p.i.astype(np.int64) * n + p.j for p in parts]) if parts else np.empty(0, np.int64)
    order = np.argsort(key)
    key = key[order]
    columns = {f: np.concatenate([getattr(p, f) for p in parts])[order] if parts else np.empty(0, np.int8)
               for f in ("distance", "transform", "kind")}  # fmt: skip
    parts.clear()
    return Candidates(key // n, key % n, columns["distance"].astype(np.int16), columns["transform"].astype(np.int8),
                      columns["kind"].astype(np.int8))


def _with_flat(cand: Candidates, flat: Candidates, n: int) -> Candidates:
    """``candidates.merged`` of the sorted ``cand`` and the few ``flat`` pairs, without sorting ``cand`` again:
    the pairs in both get the best of their two rows (``cand``'s first), the others are inserted in order."""
    if not len(flat.i):
        return cand
    keys = cand.i * n + cand.j

    def where(i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions of pairs ``(i, j)`` in ``keys`` (or where they would go), and whether they are there."""
        wanted = np.minimum(i, j) * n + np.maximum(i, j)
        at = np.searchsorted(keys, wanted)
        return at, keys[np.minimum(at, max(len(keys) - 1, 0))] == wanted if len(keys) else np.zeros(len(at), bool)

    at, found = where(flat.i, flat.j)
    both = merged(cand.where(at[found]), flat)
    at, mine = where(both.i, both.j)
    columns = []
    for f in ("i", "j", "distance", "transform", "kind"):
        column = getattr(cand, f).copy()
        column[at[mine]] = getattr(both, f)[mine]
        columns.append(np.insert(column, at[~mine], getattr(both, f)[~mine]))
    return Candidates(*columns)


def wide_and_bar(table: FeatureTable | HashTable, params: NearParams, cand: Candidates) -> tuple[np.ndarray, np.ndarray]:
    """Which candidates ``params.layout`` scores (plain and rotated beyond the threshold, crops of untrimmed
    files) and each one's bar (``layout.LayoutRule``)."""
    rule = params.layout or LayoutRule()
    kind = cand.kind if cand.kind is not None else np.full(len(cand.i), PLAIN, np.int8)
    wide = ((kind == CROP) & ~either_trimmed(table, cand.i, cand.j)) | ((kind != CROP) & (cand.distance > params.threshold))
    return wide, np.where(kind == PLAIN, rule.extension, rule.hypothesis)


@dataclass(frozen=True, slots=True)
class Streamed:
    """The kept candidates (sorted by pair, low-detail layout pairs merged as ``near.with_flat_candidates``
    merges them), what the escalation needs of the raw ones, what ``look`` kept of the dropped, and counts."""

    kept: Candidates
    raw: RawCandidates
    looked: tuple[np.ndarray, np.ndarray]
    counts: StreamCounts


def streamed_candidates(table: FeatureTable | HashTable, params: NearParams, flat: Candidates,
                        look: Look | None = None, progress: Callable[[StreamCounts], None] | None = None
                        ) -> Streamed:  # fmt: skip
    """``near``'s candidates less those ``params.layout`` drops, a block of query files at a time (module doc).

    ``flat``: the low-detail layout pairs (``near.flat_candidates``); ``look``: called with each block's
    dropped candidates; ``progress``: with the counts after each block (benchmarks). The first block has
    :data:`FIRST_BLOCK` files, the next follow the rows a file made."""
    n = len(table)
    raw = RawCandidates.of(table, params, flat)
    held, chunk = HeldChunks(table), layout.CHUNK_FILES
    kept: list[Candidates] = []
    looked: list[tuple[np.ndarray, np.ndarray]] = []
    counts, size = StreamCounts(), FIRST_BLOCK
    chunks = range(0, max(n, 1), chunk)
    for a in range(len(chunks)):
        for b in range(a, len(chunks)):
            held.hold(a, b)
            for qc, tc in ((a, b),) if a == b else ((a, b), (b, a)):
                targets = range(tc * chunk, min(n, (tc + 1) * chunk))
                start, stop = qc * chunk, min(n, (qc + 1) * chunk)
                while start < stop:
                    queries = range(start, min(stop, start + size))
                    x, y, rows = _found(raw, queries, targets)
                    cand = _owned(raw, x, y)
                    keep = np.ones(len(cand.i), bool)
                    if params.layout is not None and len(cand.i):
                        wide, bar = wide_and_bar(table, params, cand)
                        keep = held.score(cand.i, cand.j, cand.transform, wide) >= bar
                    kept.append(_compact(cand.where(keep)))
                    if look is not None and not keep.all():
                        looked.append(look(cand.where(~keep)))
                    counts = StreamCounts(counts.raw + len(keep), counts.kept + int(keep.sum()), counts.blocks + 1,
                                          max(counts.most_rows, rows), counts.queried + len(queries))
                    if progress is not None:
                        progress(counts)
                    start = queries.stop
                    size = int(np.clip(TARGET_ROWS * len(queries) / max(rows, 1), MIN_BLOCK, chunk))
    del held  # its vectors, before the kept candidates are sorted
    whole = _with_flat(_sorted(kept, n), flat, n)
    none = np.empty(0, np.int64)
    pairs = tuple(np.concatenate([p[side] for p in looked]) if looked else none for side in (0, 1))
    return Streamed(whole, raw, (pairs[0], pairs[1]), counts)


@dataclass(frozen=True, slots=True)
class Judged:
    """The thumbnail rules' verdicts, for the escalation (``matching.escalate``, ``matching.partial``): every kept
    candidate, accepted or not, and its alignment; the raw candidates' summary; the dropped ones ``look`` kept."""

    cand: Candidates
    ok: np.ndarray
    alignment: Alignment
    raw: RawCandidates
    looked: tuple[np.ndarray, np.ndarray]
