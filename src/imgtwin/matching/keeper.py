"""Which file of a duplicate group to keep: the original, or a copy as good as it.

``dedupe`` acts on this choice, so it follows what a photographer means by the
best copy, not which file is largest. The default policy ``best`` compares the
files that show one picture tier by tier, and the first tier that separates
two files decides (``TIERS``, strongest first):

1. **reference**: a file under a ``--reference`` folder beats any other; then
   a file a ``--deep`` fit shows to be a crop or a screenshot of another file of
   the group loses to it, under every policy (it is never kept over the picture
   it shows);
2. **content**: a copy that shows less of the picture (a crop) or adds to it
   (a border or padding, a screenshot's bars, a logo, a caption, a watermark),
   whose aspect ratio was squashed, that was enlarged from a smaller file of
   the group, or that is the mirror image of most of the group's files, loses
   to one that does not (``matching.relations``, ``matching.resolution`` and
   ``matching.evidence``, from matched pairs);
3. **colour**: full colour beats a palette (GIF, PNG-8), which beats grey,
   which beats 1-bit;
4. **resolution**: more pixels of picture (borders not counted; sizes within
   about 10 % count as equal, and an upscale never counts more than the
   picture it was made from, see ``matching.resolution``);
5. **quality**: JPEG quality by class from the quantisation tables (85 and
   up, 70-84, 50-69, below 50; lossless formats count as the top class);
6. **camera**: the camera's EXIF (make and model, date taken) survives in
   originals and is often lost in re-saves;
7. **centrality**: in a group of three or more, the file closest to all the
   others is the source the edits started from;
8. **age**: the older file (copies are made later);
9. then the less lossy format, the larger file, the shorter path.

What a person states comes right after the content tier, before every
automatic tier below it (``matching.preferences``): first the folders
(``--prefer A --prefer B``: A, then B, then the rest), then the formats
(``--prefer-format heic,jpg``). A stated preference is the person's decision,
so it outranks colour, resolution, quality and the rest; it does not outrank
the reference folders (also stated, and never acted on) nor the content
tiers: a crop, a screenshot, an upscale or a framed copy is never kept over
the picture it was made from because of its folder or format. Those are
never what a person who says ``heic,jpg`` means (the HEIC original over the
JPEG exported from it), and an export has no more picture than its source, so
the content tier agrees with that preference wherever both speak. It does
outrank resolution: ``raw,jpg`` must keep a RAW file, whose size as read is
that of its embedded preview, over the full-size JPEG developed from it.

The other policies (``largest``, ``smallest``, ``oldest``, ``newest``) put
their criterion right after the reference tier and keep ``best`` as the
tie-breaker; ``prefer-folder`` is ``best`` with the folders of ``--prefer``
(which apply under every policy). ``Ranking.rule`` names the tier that chose a
group's keeper (``matching.keeper_words`` has it in words).

A choice is marked low-confidence ("keeper uncertain"), so that a reviewer
looks there first, where it is actually in doubt (``Ranking.confidence``): the
next best file is told apart only by format, size or path, or it beats the
keeper on a later tier that speaks of the picture or its history (better JPEG
quality, the camera's EXIF, clearly more pixels; against a choice made on the
camera's EXIF or centrality, also an older file), so that the evidence points
both ways. On the shared corpus that is where the wrong
keepers are: a choice made on the picture and not contradicted is right in
more than 99 % of groups, a contested one in about half (docs/benchmarks.md).
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from imgtwin.hashing.signals import KeeperSignals
from imgtwin.loading.facts import COLOUR
from imgtwin.matching.preferences import Preferences

# Lower is better: lossless first, palette-reduced GIF last.
FORMAT_LOSSINESS = {
    "PNG": 0, "TIFF": 0, "BMP": 0, "DIB": 0, "PPM": 0, "TGA": 0,
    "WEBP": 1,  # may be lossless; cannot tell cheaply
    "HEIF": 2, "AVIF": 2, "JPEG": 2, "MPO": 2, "JPEG2000": 2,
    "GIF": 3, "ICO": 3,
}  # fmt: skip
_UNKNOWN_FORMAT = 4

#: The tiers of ``best``, strongest first (see the module doc).
TIERS = ("reference", "content", "colour", "resolution", "quality", "camera", "centrality", "age", "format", "size",
         "path")
#: Tiers that carry a person's statement (folders, formats, a policy): a keeper they choose is never in doubt.
STATED_TIERS = frozenset({"reference", "derived", "preferred-folder", "preferred-format", "largest", "smallest",
                          "oldest", "newest"})
#: Tiers that say nothing of the picture or its history: a keeper they alone choose is in doubt.
BLIND_TIERS = frozenset({"format", "size", "path", ""})
#: Later tiers on which a rival that beats the keeper puts it in doubt (``Ranking.contested``): better JPEG
#: quality, the camera's EXIF, or clearly more pixels (``CONTEST_STEPS`` resolution steps); against a choice
#: made on the file's history (camera, centrality), also an older file.
CONTEST_TIERS = frozenset({"resolution", "quality", "camera"})
PICTURE_TIERS = frozenset({"content", "colour", "resolution", "quality"})
CONTEST_STEPS = 2  # ~41 % more pixels: one step (~19 %) is within what borders and crops move
#: Resolution steps: pixel counts within a quarter octave (~19 %, ~9 % per side) count as equal.
RESOLUTION_STEPS_PER_OCTAVE = 4
_QUALITY_CLASSES = (85, 70, 50)  # JPEG quality: >= 85 is class 0, >= 70 class 1, >= 50 class 2, else 3
# Common aspect ratios of cameras, phones, screens and paper (either orientation).
_COMMON_ASPECTS = np.log(np.array([1.0, 5 / 4, 4 / 3, 1.414, 3 / 2, 16 / 10, 16 / 9, 2.0, 19.5 / 9, 21 / 9]))


@dataclass(frozen=True, slots=True)
class FileInfo:
    """The per-file facts keepers are chosen by, derived from a ``records.IndexedFile``.

    Not the record itself: the size is the picture's without its borders, the
    signals are parsed, and whether it lies in a reference folder is the run's
    fact, not the index's.
    """

    path: str
    size: int
    mtime_ns: int
    width: int | None = None  # of the picture without uniform borders
    height: int | None = None
    format: str | None = None
    signals: KeeperSignals | None = None
    reference: bool = False  # under a --reference folder: never acted on, kept first
    content_share: float = 1.0  # area of the picture without borders over the whole image

    @property
    def pixels(self) -> int:
        return (self.width or 0) * (self.height or 0)

    @property
    def lossiness(self) -> int:
        return FORMAT_LOSSINESS.get((self.format or "").upper(), _UNKNOWN_FORMAT)


class KeeperPolicy(str, enum.Enum):
    BEST = "best"  # the original (see the module doc)
    LARGEST = "largest"  # largest file first
    SMALLEST = "smallest"  # smallest file first
    OLDEST = "oldest"
    NEWEST = "newest"
    PREFER_FOLDER = "prefer-folder"  # ``best`` with ``--prefer`` folders (which every policy honours)


@dataclass(frozen=True)
class Evidence:
    """What a group's files say about each other (all optional: without it, the tiers it feeds tie).

    ``pairs``: matched pairs ``(a, b)`` with ``crop``/``overlay`` (+1 against b, -1 against a),
    ``aspect`` (log of b's aspect over a's, 0 when equal), from ``matching.relations``, and
    ``upright`` (the same orientation);
    ``components``: per file, the id of the set of files linked by matches (its candidate group);
    ``distances``: per component with 3 or more files, the files and their pairwise hash distances;
    ``effective_pixels``: per file, pixels that carry picture (an upscale counts as its source);
    ``upscaled``: files found to be enlarged from a smaller file of their group (made from it: a flaw);
    ``derived``: files a geometric fit (``find --deep``) shows to be a crop or a screenshot of another;
    ``mirrored``: files that are the mirror image of most of the others of their group (a flaw: the photo is
    the orientation its copies share, ``evidence.mirrored_minority``).
    """

    pairs: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
    components: np.ndarray | None = None
    distances: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    effective_pixels: np.ndarray | None = None
    upscaled: frozenset[int] = frozenset()
    derived: frozenset[int] = frozenset()
    mirrored: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Ranking:
    """Every file's sort key (smaller is better) and the order they give."""

    keys: list[tuple]  # type: ignore[type-arg]
    names: tuple[str, ...]  # the tier each key position stands for
    upscaled: frozenset[int] = frozenset()  # files found to be enlarged from a smaller file of their group

    @property
    def order(self) -> list[int]:
        return sorted(range(len(self.keys)), key=self.keys.__getitem__)

    def decisive(self, winner: int, other: int) -> str:
        """The tier that puts ``winner`` before ``other`` ("" when nothing separates them)."""
        for name, a, b in zip(self.names, self.keys[winner], self.keys[other]):
            if a != b:
                return name
        return ""

    def settled_before(self, tier: str, winner: int, others: Iterable[int]) -> bool:
        """Whether ``winner`` beats every one of ``others`` on a tier before ``tier``: then nothing that tier or a
        later one says (about ``winner`` or the others) can change which of them comes first, nor on what tier."""
        at = self.names.index(tier)
        return all(self.keys[winner][:at] < self.keys[k][:at] for k in others)

    def rival(self, keeper: int, others: Sequence[int], twins: Sequence[int] = ()) -> int | None:
        """The best file after ``keeper`` that is not a byte-identical twin of it (else the best twin; None: alone)."""
        rivals = [m for m in others if m not in set(twins)] or list(others)
        return min(rivals, key=self.keys.__getitem__) if rivals else None

    def rule(self, keeper: int, others: Sequence[int], twins: Sequence[int] = ()) -> str:
        """The code of the rule that chose ``keeper`` over the best other file (``keeper_words.KEEPER_REASONS``).

        The tier that decided, ``upscaled`` where that is the content tier and the other file is an upscale, and
        ``identical`` where nothing tells the files apart.
        """
        rival = self.rival(keeper, others, twins)
        tier = self.decisive(keeper, rival) if rival is not None else ""
        if tier == "content" and rival in self.upscaled:
            return "upscaled"
        return tier or "identical"

    def confidence(self, keeper: int, others: Sequence[int], twins: Sequence[int] = ()) -> str:
        """``"low"`` where the keeper is in doubt, else ``"high"`` (measured: docs/benchmarks.md).

        In doubt: the best other file is told apart only by the file's bytes (format, size, path), or another
        file beats the keeper on a later tier that speaks of the picture or its history (``contested``). A person's
        statement (reference, preferences, a policy) is never in doubt; byte-identical twins of the keeper are
        not rivals: keeping either is the same.
        """
        rivals = [m for m in others if m not in set(twins)]
        if not rivals:
            return "high"
        tier = self.decisive(keeper, min(rivals, key=self.keys.__getitem__))
        if tier in STATED_TIERS:
            return "high"
        if tier in BLIND_TIERS:
            return "low"
        return "low" if any(self.contested(self.decisive(keeper, r), keeper, r) for r in rivals) else "high"

    def contested(self, tier: str, keeper: int, rival: int) -> bool:
        """Whether ``rival``, which loses to ``keeper`` on ``tier``, beats it on a ``CONTEST_TIERS`` tier after it.

        The evidence then points both ways: the keeper is cleaner (no crop or border found), the rival has the
        better quality or the camera's EXIF; that is where the keepers chosen wrongly are (docs/benchmarks.md).
        """
        at = self.names.index(tier)
        against = CONTEST_TIERS if tier in PICTURE_TIERS else CONTEST_TIERS | {"age"}
        for k in range(at + 1, len(self.names)):
            name = self.names[k]
            margin = CONTEST_STEPS if name == "resolution" else 1
            if name in against and self.keys[rival][k] + margin <= self.keys[keeper][k]:
                return True
        return False


