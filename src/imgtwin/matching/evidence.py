"""What the files of a candidate group say about each other, for choosing its keeper.

Files are linked into components by their verified matches and byte twins (a
component holds every file that could share a group). Within a component,
matched pairs tell which file is cropped, added to or squashed
(``matching.relations``), and in components of three or more the hash
distances tell which file is closest to all the others. All of it is bounded
by the matches found: no loop over all pairs of files.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from imgtwin.hashing.features import DIHEDRAL_NAMES
from imgtwin.matching.grouping import COMPOSE as _COMPOSE
from imgtwin.matching.grouping import INVERSE as _INVERSE
from imgtwin.matching.grouping import MIRRORING as _MIRRORING
from imgtwin.matching.grouping import Matches, mirrors
from imgtwin.matching.keeper import RESOLUTION_STEPS_PER_OCTAVE, Evidence, FileInfo
from imgtwin.matching.relations import relate
from imgtwin.matching.table import FeatureTable

#: Components up to this size get centrality (pairwise hash distances, a square of this size at most).
MAX_CENTRALITY = 64
#: Upscale checks per component: the largest file against this many smaller ones at most.
MAX_QUESTIONS = 3


def components_of(n: int, matches: Matches, exact_labels: Sequence[int]) -> np.ndarray:
    """Per file, the id (its smallest member) of the set of files linked by matches or identical bytes."""
    parent = np.arange(n)

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = int(parent[x])
        return x

    def join(x: int, y: int) -> None:
        rx, ry = root(x), root(y)
        if rx != ry:
            parent[max(rx, ry)] = min(rx, ry)

    for a, b in zip(matches.i.tolist(), matches.j.tolist()):
        join(a, b)
    first: dict[int, int] = {}
    for k, label in enumerate(exact_labels):
        if label >= 0:
            if label in first:
                join(first[label], k)
            else:
                first[label] = k
    return np.array([root(k) for k in range(n)], dtype=np.int64)


def component_members(components: np.ndarray, minimum: int = 2, maximum: int | None = None) -> list[np.ndarray]:
    """The files of each component with ``minimum`` to ``maximum`` files, in one sort (no loop over components)."""
    order = np.argsort(components, kind="stable")
    ordered = components[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(order)]
    sizes = ends - starts
    keep = (sizes >= minimum) & (sizes <= (maximum if maximum is not None else len(order)))
    return [order[start:end] for start, end in zip(starts[keep], ends[keep])]


def gather_evidence(table: FeatureTable, matches: Matches, exact_labels: Sequence[int], infos: Sequence[FileInfo],
                    aspects: np.ndarray, effective_pixels: np.ndarray | None = None) -> Evidence:  # fmt: skip
    """The keeper's evidence for every file (``aspects``: width / height of each file's content, as shown)."""
    n = len(infos)
    components = components_of(n, matches, exact_labels)
    pairs = None
    # Pairs the thumbnails were aligned for: a fit of local features (--deep, or a pair the default escalated)
    # says its own relation (``derived``), even where it found no transform ("identity"): its thumbnails were
    # never aligned, and read as such, an opaque sticker's flat fill made the clean original the edited one.
    aligned = np.array([t in DIHEDRAL_NAMES and b != "local" for t, b in zip(matches.transform, matches.bases())],
                       dtype=bool)
    if aligned.any() and matches.window_x is not None and matches.window_y is not None:
        i, j = matches.i[aligned].astype(np.int64), matches.j[aligned].astype(np.int64)
        g = np.array([DIHEDRAL_NAMES.index(t) for t, a in zip(matches.transform, aligned) if a], dtype=np.int64)
        rel = relate(table.thumbs[i], table.thumbs[j], g, matches.window_x[aligned], matches.window_y[aligned],
                     aspects[i], aspects[j], i, j)
        pairs = (rel.a, rel.b, rel.crop, rel.overlay, rel.aspect, g == 0)
    distances: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for members in component_members(components, 3, MAX_CENTRALITY):
        component = components[members[0]]
        plain = np.bitwise_count(table.hashes[members][:, None] ^ table.hashes[members][None, :])
        trimmed = np.bitwise_count(table.trim_hashes[members][:, None] ^ table.trim_hashes[members][None, :])
        distances[int(component)] = (members, np.minimum(plain, trimmed).astype(np.int64))
    return Evidence(pairs, components, distances, effective_pixels, mirrored=mirrored_minority(n, matches, exact_labels))


def mirrored_minority(n: int, matches: Matches, exact_labels: Sequence[int]) -> frozenset[int]:
    """The files that are mirror images of the orientation most distinct pictures linked to them by ``matches``
    share (the other orientations holding fewer).

    Why: a phone's or an editor's flip, a selfie saved mirrored, makes one more file in another orientation,
    while the photo's other copies (resized, re-encoded, cropped, shared) keep the orientation it was taken in: the
    orientation most of them share is the photo's, and a mirror image of it is no more the original than a crop.
    It also keeps the group whole: its keeper is the file each member must match, and the copies that local
    features matched (crops, stickers, screenshots) match the photo as it stands. Orientations are the 8 of
    ``DIHEDRAL_NAMES``, composed along the matches (a fit's words: upright, or mirrored where they say so, see
    ``grouping.mirrors``); byte copies count once. None where no orientation holds more pictures than every
    other, nor where the matches disagree (a symmetric picture matched as itself and as its mirror image) or a
    fit turned a picture by more than 45 degrees (its words do not say which quarter turn).
    """
    parent = list(range(n))
    turn = [0] * n  # the orientation of each file in its parent's (DIHEDRAL_NAMES index)

    def root(k: int) -> tuple[int, int]:
        g = 0
        while parent[k] != k:
            g = _COMPOSE[g][turn[k]]  # k = turn[k](parent): the start is its parent turned by turn[k], then g
            k = parent[k]
        return k, g

    unsure: set[int] = set()
    for a, b, t in zip(matches.i.tolist(), matches.j.tolist(), matches.transform):
        g = _orientation(t)  # b shows a's picture turned by g
        (ra, ga), (rb, gb) = root(a), root(b)
        if g is None:
            unsure.update((ra, rb))
        elif ra == rb:
            if gb != _COMPOSE[g][ga]:
                unsure.add(ra)
        else:  # rb under ra: b = g(ga(ra)) = gb(rb), so rb = gb^-1(g(ga(ra)))
            parent[rb], turn[rb] = ra, _COMPOSE[_INVERSE[gb]][_COMPOSE[g][ga]]
            if rb in unsure:
                unsure.add(ra)
    placed = [root(k) for k in range(n)]
    seen: dict[int, list[set[int]]] = {}  # component -> the pictures (exact set or file) in each orientation
    for k, (top, g) in enumerate(placed):
        label = exact_labels[k]
        seen.setdefault(top, [set() for _ in range(8)])[g].add(k if label < 0 else -1 - label)
    major: dict[int, int] = {}
    for top, sides in seen.items():
        counts = sorted((len(side), g) for g, side in enumerate(sides))
        if top not in unsure and counts[-1][0] > counts[-2][0]:
            major[top] = counts[-1][1]
    return frozenset(k for k, (top, g) in enumerate(placed)
                     if top in major and _MIRRORING[_COMPOSE[g][_INVERSE[major[top]]]])


def _orientation(transform: str) -> int | None:
    """A match's transform as a ``DIHEDRAL_NAMES`` index: a fit's words are upright, or mirrored (``mirror_h``)
    where they say so; None where a fit turned by more than 45 degrees."""
    if transform in DIHEDRAL_NAMES:
        return DIHEDRAL_NAMES.index(transform)
    turned = re.search(r"rotated (-?[0-9.]+)°", transform)
    if turned is not None and abs(float(turned.group(1))) > 45:
        return None
    return DIHEDRAL_NAMES.index("mirror_h") if mirrors(transform) else 0


def upscale_questions(evidence: Evidence, infos: Sequence[FileInfo], pixels: np.ndarray,
                      exclude: set[int] | None = None) -> list[tuple[int, int]]:  # fmt: skip
    """Per component, (largest, smaller) pairs whose resolution tier an upscale check should settle.

    The largest file of a component (by ``pixels``) against the (at most ``MAX_QUESTIONS``)
    largest files at least one resolution step smaller that it matched directly with nothing
    between them: no crop, addition, border or squash, and the same orientation (then the two
    show the same content, pixel for pixel). One of them may itself be a noisy or blurred
    copy; any that explains the largest as well says it is an upscale. ``exclude``: files
    already found to be upscales. A smaller file is not asked about where the largest carries the
    camera's EXIF and it does not (``_camera_only_in``).
    """
    if evidence.pairs is None or evidence.components is None:
        return []
    a, b, crop, overlay, aspect, upright = evidence.pairs
    clean: dict[int, list[int]] = {}
    for k in range(len(a)):
        x, y = int(a[k]), int(b[k])
        if crop[k] or overlay[k] or aspect[k] or not upright[k]:
            continue
        if abs(infos[x].content_share - infos[y].content_share) > 0.03:
            continue
        clean.setdefault(x, []).append(y)
        clean.setdefault(y, []).append(x)
    exclude = exclude or set()
    step = 2 ** (1 / RESOLUTION_STEPS_PER_OCTAVE)
    questions = []
    for group in component_members(evidence.components):
        members = [int(m) for m in group if int(m) not in exclude]
        if len(members) < 2:
            continue
        largest = max(members, key=lambda m: (pixels[m], -m))
        smaller = sorted({m for m in clean.get(largest, []) if pixels[m] * step <= pixels[largest]
                          and not _camera_only_in(infos[largest], infos[m])}, key=lambda m: (-pixels[m], m))
        questions += [(largest, m) for m in smaller[:MAX_QUESTIONS]]
    return questions


def _camera_only_in(large: FileInfo, small: FileInfo) -> bool:
    """Whether ``large`` carries the camera's EXIF (make and model) and ``small`` lacks it.

    Then ``large`` was not enlarged from ``small``: an enlargement keeps the EXIF it was given, it does not
    invent a camera. A soft original and a copy reduced by 10-30 % hold the same detail, so the check cannot
    tell which came first (a 809x539 camera JPEG was taken for an upscale of its own 701x467 copy); the
    resolution and quality tiers can.
    """
    return (large.signals is not None and large.signals.camera
            and small.signals is not None and not small.signals.camera)
