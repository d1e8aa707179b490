"""Candidates for framed copies: the picture inside a screenshot's frame, searched against every file (issue 24).

A screenshot's 32 x 32 thumbnail is mostly its app's bars, so no thumbnail
rule reaches its original.  The scan records the pHash of the picture inside
the frame, found on its own decode (``hashing.framed``); here each such hash is
searched within :data:`RADIUS` bits of every file's two hashes (``radius_join``,
no all-pairs loop), and the nearest few make pairs that the local features
decide (``matching.escalate``: the deep verifier with its framing rules).

Measured on the small phone-edits corpus (1,000 files): of the screenshots with a
box, 20 of 24 lie within 8 bits of their original's hash, while the nearest
other file lies 10 or more bits away (16-22 for most).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from imgtwin.hashing.framed import PICTURE_SPEC, FramedPicture
from imgtwin.matching.grouping import Matches
from imgtwin.matching.search import radius_join
from imgtwin.matching.table import FeatureTable
from imgtwin.persistence.index import HashIndex
from imgtwin.persistence.pictures import framed_of

#: Bits between a framed picture's hash and a file's hash (plain or trimmed) that make a candidate.
RADIUS = 10
#: At most this many candidates per framed picture, the nearest first.
NEAREST = 3


def load_framed(db_path: str, content_hashes: Sequence[str | None]) -> dict[int, FramedPicture]:
    """The framed pictures of the rows (by row, for the rows whose content has one)."""
    with HashIndex(db_path, readonly=True) as index:
        found = framed_of(index.conn, (d for d in content_hashes if d), PICTURE_SPEC)
    out: dict[int, FramedPicture] = {}
    for k, digest in enumerate(content_hashes):
        record = FramedPicture.from_bytes(found[digest]) if digest and digest in found else None
        if record is not None:
            out[k] = record
    return out


def framed_pairs(table: FeatureTable, framed: Mapping[int, FramedPicture],
                 matches: Matches) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Pairs ``(i, j)`` of rows, ``i < j``: a framed picture of one close to the other's hash, the nearest
    :data:`NEAREST` of each, leaving out pairs the thumbnails matched and low-detail pictures found."""
    n = len(table)
    none = np.zeros(0, np.int64)
    if n < 2 or not framed:
        return none, none
    rows = np.array(sorted(framed), dtype=np.int64)
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
    a, c = np.minimum(i, j), np.maximum(i, j)
    matched = np.minimum(matches.i, matches.j).astype(np.int64) * n + np.maximum(matches.i, matches.j)
    keep = ~np.isin(a * n + c, matched)
    return a[keep], c[keep]