def _quality_class(info: FileInfo) -> int:
    quality = info.signals.jpeg_quality if info.signals is not None else None
    if quality is None:
        return 0  # lossless, or a lossy format that does not say: not a reason to lose
    for rank, floor in enumerate(_QUALITY_CLASSES):
        if quality >= floor:
            return rank
    return len(_QUALITY_CLASSES)


def _camera(info: FileInfo) -> int:
    signals = info.signals
    return 0 if signals is None else -(int(signals.camera) + int(signals.taken))


def content_flaws(n: int, evidence: Evidence, infos: Sequence[FileInfo]) -> np.ndarray:
    """Per file, how many kinds of content change speak against it (0-6: crop, addition, border, squash, upscale,
    mirror image)."""
    flaws = np.zeros(n, dtype=np.int64)
    for k in (*evidence.upscaled, *evidence.mirrored):  # enlarged from a smaller copy present; a mirror image
        flaws[k] += 1
    if evidence.pairs is None:
        return flaws
    a, b, crop, overlay, aspect, _ = evidence.pairs
    for verdict in (crop, overlay):
        against = np.zeros(n, dtype=bool)
        against[b[verdict > 0]] = True
        against[a[verdict < 0]] = True
        flaws += against
    # Borders, padding, a screenshot's bars: a file with clearly less picture in its frame than a match.
    share = np.array([i.content_share for i in infos])
    bordered = np.zeros(n, dtype=bool)
    more = share[a] - share[b]
    bordered[b[more > 0.03]] = True
    bordered[a[more < -0.03]] = True
    flaws += bordered
    flaws += _squashed(n, a, b, aspect, infos)
    return flaws


