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

A file may have several pictures (the boxes of ``hashing.framed``); each is
searched, and a pair keeps the nearest.  A picture's nearest files are often
copies of its photo while the group's keeper lies a bit further, so a picture
accepted with a file is judged against the files the thumbnails matched with
it too (:func:`_their_copies`).  And two framed files whose small pictures in
one place differ are never matched (:func:`different_pictures`): their frames
agree in thumbnails and in keypoints.

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

from imgtwin.hashing.features import THUMB, MatchFeatures, dihedral_hashes
from imgtwin.hashing.framed import PICTURE_SPEC, FramedPicture, read_pictures
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


Framed = Mapping[int, Sequence[FramedPicture]]


def load_framed(db_path: str, digests: np.ndarray) -> dict[int, tuple[FramedPicture, ...]]:
    """The framed pictures of the rows (by row, for the rows whose content has any); ``digests``: the rows'
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
    out: dict[int, tuple[FramedPicture, ...]] = {}
    for key, start, end in zip(found, starts.tolist(), ends.tolist(), strict=True):
        pictures = read_pictures(found[key]) if start < end else ()
        if pictures:  # byte copies share the record
            out.update((int(k), pictures) for k in order[start:end])
    return dict(sorted(out.items()))


def flat_pictures(framed: Framed) -> tuple[np.ndarray, list[FramedPicture]]:
    """Every picture that is searched (not low-detail: a blank page inside a drawn frame is matched on pixels
    only) and its row."""
    rows, pictures = [], []
    for k in sorted(framed):
        for picture in framed[k]:
            if not picture.features.low_detail:
                rows.append(k)
                pictures.append(picture)
    return np.array(rows, dtype=np.int64), pictures


def framed_pairs(table: FeatureTable | HashTable, rows: np.ndarray, pictures: Sequence[FramedPicture],
                 matches: Matches) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Pairs ``(i, j)`` of rows and the picture ``p`` (``rows`` and ``pictures`` of :func:`flat_pictures`):
    ``i``'s framed picture ``p`` close to ``j``'s hash, the nearest :data:`NEAREST` of each picture, the nearest
    picture of a row for each ``j``, leaving out pairs the thumbnails matched, and low-detail files."""
    n = len(table)
    none = np.zeros(0, np.int64)
    if n < 2 or not len(rows):
        return none, none, none
    queries = np.array([picture.hash for picture in pictures], dtype=np.uint64)
    q, b, distance = radius_join(queries, np.concatenate([table.hashes, table.trim_hashes]), RADIUS)
    p, j = q.astype(np.int64), (b % n).astype(np.int64)
    keep = rows[p] != j
    if table.low_detail is not None:
        keep &= ~table.low_detail[j]
    p, j, distance = p[keep], j[keep], distance[keep]
    order = np.lexsort((distance, j, p))  # by picture, then file, the nearest of its two hashes first
    p, j, distance = p[order], j[order], distance[order]
    first = np.ones(len(p), dtype=bool)
    first[1:] = (p[1:] != p[:-1]) | (j[1:] != j[:-1])
    p, j, distance = p[first], j[first], distance[first]
    order = np.lexsort((j, distance, p))  # by picture, the nearest first
    p, j, distance = p[order], j[order], distance[order]
    rank = np.arange(len(p)) - np.searchsorted(p, p)  # position among the same picture's candidates
    p, j, distance = p[rank < NEAREST], j[rank < NEAREST], distance[rank < NEAREST]
    i = rows[p]
    order = np.lexsort((distance, j, i))  # one picture of a row per file: the nearest
    i, j, p = i[order], j[order], p[order]
    first = np.ones(len(i), dtype=bool)
    first[1:] = (i[1:] != i[:-1]) | (j[1:] != j[:-1])
    i, j, p = i[first], j[first], p[first]
    keep = ~_known(i, j, matches, n)
    return i[keep], j[keep], p[keep]


def _known(i: np.ndarray, j: np.ndarray, matches: Matches, n: int) -> np.ndarray:
    """Which pairs ``(i, j)`` of rows are among ``matches``."""
    matched = np.minimum(matches.i, matches.j).astype(np.int64) * n + np.maximum(matches.i, matches.j)
    return np.isin(np.minimum(i, j) * n + np.maximum(i, j), matched)


