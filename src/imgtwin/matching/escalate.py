"""The default ``find`` decides with local features the few pairs its thumbnails cannot (issue 24).

A sticker, a caption, a hard crop, a keystone fix or a straightening moves a
copy's 32 x 32 thumbnail as far from its original as two shots of one scene
are from each other: the thumbnail rules (``matching.near``) must reject such
a pair to keep precision.  ``find --deep`` decides them with local features,
but computes them for every file (a second decode and ORB, ~15 ms a file).
Here only the candidate pairs the thumbnails reject *without* finding them
clearly different are escalated (:func:`undecided_pairs`), the local features
of just their files are computed (``runs.find``, through the index's
``local_features`` table, which a later run or ``--deep`` reuses), and the
pairs are verified by the deep verifier with its safety rules
(``matching.deep.verified_matches``: the fit's frame inside the other's
picture, the inliers in the pictures and not on an app's layout).

*Clearly different*: a rejected candidate whose aligned thumbnails disagree
in detail (distance > :attr:`EscalationRule.max_detail` of 255 bits) and
whose gradients do not correlate (< :attr:`EscalationRule.min_correlation`).
On the small phone-edits corpus (1,000 files) 95 % of the wrong candidates
have detail >= 70 and correlation <= 0.62, while the true ones rejected have
a median detail of 50.  The thresholds trade recall for the files decoded
again: on the medium phone-edits corpus (5,000 files; docs/benchmarks.md,
issue 24 part 2), with the hard crops and the groups' other pairs, 70 / 0.6
needs the local features of 931 files and verifies 441 pairs, 56 / 0.75 799
and 386, 48 / 0.8 725 and 349, none of them wrong.  Low-detail pictures are
never escalated: keypoints on a flat picture fit anything
alike, and the flat rules (``matching.flat``) decide them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from imgtwin.hashing.local import LocalFeatures
from imgtwin.matching.deep import DeepMatches, DeepParams, LocalTable, verified_matches
from imgtwin.matching.derived import HASH_BLOCK, crop_hashes
from imgtwin.matching.grouping import Matches
from imgtwin.matching.layout import LayoutRule, LayoutVectors, cropped, layout_vectors
from imgtwin.matching.near import Candidates
from imgtwin.matching.search import radius_join
from imgtwin.matching.table import FeatureTable
from imgtwin.matching.verify import Alignment


@dataclass(frozen=True, slots=True)
class EscalationRule:
    """Which rejected candidates are not clearly different (see the module doc)."""

    max_detail: int = 56
    min_correlation: float = 0.75


class LocalSource(Protocol):
    """The local features of files (one path per content hash), computed where the index lacks them
    (``runs.find``: in the worker pool); None where a file could not be read."""

    def __call__(self, paths: Sequence[str], content_hashes: Sequence[str]) -> list[LocalFeatures | None]: ...


def undecided_pairs(table: FeatureTable, judged: tuple[Candidates, np.ndarray, Alignment],
                    rule: EscalationRule = EscalationRule()) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Pairs ``(i, j)`` of candidates the thumbnails rejected but did not find clearly different."""
    cand, ok, alignment = judged
    close = (alignment.detail <= rule.max_detail) | (alignment.correlation >= rule.min_correlation)
    wanted = ~ok & close
    if table.low_detail is not None:
        wanted &= ~(table.low_detail[cand.i] | table.low_detail[cand.j])
    return cand.i[wanted], cand.j[wanted]


#: Harder crops than the thumbnail rules try (``near.CROP_HYPOTHESES``: 4-8 %): 15 and 25 % off one side,
#: 15 % off two sides at a corner, a 20 % zoom. A hypothesis within :data:`HARD_CROP_RADIUS` bits of another
#: file's hash makes a pair to escalate: on the small phone-edits corpus, 19 pairs of 25 files in 1,000
#: at 6 bits (10 of them true; 8 bits: 42 pairs of 54 files).
HARD_CROPS = (
    (0.15, 0.0, 0.0, 0.0), (0.0, 0.15, 0.0, 0.0), (0.0, 0.0, 0.15, 0.0), (0.0, 0.0, 0.0, 0.15),
    (0.25, 0.0, 0.0, 0.0), (0.0, 0.25, 0.0, 0.0), (0.0, 0.0, 0.25, 0.0), (0.0, 0.0, 0.0, 0.25),
    (0.15, 0.15, 0.0, 0.0), (0.0, 0.15, 0.15, 0.0), (0.0, 0.0, 0.15, 0.15), (0.15, 0.0, 0.0, 0.15),
    (0.1, 0.1, 0.1, 0.1),
)  # fmt: skip
HARD_CROP_RADIUS = 6