def _squashed(n: int, a: np.ndarray, b: np.ndarray, aspect: np.ndarray, infos: Sequence[FileInfo]) -> np.ndarray:
    """Files whose content aspect disagrees with their matches': the majority wins, else the common ratio."""
    disagree = np.zeros(n, dtype=np.int64)
    agree = np.zeros(n, dtype=np.int64)
    off = aspect != 0
    np.add.at(disagree, a[off], 1)
    np.add.at(disagree, b[off], 1)
    np.add.at(agree, a[~off], 1)
    np.add.at(agree, b[~off], 1)
    squashed = disagree > agree
    for k in np.flatnonzero(off):  # a lone pair: the one further from a common aspect ratio
        x, y = int(a[k]), int(b[k])
        if agree[x] or agree[y] or disagree[x] > 1 or disagree[y] > 1:
            continue
        far_x, far_y = _off_common(infos[x]), _off_common(infos[y])
        squashed[x] = far_x > far_y + 0.005
        squashed[y] = far_y > far_x + 0.005
    return squashed.astype(np.int64)


def _off_common(info: FileInfo) -> float:
    if not info.width or not info.height:
        return 0.0
    ratio = abs(np.log(info.width / info.height))
    return float(np.min(np.abs(_COMMON_ASPECTS - ratio)))


