"""Candidates for framed copies: the picture inside a screenshot's frame, searched against every file (issue 24).

A screenshot's 32 x 32 thumbnail is mostly its app's bars, so no thumbnail
rule reaches its original.  The scan records the pHash of the picture inside
the frame, found on its own decode (``hashing.framed``); here each such hash is
searched within :data:`RADIUS` bits of every file's two hashes (``radius_join``,
no all-pairs loop), and the nearest few make candidates.  Each is judged as two
files are (``near.judge``: the picture's thumbnail and colour layout against the
other file's, with the crop alignments), which needs no decode; those it rejects
without finding them clearly different go to the local features
(``matching.escalate``: the deep verifier with its framing rules).

Which file is the source: the framed one holds the other's picture where its
thumbnail around the box is mostly one flat colour (an app's bars, a border:
``framing.frame_share``, as ``--deep`` decides it); where the box lies on a
photo's own flat sky and ground, the other file may be a crop of it, and
neither is called the source.

Measured on the small phone-edits corpus (1,000 files): of the screenshots with a
box, 20 of 24 lie within 8 bits of their original's hash, while the nearest
other file lies 10 or more bits away (16-22 for most).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from imgtwin.hashing.features import THUMB, MatchFeatures
from imgtwin.hashing.framed import PICTURE_SPEC, FramedPicture
from imgtwin.matching.candidates import PLAIN, Candidates
from imgtwin.matching.deep import DeepMatches
from imgtwin.matching.escalate import EscalationRule, concat_matches
from imgtwin.matching.framing import frame_share
from imgtwin.matching.grouping import Matches
from imgtwin.matching.hashtable import HashTable
from imgtwin.matching.near import NearParams, judge
from imgtwin.matching.search import radius_join
from imgtwin.matching.table import FeatureTable
from imgtwin.persistence.index import HashIndex
from imgtwin.persistence.pictures import framed_records

#: Bits between a framed picture's hash and a file's hash (plain or trimmed) that make a candidate.
RADIUS = 10
#: At most this many candidates per framed picture, the nearest first.
NEAREST = 3
_PARAMS, _RULE = NearParams(), EscalationRule()


def load_framed(db_path: str, digests: np.ndarray) -> dict[int, FramedPicture]:
    """The framed pictures of the rows (by row, for the rows whose content has one); ``digests``: the rows'
    content hashes (``Loaded.digests``, ASCII hex, b"" for none).  The index's framed records are few, so they
    are read whole and found among the rows by one sort, with no per-row Python."""
    with HashIndex(db_path, readonly=True) as index:
        found = framed_records(index.conn, PICTURE_SPEC)
    if not found or not len(digests):
        return {}
    order = np.argsort(digests, kind="stable")
    ordered = digests[order]
    keys = np.array([k.encode("ascii") for k in found], dtype=digests.dtype)
    starts, ends = np.searchsorted(ordered, keys, "left"), np.searchsorted(ordered, keys, "right")
    out: dict[int, FramedPicture] = {}
    for key, start, end in zip(found, starts.tolist(), ends.tolist(), strict=True):
        record = FramedPicture.from_bytes(found[key]) if start < end else None
        if record is not None:  # byte copies share the record
            out.update((int(k), record) for k in order[start:end])
    return dict(sorted(out.items()))


def framed_pairs(table: FeatureTable | HashTable, framed: Mapping[int, FramedPicture],
                 matches: Matches) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Pairs ``(i, j)`` of rows: ``i``'s framed picture close to ``j``'s hash, the nearest :data:`NEAREST` of
    each, leaving out pairs the thumbnails matched, and low-detail pictures, framed or found."""
    n = len(table)
    none = np.zeros(0, np.int64)
    if n < 2 or not framed:
        return none, none
    # a flat picture's content (a blank page inside a drawn frame) is matched on pixels only, never searched
    rows = np.array(sorted(k for k, picture in framed.items() if not picture.features.low_detail), dtype=np.int64)
    if not len(rows):
        return none, none
    queries = np.array([framed[k].hash for k in rows.tolist()], dtype=np.uint64)
    q, b, distance = radius_join(queries, np.concatenate([table.hashes, table.trim_hashes]), RADIUS)
    i, j = rows[q], (b % n).astype(np.int64)
    keep = i != j
    if table.low_detail is not None:
        keep &= ~table.low_detail[j]
    i, j, distance = i[keep], j[keep], distance[keep]
    order = np.lexsort((distance, j, i))  # by query, then file, the nearest of its two hashes first
    i, j, distance = i[order], j[order], distance[order]
    first = np.ones(len(i), dtype=bool)
    first[1:] = (i[1:] != i[:-1]) | (j[1:] != j[:-1])
    i, j, distance = i[first], j[first], distance[first]
    order = np.lexsort((j, distance, i))  # by query, the nearest first
    i, j = i[order], j[order]
    rank = np.arange(len(i)) - np.searchsorted(i, i)  # position among the same query's candidates
    i, j = i[rank < NEAREST], j[rank < NEAREST]
    matched = np.minimum(matches.i, matches.j).astype(np.int64) * n + np.maximum(matches.i, matches.j)
    keep = ~np.isin(np.minimum(i, j) * n + np.maximum(i, j), matched)
    return i[keep], j[keep]