def _their_copies(i: np.ndarray, j: np.ndarray, p: np.ndarray, matches: Matches, n: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """For each accepted ``(i, j, p)``: ``(i, k, p)`` for each file ``k`` the thumbnails matched with ``j``,
    not yet a pair.  A group holds only matches of its keeper, and the nearest few files a picture reaches
    may all be copies of one photo (a reencoded, a downscaled copy) while its keeper, the original, lies a bit
    or two further: the picture is judged against the rest of their group too (no decode)."""
    a, b = matches.i.astype(np.int64), matches.j.astype(np.int64)
    ends, others = np.concatenate([a, b]), np.concatenate([b, a])
    order = np.argsort(ends, kind="stable")
    ends, others = ends[order], others[order]
    lo, hi = np.searchsorted(ends, j, "left"), np.searchsorted(ends, j, "right")
    count = hi - lo
    which = np.repeat(np.arange(len(j)), count)
    at = np.repeat(lo - np.cumsum(count) + count, count) + np.arange(count.sum())
    ni, nk, npic = i[which], others[at], p[which]
    keep = (ni != nk) & ~_known(ni, nk, matches, n)
    pairs = np.unique(np.stack([ni[keep], nk[keep], npic[keep]]), axis=1)
    taken = np.isin(pairs[0] * n + pairs[1], i * n + j)
    return pairs[0][~taken], pairs[1][~taken], pairs[2][~taken]


def framed_matches(table: FeatureTable | HashTable, framed: Framed, matches: Matches,
                   params: NearParams = _PARAMS, rule: EscalationRule = _RULE,
                   ) -> tuple[DeepMatches, tuple[np.ndarray, np.ndarray]]:  # fmt: skip
    """The candidates of :func:`framed_pairs` and of :func:`_their_copies` the thumbnail rules accept (``i``:
    the other file, ``j``: the framed one), and those left for the local features (rejected, not clearly
    different)."""
    rows, pictures = flat_pictures(framed)
    f, o, p = framed_pairs(table, rows, pictures, matches)
    first = _judged(table, f, o, [pictures[k] for k in p.tolist()], params, rule)
    ok = first[0]
    more = _their_copies(f[ok], o[ok], p[ok], matches, len(table))
    second = _judged(table, more[0], more[1], [pictures[k] for k in more[2].tolist()], params, rule)
    return concat_matches(first[1], second[1]), (np.concatenate([first[2][0], second[2][0]]),
                                                 np.concatenate([first[2][1], second[2][1]]))


def _judged(table: FeatureTable | HashTable, f: np.ndarray, o: np.ndarray, pictures: Sequence[FramedPicture],
            params: NearParams, rule: EscalationRule
            ) -> tuple[np.ndarray, DeepMatches, tuple[np.ndarray, np.ndarray]]:  # fmt: skip
    """Of the pairs of framed rows ``f`` (their ``pictures``) and other rows ``o``: which the thumbnail rules
    accept, those as matches, and the rest that is not clearly different (for the local features)."""
    if not len(f):
        return np.zeros(0, bool), concat_matches(), (f, o)
    derived = _pair_table(table.take(o), [picture.features for picture in pictures])
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
        left, top, right, bottom = pictures[k].box
        quad = np.array([[left, top], [right, top], [right, bottom], [left, bottom]]) * THUMB
        share = frame_share(frames[n], quad)
        words.append("inside a larger frame")
        back.append(f"crop {100 * (1 - (right - left) * (bottom - top)):.0f}%")
        source.append(int(o[k]) if share is not None and share >= FRAME_SHARE else -1)
    found = DeepMatches(o[accepted], f[accepted], np.zeros(len(accepted), np.int64), tuple(words), tuple(back),
                        np.array(source, np.int64), np.ones(len(accepted)), distance[accepted].astype(np.int64))
    rest = ~ok & close
    return ok, found, (f[rest], o[rest])


def different_pictures(matches: Matches, framed: Framed) -> np.ndarray:
    """Which ``matches`` join two framed files whose pictures, small and in the same place of their frames,
    differ: two screenshots of different small photos in one app share the bars, the caption and the buttons,
    their 32 x 32 thumbnails (the frame, mostly) agree as a copy's do, and keypoints fit on the frame's text
    and icons.  Apart where there is a pair of their pictures whose boxes coincide (:data:`SAME_BOX`), each
    under :data:`SMALL` of its frame and detailed (:func:`_compared`), and every such pair lies :data:`APART`
    bits or more apart in every turn and mirror (a mirrored screenshot's picture is its mirror image)."""
    out = np.zeros(len(matches.i), dtype=bool)
    rows = np.fromiter(framed, dtype=np.int64, count=len(framed))
    both = np.flatnonzero(np.isin(matches.i, rows) & np.isin(matches.j, rows))  # no Python per match
    for k, a, b in zip(both.tolist(), matches.i[both].tolist(), matches.j[both].tolist()):
        distances = [_turned_distance(x, y) for x in framed[a] for y in framed[b] if _compared(x, y)]
        out[k] = bool(distances) and min(distances) >= APART
    return out


#: Boxes whose intersection is this share of their union are one place of a frame.
SAME_BOX = 0.8
#: Pictures under this share of their frame: the frame dominates the thumbnail.  (A plain photo's own flat
#: columns at both sides make a box of 0.47 of it, and a crop of it moves that box's content 20+ bits.)
SMALL = 0.3
#: Two pictures this many bits apart are different photos (copies lie within 10; unrelated photos ~32).
APART = 20


def _compared(x: FramedPicture, y: FramedPicture) -> bool:
    """Whether two pictures tell their frames apart: small, in one place, detailed (a low-detail picture's hash
    is noise: a blank page in a drawn frame and its re-encoded copy lie 20+ bits apart)."""
    small = is_small(x) and is_small(y)
    detailed = not (x.features.low_detail or y.features.low_detail)
    return small and detailed and _overlap(x.box, y.box) >= SAME_BOX


def is_small(picture: FramedPicture) -> bool:
    """Whether ``picture`` fills under :data:`SMALL` of its frame: the frame dominates the file."""
    return _area(picture.box) < SMALL


def _turned_distance(x: FramedPicture, y: FramedPicture) -> int:
    """The fewest bits between ``y``'s hash and ``x``'s under any turn or mirror."""
    turned = dihedral_hashes(x.features.full_thumb_array()[None])[0]
    return int(np.bitwise_count(turned ^ np.uint64(y.hash)).min())


def _area(box: tuple[float, float, float, float]) -> float:
    return (box[2] - box[0]) * (box[3] - box[1])


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two boxes (fractions)."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = _area(a) + _area(b) - w * h
    return w * h / union if union > 0 else 0.0


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