def _centrality(n: int, evidence: Evidence) -> np.ndarray:
    """Per file, its rank by summed hash distance within its component (0 = the most central); 0 elsewhere."""
    rank = np.zeros(n, dtype=np.int64)
    for members, distances in evidence.distances.values():
        totals = distances.sum(axis=1)
        order = np.argsort(totals, kind="stable")
        places = np.empty(len(members), dtype=np.int64)
        places[order] = np.arange(len(members))
        # Files equally central share a place.
        sorted_totals = totals[order]
        for k in range(1, len(order)):
            if sorted_totals[k] == sorted_totals[k - 1]:
                places[order[k]] = places[order[k - 1]]
        rank[members] = places
    return rank


def rank_files(
    infos: Sequence[FileInfo],
    policy: KeeperPolicy = KeeperPolicy.BEST,
    prefer: Preferences | str | None = None,
    evidence: Evidence | None = None,
) -> Ranking:
    """Every file's key under ``policy`` and the stated ``prefer``ences; files are only ever compared within one
    group."""
    evidence = evidence or Evidence()
    stated = Preferences.of(prefer)
    n = len(infos)
    if policy is KeeperPolicy.PREFER_FOLDER and not stated.folders:
        raise ValueError("the prefer-folder policy needs a folder")
    flaws = content_flaws(n, evidence, infos)
    central = _centrality(n, evidence)
    pixels = evidence.effective_pixels if evidence.effective_pixels is not None else np.array(
        [i.pixels for i in infos], dtype=np.float64)
    components = evidence.components if evidence.components is not None else np.zeros(n, dtype=np.int64)
    best_in_component: dict[int, float] = {}
    for k in range(n):
        best_in_component[int(components[k])] = max(best_in_component.get(int(components[k]), 0.0), float(pixels[k]))
    stated_names = (("preferred-folder",) if stated.folders else ()) + (("preferred-format",) if stated.formats else ())
    keys = []
    for k, info in enumerate(infos):
        top = best_in_component[int(components[k])]
        steps = round(np.log2(top / pixels[k]) * RESOLUTION_STEPS_PER_OCTAVE) if pixels[k] > 0 and top > 0 else 999
        depth = info.signals.colour_depth if info.signals is not None else COLOUR
        ranks = ((stated.folder_rank(info.path),) if stated.folders else ()) + (
            (stated.format_rank(info.format),) if stated.formats else ())
        best = (int(flaws[k]), *ranks, -depth, steps, _quality_class(info), _camera(info), int(central[k]),
                info.mtime_ns, info.lossiness, -info.size, (len(info.path), info.path))
        keys.append((0 if info.reference else 1, int(k in evidence.derived), *_policy_key(info, policy), *best))
    names = ("reference", "derived", *_policy_names(policy), "content", *stated_names, *TIERS[2:])
    return Ranking(keys, names, evidence.upscaled)