def framed_matches(table: FeatureTable | HashTable, framed: Mapping[int, FramedPicture], matches: Matches,
                   params: NearParams = _PARAMS, rule: EscalationRule = _RULE,
                   ) -> tuple[DeepMatches, tuple[np.ndarray, np.ndarray]]:  # fmt: skip
    """The candidates of :func:`framed_pairs` the thumbnail rules accept (``i``: the other file, ``j``: the
    framed one), and those left for the local features (rejected, not clearly different)."""
    f, o = framed_pairs(table, framed, matches)
    if not len(f):
        return concat_matches(), (f, o)
    derived = _pair_table(table.take(o), [framed[k].features for k in f.tolist()])
    m = len(f)
    distance = np.minimum(np.bitwise_count(derived.hashes[:m] ^ table.hashes[o]),
                          np.bitwise_count(derived.hashes[:m] ^ table.trim_hashes[o])).astype(np.int16)
    cand = Candidates(np.arange(m), np.arange(m) + m, distance, np.zeros(m, np.int8), np.full(m, PLAIN, np.int8))
    ok, alignment = judge(derived, params, cand)
    close = (alignment.detail <= rule.max_detail) | (alignment.correlation >= rule.min_correlation)
    words, back, source = [], [], []
    accepted = np.flatnonzero(ok)
    frames = table.take(f[accepted]).full(np.arange(len(accepted)))  # the framed files' untrimmed thumbnails
    for n, k in enumerate(accepted.tolist()):
        left, top, right, bottom = framed[int(f[k])].box
        quad = np.array([[left, top], [right, top], [right, bottom], [left, bottom]]) * THUMB
        share = frame_share(frames[n], quad)
        words.append("inside a larger frame")
        back.append(f"crop {100 * (1 - (right - left) * (bottom - top)):.0f}%")
        source.append(int(o[k]) if share is not None and share >= FRAME_SHARE else -1)
    rows = np.flatnonzero(ok)
    found = DeepMatches(o[rows], f[rows], np.zeros(len(rows), np.int64), tuple(words), tuple(back),
                        np.array(source, np.int64), np.ones(len(rows)), distance[rows].astype(np.int64))
    rest = ~ok & close
    return found, (f[rest], o[rest])


#: The share of a framed file's thumbnail around its picture that must be one flat colour for the picture to be
#: the other file's (``--deep``'s rule, ``matching.deep``).
FRAME_SHARE = 0.5


def _pair_table(table: FeatureTable, pictures: Sequence[MatchFeatures]) -> FeatureTable:
    """Rows ``k`` (``pictures[k]``, as a file) and ``m + k`` (``table``'s row ``k``, as stored)."""
    mine = FeatureTable.from_features(pictures)
    m = len(pictures)
    other = np.arange(len(table))

    def both(column: np.ndarray | None, own: np.ndarray | None) -> np.ndarray | None:
        return None if column is None or own is None else np.concatenate([own, column[other]])

    full = mine.full(np.arange(m))
    return FeatureTable(
        np.concatenate([mine.hashes, table.hashes[other]]),
        np.concatenate([mine.trim_hashes, table.trim_hashes[other]]),
        np.concatenate([mine.thumbs, table.thumbs[other]]),
        np.concatenate([full, table.full(other)]),
        np.concatenate([mine.trimmed if mine.trimmed is not None else np.zeros(m, bool),
                        table.trimmed[other] if table.trimmed is not None else np.zeros(len(other), bool)]),
        colour=both(table.colour, mine.colour),
        low_detail=both(table.low_detail, mine.low_detail),
        featureless=both(table.featureless, mine.featureless),
        mostly_flat=both(table.mostly_flat, mine.mostly_flat),
        trim=both(table.trim, mine.trim),
    )
