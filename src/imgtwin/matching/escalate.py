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
The pairs no thumbnail candidate reaches, or that the thumbnails find
different as a whole (hard crops, stickers, captions, logos), come from
``matching.partial``, where the thumbnails agree in part.

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
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from imgtwin.hashing.features import dihedral_hashes
from imgtwin.hashing.local import LocalFeatures
from imgtwin.matching.deep import DeepMatches, DeepParams, LocalTable, verified_matches
from imgtwin.matching.grouping import MIRRORED, Matches, mirrors
from imgtwin.matching.hashtable import HashTable
from imgtwin.matching.partial import partial_pairs
from imgtwin.matching.stream import Judged
from imgtwin.matching.table import FeatureTable


@dataclass(frozen=True, slots=True)
class EscalationRule:
    """Which rejected candidates are not clearly different (see the module doc)."""

    max_detail: int = 56
    min_correlation: float = 0.75


class Files(Protocol):
    """The files of a table's rows (``matching.files.Loaded``): read for the few rows of undecided pairs."""

    def units(self) -> np.ndarray: ...

    def paths(self, rows: Sequence[int]) -> list[str]: ...

    def content_hashes(self, rows: Sequence[int] | None = None) -> list[str | None]: ...


class LocalSource(Protocol):
    """The local features of files (one path per content hash), computed where the index lacks them
    (``runs.find``: in the worker pool); None where a file could not be read."""

    def __call__(self, paths: Sequence[str], content_hashes: Sequence[str]) -> list[LocalFeatures | None]: ...

    def prefetch(self, paths: Sequence[str], content_hashes: Sequence[str]) -> None:
        """Start computing the features of these files, for a later call; returns at once."""

    def mirrored(self) -> LocalSource:
        """The source of the features of the files' mirror images (``hashing.local.LocalSpec.mirrored``)."""