def _policy_key(info: FileInfo, policy: KeeperPolicy) -> tuple[int, ...]:
    if policy in (KeeperPolicy.BEST, KeeperPolicy.PREFER_FOLDER):
        return ()
    if policy is KeeperPolicy.LARGEST:
        return (-info.size,)
    if policy is KeeperPolicy.SMALLEST:
        return (info.size,)
    if policy is KeeperPolicy.OLDEST:
        return (info.mtime_ns,)
    if policy is KeeperPolicy.NEWEST:
        return (-info.mtime_ns,)
    raise ValueError(f"unknown keeper policy {policy!r}")


def _policy_names(policy: KeeperPolicy) -> tuple[str, ...]:
    return () if policy in (KeeperPolicy.BEST, KeeperPolicy.PREFER_FOLDER) else (policy.value,)


def keeper_order(
    infos: Sequence[FileInfo], policy: KeeperPolicy = KeeperPolicy.BEST, prefer: Preferences | str | None = None,
    derived: Collection[int] = (),
) -> list[int]:
    """Indices of ``infos`` from the most to the least preferred keeper (no other evidence between files).

    ``derived``: files known to be a crop or a screenshot of another file (``find --deep``'s fits).
    """
    return rank_files(infos, policy, prefer, Evidence(derived=frozenset(derived))).order


def choose_keeper(
    infos: Sequence[FileInfo], policy: KeeperPolicy = KeeperPolicy.BEST, prefer: Preferences | str | None = None
) -> int:
    """Index of the keeper among ``infos``."""
    if not infos:
        raise ValueError("no files to choose from")
    return keeper_order(infos, policy, prefer)[0]
