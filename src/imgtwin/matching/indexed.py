"""Groups of indexed files: from the index's records to duplicate groups and their keepers.

The matching half of ``imgtwin find`` (``runs.find`` scans first, then calls this):

1. ``load_rows``: load, from the index, every live file under the folders;
   (``matching.files``: columns, and the records of the files in a group only);
3. exact groups: same size, then the same xxh3-128 content hash (stored by the scan);
4. near matches: multi-index radius search on the 64-bit pHashes (plain, with
   borders trimmed, and rotated/mirrored when ``rotations``), each candidate
   verified on aligned 32x32 thumbnails (``matching.near``);
5. groups by the keeper-star rule: every member is a verified match of the
   group's keeper, so unrelated pictures are never chained together.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from imgtwin.folders import within as _within
from imgtwin.hashing.framed import FramedPicture
from imgtwin.hashing.local import LocalFeatures
from imgtwin.matching.deep_extra import deep_extra_matches
from imgtwin.matching.escalate import LocalSource, escalated_matches, mirrored_matches, with_escalated
from imgtwin.matching.evidence import gather_evidence, upscale_questions
from imgtwin.matching.files import FileRow, Loaded, RowSelector, load_rows
from imgtwin.matching.framed import different_pictures, framed_matches
from imgtwin.matching.grouping import EXACT, MATCHED_BY, Group, Matches, form_groups
from imgtwin.matching.keeper import Evidence, KeeperPolicy, Ranking, rank_files
from imgtwin.matching.keeper_words import metadata_gaps, reason_words
from imgtwin.matching.near import NearParams, near_matches
from imgtwin.matching.partial import look_again
from imgtwin.matching.preferences import Preferences
from imgtwin.matching.resolution import UPSCALE_SPEC, UpscaleCheck, UpscaleVerdict
from imgtwin.matching.straighten import straightened_sources
from imgtwin.matching.stream import Judged
from imgtwin.persistence.decisions import Pair, pair
from imgtwin.persistence.index import HashIndex, IndexReadError
from imgtwin.persistence.sqlite import IndexVersionError
from imgtwin.records import DuplicateGroup, GroupMember

__all__ = ["FileRow", "Grouping", "Loaded", "PathDisplay", "RowSelector", "UpscaleChecker", "group_rows", "load_rows",
           "public_groups"]

# Internal dihedral names -> the names users see (None: same orientation).
_TRANSFORM_NAMES = {
    "keeper": None, "exact": None, "identity": None, "mirror_h": "mirror", "mirror_v": "flip",
    "rotate90": "rotate90", "rotate180": "rotate180", "rotate270": "rotate270",
    "transpose": "transpose", "transverse": "transverse",
}  # fmt: skip


class PathDisplay:
    """Shows index paths (absolute) as the user wrote the roots: relative stays relative."""

    def __init__(self, roots: Sequence[str]) -> None:
        self.pairs = sorted(((os.path.abspath(r), r) for r in roots), key=lambda p: -len(p[0]))

    def __call__(self, path: str) -> str:
        for absolute, given in self.pairs:
            if path == absolute:
                return given
            if _within(path, absolute):
                return os.path.join(given, os.path.relpath(path, absolute))
        return path


@dataclass(frozen=True)
class Grouping:
    """Groups over the rows, the ranking their keepers came from, and ``decided``: the groups the rows would
    form without the remembered "not duplicates" decisions that hold one of those pairs (shown on request)."""

    groups: list[Group]
    ranking: Ranking
    decided: list[Group] = field(default_factory=list)
    rows: list[FileRow] = field(default_factory=list)  # the files the groups' indices (and the ranking's) number


def _apart_test(keys: Sequence[str | None], apart: frozenset[Pair]) -> Callable[[int, int], bool] | None:
    """Whether rows ``i`` and ``j`` were decided not duplicates (by their contents); None when no decision
    concerns two of these rows."""
    present = {k for k in keys if k}
    relevant = {p for p in apart if p[0] in present and p[1] in present}
    if not relevant:
        return None

    def test(i: int, j: int) -> bool:
        a, b = keys[i], keys[j]
        return a is not None and b is not None and pair(a, b) in relevant

    return test


def group_rows(
    loaded: Loaded, params: NearParams, policy: KeeperPolicy,
    prefer: Preferences | str | None,
    checks: UpscaleChecker | None = None,
    local: Sequence[LocalFeatures | None] | None = None,
    exact_only: bool = False,
    apart: frozenset[Pair] = frozenset(),
    escalate: LocalSource | None = None,
    framed: Mapping[int, Sequence[FramedPicture]] | None = None,
) -> Grouping:
    """Exact and near groups over the ``loaded`` files, and the ranking their keepers came from.

    ``checks`` settles, where it decides a keeper, whether the largest file is an upscale; ``escalate`` gives
    the local features of the files of the pairs the thumbnails cannot decide (``matching.escalate``), and
    those pairs are decided on them, with those of the pictures inside the rows' frames (``framed``, by row:
    ``matching.framed``); ``local`` (with ``--deep``, per row) then adds the matches of the local features'
    own candidates (``matching.deep_extra``): ``--deep`` is the default's decisions and a stage more.
    ``apart``: content hash pairs decided not duplicates (``persistence.decisions``): never matched, never
    in one group; this is the one place decisions are applied, so every output of ``find`` honours them.
    Only the files in a match or an exact set can be in a group: their records are read (``Grouping.rows``)
    and ranked, numbered in row order (so every order between them is the same as among all files).
    """
    table = loaded.table
    all_labels = loaded.exact_labels()
    judged: list[Judged] = []  # every kept candidate, its verdict and alignment; the raw ones' summary
    if exact_only:  # --similarity exact: byte-identical files only
        none = np.empty(0, dtype=np.int64)
        matches = Matches(none, none, none, ())
    else:
        look = look_again(table) if escalate is not None else None
        matches, _ = near_matches(table, params, judged, look)
    derived = straightened_sources(matches.i, matches.j, matches.bases())
    if escalate is not None and not exact_only:
        extra = None
        if framed:  # screenshots: the pictures inside their frames, judged as files, the rest escalated
            accepted, extra = framed_matches(table, framed, matches, params)
            matches, derived = with_escalated(matches, accepted), derived + list(accepted.derived)
        found = escalated_matches(matches, table, judged[0], loaded, escalate, extra=extra)
        matches, derived = with_escalated(matches, found), derived + list(found.derived)
    if local is not None and not exact_only:  # --deep: a stage more, the local features' own candidates
        matches, fitted, _ = deep_extra_matches(matches, table, local, loaded.content_hashes(), framed=framed)
        derived += fitted
    if escalate is not None and not exact_only:  # the mirror images in the groups local features joined
        found = mirrored_matches(matches, loaded, table, escalate)
        matches, derived = with_escalated(matches, found), derived + list(found.derived)
    if framed and not exact_only:
        matches, derived = _pictures_apart(matches, derived, framed)
    members = np.unique(np.concatenate([matches.i, matches.j, np.flatnonzero(all_labels >= 0)]).astype(np.int64))
    rows = loaded.rows(members)
    matches = replace(matches, i=np.searchsorted(members, matches.i), j=np.searchsorted(members, matches.j))
    position = {k: p for p, k in enumerate(members.tolist())}
    derived = [(position[a], position[b]) for a, b in derived]  # (source, copy) pairs of matches: members
    labels: list[int] = all_labels[members].tolist()
    split = _apart_test([r.content_hash for r in rows], apart)
    whole, whole_labels = matches, labels
    if split is not None:  # copies of a content set apart from itself are no exact unit; decided pairs no match
        labels = [-1 if label >= 0 and split(k, k) else label for k, label in enumerate(labels)]
        matches = matches.where(np.array([not split(int(i), int(j)) for i, j in zip(matches.i, matches.j)],
                                         dtype=bool))
    infos = [r.info for r in rows]
    evidence = gather_evidence(table.take(members), matches, labels, infos,
                               np.array([r.aspect for r in rows], dtype=np.float64))
    evidence = replace(evidence, derived=frozenset(d for _, d in derived))
    ranking = rank_files(infos, policy, prefer, evidence)
    if checks is not None:
        # Only where an upscale would be kept: the file ranked first in its component.
        leaders = _leaders(ranking, evidence)
        pixels, upscaled = checks.effective_pixels(rows, evidence, leaders)
        if upscaled:
            ranking = rank_files(infos, policy, prefer, replace(evidence, effective_pixels=pixels,
                                                                upscaled=frozenset(upscaled)))
    groups = form_groups(len(rows), matches, ranking.order, labels, split)
    if split is None:
        return Grouping(groups, ranking, rows=rows)
    undecided = form_groups(len(rows), whole, ranking.order, whole_labels)
    decided = [g for g in undecided if any(split(a, b) for a, b in itertools.combinations(g.indices, 2))]
    return Grouping(groups, ranking, decided, rows)


def _pictures_apart(matches: Matches, derived: list[tuple[int, int]], framed: Mapping[int, Sequence[FramedPicture]]
                    ) -> tuple[Matches, list[tuple[int, int]]]:  # fmt: skip
    """``matches`` and ``derived`` less the pairs of two screenshots of different photos in one app (their frames
    agree in thumbnails and in keypoints: ``framed.different_pictures``)."""
    apart = different_pictures(matches, framed)
    if not apart.any():
        return matches, derived
    gone = {(min(a, b), max(a, b)) for a, b in zip(matches.i[apart].tolist(), matches.j[apart].tolist())}
    return matches.where(~apart), [(a, b) for a, b in derived if (min(a, b), max(a, b)) not in gone]


def _leaders(ranking: Ranking, evidence: Evidence) -> set[int]:
    """The best-ranked file of each component of two or more files, where an upscale verdict could change that.

    A file found to be an upscale gets a content flaw and fewer pixels: a leader that beats every other file of
    its component before the content tier (a reference, a policy's criterion) stays first, its check is not asked.
    """
    best: dict[int, int] = {}
    members: dict[int, list[int]] = {}
    components = evidence.components if evidence.components is not None else np.arange(len(ranking.keys))
    for k in range(len(ranking.keys)):
        c = int(components[k])
        members.setdefault(c, []).append(k)
        if c not in best or ranking.keys[k] < ranking.keys[best[c]]:
            best[c] = k
    return {k for c, k in best.items() if not ranking.settled_before("content", k, (m for m in members[c] if m != k))}


class UpscaleJobs(Protocol):
    """Runs upscale checks (in the run's worker pool: ``runs.find``); the verdicts, in any order."""

    def __call__(self, jobs: Sequence[UpscaleCheck]) -> Iterable[UpscaleVerdict]: ...


class UpscaleChecker:
    """Asks for the keeper's upscale checks (``matching.resolution``) that the index has no verdict for, and keeps
    the verdicts in the index."""

    def __init__(self, db_path: str, run_checks: UpscaleJobs) -> None:
        self.db_path = db_path
        self.run_checks = run_checks

    def effective_pixels(self, rows: Sequence[FileRow], evidence: Evidence, leaders: set[int]
                         ) -> tuple[np.ndarray, set[int]]:  # fmt: skip
        """Per file, its pixels, or those of a smaller file it was found to be an upscale of; and those files.

        ``leaders``: the files an upscale check may demote (the keepers-to-be); others are not asked about.
        """
        infos = [r.info for r in rows]
        pixels = np.array([i.pixels for i in infos], dtype=np.float64)
        upscaled: set[int] = set()
        known: dict[tuple[str, str], float | None] = {}
        components = evidence.components if evidence.components is not None else np.arange(len(rows))
        changed: set[int] = set()  # components where an upscale was found: their next largest may lead now
        for _ in range(3):  # an upscale of an upscale: ask again about the next largest
            questions = [(p, s) for p, s in upscale_questions(evidence, infos, pixels, upscaled)
                         if rows[p].content_hash and rows[s].content_hash
                         and (p in leaders or int(components[p]) in changed)]
            keys = [(rows[p].content_hash or "", rows[s].content_hash or "") for p, s in questions]
            self._answer([k for k in keys if k not in known], questions, keys, rows, known)
            found = [(p, s) for (p, s), key in zip(questions, keys) if _is_upscale(known.get(key))]
            if not found:
                break
            for p, s in found:  # several smaller files may explain it: the largest of them counts
                pixels[p] = pixels[s] if p not in upscaled else max(pixels[p], pixels[s])
                upscaled.add(p)
                changed.add(int(components[p]))
        return pixels, upscaled

    def _answer(self, missing: list[tuple[str, str]], questions: list[tuple[int, int]], keys: list[tuple[str, str]],
                rows: Sequence[FileRow], known: dict[tuple[str, str], float | None]) -> None:
        if not missing:
            return
        with HashIndex(self.db_path, readonly=True) as index:
            known.update(index.upscale_verdicts(missing, UPSCALE_SPEC))
        todo: dict[int, dict[str, int]] = {}  # large file -> {small file's content hash: small file}
        settled: set[int] = set()  # an upscale of one smaller file: those after it (no larger) change nothing
        for key, (p, s) in zip(keys, questions):  # each large file's smaller files come largest first
            if p in settled:
                continue
            if key not in known:
                todo.setdefault(p, {})[key[1]] = s
            elif _is_upscale(known[key]):
                settled.add(p)
        jobs = [_check(rows[p], [(digest, rows[s]) for digest, s in smaller.items()]) for p, smaller in todo.items()]
        verdicts = list(self.run_checks(jobs))
        for verdict in verdicts:
            known[(verdict.large_hash, verdict.small_hash)] = verdict.ratio
        try:
            with HashIndex(self.db_path) as index:
                index.store_upscale_verdicts(((v.large_hash, v.small_hash, v.ratio) for v in verdicts), UPSCALE_SPEC)
        except (IndexReadError, IndexVersionError):
            pass  # an index this user may only read: the checks are made again next time


def _check(large: FileRow, smaller: list[tuple[str, FileRow]]) -> UpscaleCheck:
    """The job comparing ``large`` with each smaller file (content hash, row), with their widths from the index."""
    widths = [r.width for r in (large, *(row for _, row in smaller))]
    return UpscaleCheck(large.path, large.content_hash or "", tuple((row.path, digest) for digest, row in smaller),
                        tuple(w for w in widths if w is not None) if None not in widths else ())


def _is_upscale(ratio: float | None) -> bool:
    from imgtwin.matching.resolution import MAX_RATIO

    return ratio is not None and ratio <= MAX_RATIO


def public_groups(groups: Sequence[Group], rows: Sequence[FileRow], ranking: Ranking, display: PathDisplay,
                  decided: bool = False) -> tuple[DuplicateGroup, ...]:
    """The groups as reported, largest reclaimable first; ``decided``: groups set apart by decisions (shown only)."""
    public = []
    for group in groups:
        keeper_hash, keeper_file = rows[group.keeper].content_hash, rows[group.keeper].file_id
        members = tuple(
            GroupMember(
                path=display(rows[m.index].path), size=rows[m.index].info.size, width=rows[m.index].width,
                height=rows[m.index].height, format=rows[m.index].info.format,
                mtime_ns=rows[m.index].info.mtime_ns, distance=m.distance, keep=m.index == group.keeper,
                transform=_TRANSFORM_NAMES.get(m.transform, m.transform), reason=MATCHED_BY.get(m.basis),
                exact=keeper_hash is not None and rows[m.index].content_hash == keeper_hash,
                reference=rows[m.index].info.reference,
                linked=m.index != group.keeper and keeper_file is not None and rows[m.index].file_id == keeper_file,
                content_hash=rows[m.index].content_hash, dev=rows[m.index].dev, inode=rows[m.index].inode,
            )
            for m in group.members
        )
        twins = [m.index for m in group.members if m.transform == EXACT]
        others = [m.index for m in group.members if m.index != group.keeper]
        rule = ranking.rule(group.keeper, others, twins)
        removed = [rows[m.index].info.signals for m, member in zip(group.members, members) if member.reclaimable]
        lacks = metadata_gaps(rows[group.keeper].info.signals, removed)
        public.append((group.category, members, ranking.confidence(group.keeper, others, twins), rule, lacks))
    public.sort(key=lambda g: (-sum(m.size for m in g[1] if m.reclaimable), g[1][0].path))
    return tuple(DuplicateGroup(k, category, members, confidence, decided=decided, keeper_rule=rule,
                                keeper_reason=reason_words(rule), keeper_lacks=lacks)
                 for k, (category, members, confidence, rule, lacks) in enumerate(public, start=1))