def undecided_pairs(table: FeatureTable | HashTable, judged: Judged, rule: EscalationRule = EscalationRule()
                    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Pairs ``(i, j)`` of candidates the thumbnails rejected but did not find clearly different (those the
    layout filter dropped never are: ``matching.stream``)."""
    cand, ok, alignment = judged.cand, judged.ok, judged.alignment
    close = (alignment.detail <= rule.max_detail) | (alignment.correlation >= rule.min_correlation)
    wanted = ~ok & close
    if table.low_detail is not None:
        wanted &= ~(table.low_detail[cand.i] | table.low_detail[cand.j])
    return cand.i[wanted], cand.j[wanted]


def escalated_matches(
    matches: Matches,
    table: FeatureTable | HashTable,
    judged: Judged,
    files: Files,
    source: LocalSource,
    rule: EscalationRule = EscalationRule(),
    params: DeepParams = DeepParams(),
    extra: tuple[np.ndarray, np.ndarray] | None = None,
) -> DeepMatches:
    """The undecided pairs (rows of ``table``; ``matches``: those the thumbnails accepted) that local features
    verify, with the deep verifier's words.

    A group holds only matches of its keeper (``grouping.form_groups``), and the keeper may be any member: so
    where a verified pair joins two files, the other pairs of their group, up to :data:`GROUP_PAIRS`, are
    verified too (a straightened copy and a stickered one of one photo match each other as well as the photo).
    ``files``: the rows' paths and content hashes. Each content's first row stands for its byte copies (they
    share one feature record and the grouping makes them follow it); pairs of one content are no question.
    ``extra``: more pairs to decide (rows), from candidate sources of their own (``matching.framed``: a
    screenshot's picture).
    """
    unit = files.units()
    # A pair another rule matched (a straightened or framed candidate, judged after the thumbnails rejected it
    # upright) is no question: its files are not decoded for it.
    matched = set(_pairs(unit[matches.i], unit[matches.j]))

    def questions(i: np.ndarray, j: np.ndarray) -> list[tuple[int, int]]:
        return [p for p in _pairs(unit[i], unit[j]) if p not in matched]

    undecided = undecided_pairs(table, judged, rule)
    _prefetch(questions(*undecided), files, source)  # decoded while the rest is found
    sources = [undecided, partial_pairs(table, judged), *([extra] if extra else [])]
    found = _verified(questions(*(np.concatenate(p) for p in zip(*sources))), table, files, source, params)
    if not len(found):
        return found
    mirrored = np.array([mirrors(t) for t in matches.transform] + [mirrors(t) for t in found.transform], dtype=bool)
    known = _mirrored_pairs(np.concatenate([unit[matches.i], found.i]), np.concatenate([unit[matches.j], found.j]),
                            mirrored)
    more = _group_pairs(known, {int(k) for k in (*found.i, *found.j)})
    if not more:
        return found
    return _concat(found, _verified(more, table, files, source, params))


def mirrored_matches(matches: Matches, files: Files, table: FeatureTable | HashTable, source: LocalSource,
                     params: DeepParams = DeepParams()) -> DeepMatches:  # fmt: skip
    """The pairs of mirror images in the groups that local features joined (``matches``: all that were found, rows
    of ``table``) that local features verify with one file's picture mirrored (:func:`_mirror_pairs`).

    After every stage that fits local features (the escalation, the screenshots' pictures, ``--deep``'s own
    candidates): a copy they matched with the photo only, never with its mirrored copy, is in no group with
    that copy. Only the files to mirror are decoded again (one per group, mostly), and only for such groups.
    """
    unit = files.units()
    fitted = np.array([b == "local" for b in matches.bases()], dtype=bool)
    if not fitted.any():
        return _none()
    mirrored = np.array([mirrors(t) for t in matches.transform], dtype=bool)
    if not mirrored.any():
        return _none()
    known = _mirrored_pairs(unit[matches.i], unit[matches.j], mirrored)
    touched = {int(k) for k in (*unit[matches.i[fitted]], *unit[matches.j[fitted]]) if k >= 0}
    return _verified_mirrored(_mirror_pairs(known, touched), table, files, source, params)


#: The most pairs a group's closure may add: a group of 12 files has 66 pairs.
GROUP_PAIRS = 66


def _pairs(i: np.ndarray, j: np.ndarray) -> list[tuple[int, int]]:
    """Distinct pairs ``a < b`` of rows, leaving out rows with no content hash (-1) and pairs of one content."""
    return sorted({(min(a, b), max(a, b)) for a, b in zip(i.tolist(), j.tolist()) if a >= 0 and b >= 0 and a != b})


def _mirrored_pairs(i: np.ndarray, j: np.ndarray, mirrored: np.ndarray) -> dict[tuple[int, int], bool]:
    """Distinct pairs as :func:`_pairs`, each with whether its match mirrors (either, where listed twice)."""
    out: dict[tuple[int, int], bool] = {}
    for a, b, m in zip(i.tolist(), j.tolist(), mirrored.tolist()):
        if a >= 0 and b >= 0 and a != b:
            key = (min(a, b), max(a, b))
            out[key] = out.get(key, False) or m
    return out


def _group_pairs(known: dict[tuple[int, int], bool], touched: set[int]) -> list[tuple[int, int]]:
    """The pairs not in ``known`` within each group (connected by ``known``) that holds a row of ``touched``,
    less those whose two pictures are mirror images of each other by the matches that join them.

    Why: local features of the two files cannot verify a mirror image. The fit is a rotation, scale and shift,
    or a perspective that keeps the orientation (``matching.geometry`` refuses a mirrored one), and ORB's
    descriptor of a mirrored patch is another descriptor; so such a pair's fit could only find it different
    (:func:`_mirror_pairs` has them, for the features of one file's mirror image).
    ``known``: pair -> whether its match mirrors. Where a group's matches disagree (a symmetric picture matched
    as itself and as its mirror image), its orientations are unknown and every pair is verified.
    """
    out: list[tuple[int, int]] = []
    for group, orientation, unsure in _oriented_groups(known, touched):
        out += [(a, b) for x, a in enumerate(group) for b in group[x + 1 :]
                if (a, b) not in known and (unsure or orientation[a] == orientation[b])]
    return out


def _mirror_pairs(known: dict[tuple[int, int], bool], touched: set[int]) -> list[tuple[int, int]]:
    """The pairs ``(a, b)`` not in ``known`` within each group of :func:`_group_pairs` whose pictures are mirror
    images of each other by the matches that join them, ``a`` the file whose mirror image is compared with ``b``.

    Why: a group is built around its keeper (``grouping.form_groups``), and where the keeper is a mirrored copy
    of the photo (or the photo's other copies are), a copy that local features matched with the photo only
    (a crop, a sticker, a screenshot) is in no group with it; a phone's mirrored selfie and a cropped copy of the
    unmirrored one are copies of one picture. ``a`` is in the smaller of the group's two orientations (fewer
    files decoded again: usually the one mirrored copy); a group whose orientations are unknown has none.
    """
    out: list[tuple[int, int]] = []
    for group, orientation, unsure in _oriented_groups(known, touched):
        if unsure:
            continue
        side = sum(orientation[k] for k in group) * 2 < len(group)  # the mirrored ones are fewer: those
        out += [(a, b) if orientation[a] == side else (b, a) for x, a in enumerate(group) for b in group[x + 1 :]
                if (a, b) not in known and orientation[a] != orientation[b]]
    return out


def _oriented_groups(known: dict[tuple[int, int], bool], touched: set[int]
                     ) -> list[tuple[list[int], dict[int, bool], bool]]:  # fmt: skip
    """The groups (connected by ``known``: pair -> whether its match mirrors) that hold a row of ``touched``
    and have at most :data:`GROUP_PAIRS` pairs: each one's rows in order, every row's orientation (mirrored
    against the group's first), and whether its matches disagree on an orientation."""
    parent: dict[int, int] = {}
    flip: dict[int, bool] = {}  # whether a row is mirrored against its parent

    def root(k: int) -> tuple[int, bool]:
        path = []
        while parent.setdefault(k, k) != k:
            path.append(k)
            k = parent[k]
        mirrored = False
        for node in reversed(path):  # each node straight to the root, with its orientation against it
            mirrored ^= flip[node]
            parent[node], flip[node] = k, mirrored
        return k, flip[path[0]] if path else False

    unsure: set[int] = set()
    for (a, b), mirrored in sorted(known.items()):
        (rb, fb), (ra, fa) = root(b), root(a)  # b first: the groups listed in one order
        if ra == rb:
            if fa ^ fb != mirrored:
                unsure.add(ra)
            continue
        parent[ra], flip[ra] = rb, fa ^ fb ^ mirrored
        if ra in unsure:
            unsure.add(rb)
    members: dict[int, list[int]] = {}
    orientation: dict[int, bool] = {}
    for k in parent:
        top, orientation[k] = root(k)
        members.setdefault(top, []).append(k)
    out = []
    for top, group in members.items():
        if len(group) * (len(group) - 1) // 2 > GROUP_PAIRS or touched.isdisjoint(group):
            continue
        group.sort()
        first = orientation[group[0]]
        out.append((group, {k: orientation[k] != first for k in group}, top in unsure))
    return out


def _files_of(pairs: list[tuple[int, int]], files: Files) -> tuple[list[int], list[str], list[str]]:
    """The rows of ``pairs``, in order, with their paths and content hashes."""
    rows = sorted({k for pair in pairs for k in pair})
    if not rows:
        return [], [], []
    return rows, files.paths(rows), [h or "" for h in files.content_hashes(rows)]


def _prefetch(pairs: list[tuple[int, int]], files: Files, source: LocalSource) -> None:
    """Have ``source`` start on the features of the rows of ``pairs``."""
    rows, paths, content_hashes = _files_of(pairs, files)
    if rows:
        source.prefetch(paths, content_hashes)


def _verified(pairs: list[tuple[int, int]], table: FeatureTable | HashTable, files: Files, source: LocalSource,
              params: DeepParams) -> DeepMatches:  # fmt: skip
    """The ``pairs`` of rows whose local features fit (``deep.verified_matches``), features from ``source``."""
    rows, paths, content_hashes = _files_of(pairs, files)
    if not rows:
        return _none()
    features = source(paths, content_hashes)
    position = {k: p for p, k in enumerate(rows)}
    index = np.array(rows, dtype=np.int64)
    pi = np.array([position[a] for a, _ in pairs], dtype=np.int64)
    pj = np.array([position[b] for _, b in pairs], dtype=np.int64)
    present = np.array([features[a] is not None and features[b] is not None for a, b in zip(pi, pj)], dtype=bool)
    pixels = table.take(index)
    found = verified_matches(LocalTable.build(features), pi[present], pj[present], pixels.full(np.arange(len(index))),
                             pixels.hashes, params)
    return found.of_rows(index)


def _verified_mirrored(pairs: list[tuple[int, int]], table: FeatureTable | HashTable, files: Files,
                       source: LocalSource, params: DeepParams) -> DeepMatches:  # fmt: skip
    """The ``pairs`` ``(a, b)`` of rows whose features fit with ``a``'s picture mirrored: those of ``a``'s mirror
    image (``source.mirrored()``) on those of ``b``, judged as :func:`_verified` does, on ``a``'s thumbnail
    mirrored too. The words say it: ``b`` is ``a`` "mirrored, crop 12%", ``a`` is ``b`` "crop ..., mirrored"."""
    if not pairs:
        return _none()
    flip, flip_paths, flip_hashes = _files_of([(a, a) for a, _ in pairs], files)
    plain, plain_paths, plain_hashes = _files_of([(b, b) for _, b in pairs], files)
    features = [*source.mirrored()(flip_paths, flip_hashes), *source(plain_paths, plain_hashes)]
    index = np.array(flip + plain, dtype=np.int64)
    position = {k: p for p, k in enumerate(index.tolist())}  # no row is in both: one side of each group
    pi = np.array([position[a] for a, _ in pairs], dtype=np.int64)
    pj = np.array([position[b] for _, b in pairs], dtype=np.int64)
    present = np.array([features[a] is not None and features[b] is not None for a, b in zip(pi, pj)], dtype=bool)
    thumbs = table.take(index).full(np.arange(len(index)))
    thumbs[: len(flip)] = thumbs[: len(flip), :, ::-1]
    found = verified_matches(LocalTable.build(features), pi[present], pj[present], thumbs,
                             dihedral_hashes(thumbs)[:, 0], params)
    return replace(found.of_rows(index),
                   transform=tuple(f"{MIRRORED}, {t}" if t else MIRRORED for t in found.transform),
                   inverse=tuple(f"{t}, {MIRRORED}" if t else MIRRORED for t in found.inverse))


def concat_matches(*parts: DeepMatches) -> DeepMatches:
    """The matches of ``parts`` in one (none: no matches)."""
    out = _none()
    for part in parts:
        out = _concat(out, part)
    return out


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