def hard_crop_pairs(table: FeatureTable, cand: Candidates, layout: LayoutRule | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Pairs ``(i, j)`` where a hard crop of ``i`` (:data:`HARD_CROPS`) is close to ``j``'s hash, that are no
    candidate of the thumbnail rules already (those decided them), where neither picture is low-detail and
    (``layout``) where that crop of ``i`` correlates with ``j`` without the 2 x 2 layout (``matching.layout``).
    ``find`` leaves ``layout`` out: a screenshot of a wood texture that local features match through its hard
    crop scores 0.08 there (the crop does not align the app's frame away); they are few (0.035 a file on
    200,000 mosaic tiles)."""
    i, j, crop = hard_crop_candidates(table, cand)
    if layout is not None and len(i):
        kept = hard_crop_layout(table, i, j, crop, LayoutVectors(table)) >= layout.hypothesis
        i, j = i[kept], j[kept]
    return np.minimum(i, j), np.maximum(i, j)


def hard_crop_candidates(table: FeatureTable, cand: Candidates) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(i, j, crop)``: ``HARD_CROPS[crop]`` of ``i`` is close to ``j``'s hash (see :func:`hard_crop_pairs`)."""
    n = len(table)
    none = np.zeros(0, np.int64)
    if n < 2:
        return none, none, none
    both = np.concatenate([table.hashes, table.trim_hashes])
    crops = np.concatenate([crop_hashes(table.full(np.arange(lo, min(lo + HASH_BLOCK, n))), HARD_CROPS)
                            for lo in range(0, n, HASH_BLOCK)])
    q, b, _ = radius_join(crops.reshape(-1), both, HARD_CROP_RADIUS)
    i, j, crop = (q // len(HARD_CROPS)).astype(np.int64), (b % n).astype(np.int64), q % len(HARD_CROPS)
    keep = (i != j) & ~np.isin(np.minimum(i, j) * n + np.maximum(i, j), cand.i.astype(np.int64) * n + cand.j)
    if table.low_detail is not None:
        keep &= ~(table.low_detail[i] | table.low_detail[j])
    return i[keep], j[keep], crop[keep]


def hard_crop_layout(table: FeatureTable, i: np.ndarray, j: np.ndarray, crop: np.ndarray, vectors: LayoutVectors
                     ) -> np.ndarray:  # fmt: skip
    """Per pair, the layout-free correlation of ``i`` cut by ``HARD_CROPS[crop]`` with ``j`` as stored."""
    out = np.empty(len(i), np.float32)
    for k in np.unique(crop).tolist():
        rows = np.flatnonzero(crop == k)
        out[rows] = vectors.best(layout_vectors(cropped(table.full(i[rows]), HARD_CROPS[k])), j[rows])
    return out


def escalated_matches(
    matches: Matches,
    table: FeatureTable,
    judged: tuple[Candidates, np.ndarray, Alignment],
    paths: Sequence[str],
    content_hashes: Sequence[str | None],
    source: LocalSource,
    rule: EscalationRule = EscalationRule(),
    params: DeepParams = DeepParams(),
) -> DeepMatches:
    """The undecided pairs (rows of ``table``; ``matches``: those the thumbnails accepted) that local features
    verify, with the deep verifier's words.

    A group holds only matches of its keeper (``grouping.form_groups``), and the keeper may be any member: so
    where a verified pair joins two files, the other pairs of their group, up to :data:`GROUP_PAIRS`, are
    verified too (a straightened copy and a stickered one of one photo match each other as well as the photo).
    Each content's first row stands for its byte copies (they share one feature record and the grouping makes
    them follow it); pairs of one content are no question.
    """
    first: dict[str, int] = {}
    for k, digest in enumerate(content_hashes):
        if digest:
            first.setdefault(digest, k)
    unit = np.array([first[d] if d else -1 for d in content_hashes], dtype=np.int64)
    i, j = (np.concatenate(p) for p in zip(undecided_pairs(table, judged, rule), hard_crop_pairs(table, judged[0])))
    found = _verified(_pairs(unit[i], unit[j]), table, paths, content_hashes, source, params)
    if not len(found):
        return found
    known = _pairs(np.concatenate([unit[matches.i], found.i]), np.concatenate([unit[matches.j], found.j]))
    more = _group_pairs(known, {int(k) for k in (*found.i, *found.j)})
    if not more:
        return found
    return _concat(found, _verified(more, table, paths, content_hashes, source, params))


#: The most pairs a group's closure may add: a group of 12 files has 66 pairs.
GROUP_PAIRS = 66


def _pairs(i: np.ndarray, j: np.ndarray) -> list[tuple[int, int]]:
    """Distinct pairs ``a < b`` of rows, leaving out rows with no content hash (-1) and pairs of one content."""
    return sorted({(min(a, b), max(a, b)) for a, b in zip(i.tolist(), j.tolist()) if a >= 0 and b >= 0 and a != b})


def _group_pairs(known: list[tuple[int, int]], touched: set[int]) -> list[tuple[int, int]]:
    """The pairs not in ``known`` within each group (connected by ``known``) that holds a row of ``touched``."""
    parent: dict[int, int] = {}

    def root(k: int) -> int:
        while parent.setdefault(k, k) != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for a, b in known:
        parent[root(a)] = root(b)
    members: dict[int, list[int]] = {}
    for k in parent:
        members.setdefault(root(k), []).append(k)
    have = set(known)
    out: list[tuple[int, int]] = []
    for group in members.values():
        if len(group) * (len(group) - 1) // 2 > GROUP_PAIRS or touched.isdisjoint(group):
            continue
        group.sort()
        out += [(a, b) for x, a in enumerate(group) for b in group[x + 1 :] if (a, b) not in have]
    return out


def _verified(pairs: list[tuple[int, int]], table: FeatureTable, paths: Sequence[str],
              content_hashes: Sequence[str | None], source: LocalSource, params: DeepParams) -> DeepMatches:  # fmt: skip
    """The ``pairs`` of rows whose local features fit (``deep.verified_matches``), features from ``source``."""
    rows = sorted({k for pair in pairs for k in pair})
    if not rows:
        return _none()
    features = source([paths[k] for k in rows], [content_hashes[k] or "" for k in rows])
    position = {k: p for p, k in enumerate(rows)}
    index = np.array(rows, dtype=np.int64)
    pi = np.array([position[a] for a, _ in pairs], dtype=np.int64)
    pj = np.array([position[b] for _, b in pairs], dtype=np.int64)
    present = np.array([features[a] is not None and features[b] is not None for a, b in zip(pi, pj)], dtype=bool)
    found = verified_matches(LocalTable.build(features), pi[present], pj[present], table.full(index), table.hashes[index],
                             params)
    return found.of_rows(index)


def _concat(a: DeepMatches, b: DeepMatches) -> DeepMatches:
    return DeepMatches(np.concatenate([a.i, b.i]), np.concatenate([a.j, b.j]), np.concatenate([a.inliers, b.inliers]),
                       a.transform + b.transform, a.inverse + b.inverse, np.concatenate([a.source, b.source]),
                       np.concatenate([a.shared, b.shared]), np.concatenate([a.distance, b.distance]))


def _none() -> DeepMatches:
    empty = np.zeros(0, np.int64)
    return DeepMatches(empty, empty, empty, (), (), empty, np.zeros(0, np.float64), empty)


def with_escalated(matches: Matches, found: DeepMatches) -> Matches:
    """``matches`` plus the escalated ones (a candidate the thumbnails rejected is not among them)."""
    return matches.concat(found.matches()) if len(found) else matches
