"""``--deep`` matching: the stored local features of the compared files, and the matches they add.

* :func:`local_features_for`: the stored features of the compared files
  (computed by the run's deep pass, ``runs.deep``).
* :func:`deep_extra_matches`: the deep matches the global matcher did not
  make, as extra ``grouping.Matches``, and which members are derived copies
  (crops, screenshots) that must not be kept over their source.
* :func:`on_frames_only`: which of them join two framed files on their frames alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from imgtwin.hashing.framed import FramedPicture
from imgtwin.hashing.local import LocalFeatures, LocalSpec
from imgtwin.matching.deep import DeepMatches, DeepParams, LocalTable, deep_matches, verify_candidates
from imgtwin.matching.framed import is_small
from imgtwin.matching.grouping import Matches
from imgtwin.matching.hashtable import HashTable
from imgtwin.matching.table import FeatureTable
from imgtwin.persistence.local_features import LocalFeatureStore

LOCAL_SPEC = LocalSpec()


def local_features_for(db_path: str, content_hashes: Sequence[str | None], spec: LocalSpec = LOCAL_SPEC,
                       inner: bool = False) -> list[LocalFeatures | None]:  # fmt: skip
    """The stored features of each content hash (None: none stored, or no hash); ``inner``: with their inner
    pictures' features where stored (``LocalFeatures.inner``: ``--deep``'s framed files, ``runs.deep``)."""
    with LocalFeatureStore(db_path) as store:
        data = store.load((h for h in content_hashes if h), spec.id)
        inners = store.load((h for h in content_hashes if h and h in data), spec.inner_id) if inner else {}
    decoded: dict[str, LocalFeatures] = {}
    out: list[LocalFeatures | None] = []
    for digest in content_hashes:
        if not digest or digest not in data:
            out.append(None)
            continue
        if digest not in decoded:
            features = LocalFeatures.from_bytes(data[digest])
            if digest in inners:
                features = features.with_inner(LocalFeatures.from_bytes(inners[digest]))
            decoded[digest] = features
        out.append(decoded[digest])
    return out


def deep_extra_matches(
    matches: Matches,
    table: FeatureTable | HashTable,
    local: Sequence[LocalFeatures | None],
    content_hashes: Sequence[str | None],
    params: DeepParams = DeepParams(),
    framed: Mapping[int, Sequence[FramedPicture]] | None = None,
) -> tuple[Matches, list[tuple[int, int]], DeepMatches]:
    """``matches`` plus the deep matches it lacks; ``(source, derived)`` pairs; the deep matches.

    Byte copies share one feature record, so only the first file of each
    content is matched (the grouping makes its twins follow it).  ``framed``: the pictures the scan found
    inside the rows' frames (``matching.framed.load_framed``): a match on the frames alone is none
    (:func:`on_frames_only`).
    """
    first: dict[str, int] = {}
    unique = []
    for k, digest in enumerate(content_hashes):
        if local[k] is None:
            continue
        if digest and digest in first:
            continue
        if digest:
            first[digest] = k
        unique.append(k)
    index = np.array(unique, dtype=np.int64)
    known = {(min(a, b), max(a, b)) for a, b in zip(matches.i.tolist(), matches.j.tolist())}
    position = {k: p for p, k in enumerate(unique)}
    skip = {(min(position[a], position[b]), max(position[a], position[b])) for a, b in known
            if a in position and b in position}  # fmt: skip
    pixels = table.take(index) if len(index) else None
    found = deep_matches([local[k] for k in unique], pixels.full(np.arange(len(index))) if pixels is not None
                         else None, pixels.hashes if pixels is not None else None, params, skip)
    found = found.of_rows(index)
    if framed:
        found = found.where(~on_frames_only(found, local, framed, params))
    return matches.concat(found.matches()), found.derived, found


def on_frames_only(found: DeepMatches, local: Sequence[LocalFeatures | None],
                   framed: Mapping[int, Sequence[FramedPicture]], params: DeepParams = DeepParams()) -> np.ndarray:
    """Which ``found`` matches (rows of ``local``) join two framed files whose fit holds on neither picture.

    Why: two screenshots of different photos in apps alike (a desktop's windows) share the title bars, menus
    and icons; their keypoints fit there as a copy's do.  ``matching.content`` judges such a fit again on the
    inliers inside the pictures, where the local features found the picture's box (one flat colour on both
    sides); on a desktop's wallpaper they find none.  The scan's framed boxes (``hashing.framed``) do, and
    where both files are framed, every box small (``framed.is_small``: the frame dominates the file), a copy's fit has its inliers on the photo: at least ``min_inliers`` inside one file's boxes
    (a box may be another island of the window, so one file's is enough).  On the medium phone-edits corpus
    two such screenshots had every one of 28 inliers on the frames and were grouped ("rotated 5°, inside a
    larger frame").  A plain photo whose flat sky made a box is not small and never asked about.
    """
    out = np.zeros(len(found), dtype=bool)
    asked = [k for k, (a, b) in enumerate(zip(found.i.tolist(), found.j.tolist()))
             if _small_frame(framed.get(a)) and _small_frame(framed.get(b))]  # fmt: skip
    if not asked:
        return out
    rows = sorted({int(r) for k in asked for r in (found.i[k], found.j[k])})
    position = {r: p for p, r in enumerate(rows)}
    table = LocalTable.build([local[r] for r in rows])
    pi = np.array([position[int(found.i[k])] for k in asked], np.int64)
    pj = np.array([position[int(found.j[k])] for k in asked], np.int64)
    for k, fit, a, b in zip(asked, verify_candidates(table, pi, pj, params), pi.tolist(), pj.tolist()):
        if fit is None or fit.pairs is None:
            continue
        ra, rb = rows[a], rows[b]
        fa, fb = local[ra], local[rb]
        if fa is None or fb is None:
            continue
        fa, fb = fit.sides(fa, fb)
        inside_a = _inside(fa, framed[ra], fit.pairs[:, 0])
        inside_b = _inside(fb, framed[rb], fit.pairs[:, 1])
        out[k] = max(inside_a, inside_b) < params.geometry.min_inliers
    return out


def _small_frame(pictures: Sequence[FramedPicture] | None) -> bool:
    return bool(pictures) and all(is_small(p) for p in pictures or ())


def _inside(features: LocalFeatures | None, pictures: Sequence[FramedPicture], keypoints: np.ndarray) -> int:
    """How many of ``keypoints`` lie inside one of the boxes of ``pictures``."""
    if features is None:
        return 0
    x = features.points[keypoints, 0] / features.width
    y = features.points[keypoints, 1] / features.height
    inside = np.zeros(len(keypoints), dtype=bool)
    for p in pictures:
        inside |= (x >= p.box[0]) & (x <= p.box[2]) & (y >= p.box[1]) & (y <= p.box[3])
    return int(inside.sum())

