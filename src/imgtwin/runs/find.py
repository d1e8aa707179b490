"""A find run: scan (reusing the index), then group, then pick keepers.

``find_duplicates`` is what ``imgtwin find``, ``dedupe``, ``report``, the
review app and the Python API call. It scans the folders into the index
(``runs.scan``, and with ``--deep`` the deep pass, ``runs.deep``), then hands
the index's records to matching (``matching.indexed``), which never scans and
never starts processes: the upscale checks it asks for are run here, in a
worker pool (``UpscalePool``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Self

from imgtwin.config import ProcessingConfig
from imgtwin.folders import check_folders
from imgtwin.folders import within as _within
from imgtwin.loading.formats import decode_cost_key
from imgtwin.loading.strips import StripStore
from imgtwin.matching.deep_extra import local_features_for
from imgtwin.matching.framed import load_framed
from imgtwin.matching.indexed import (
    Loaded,
    PathDisplay,
    UpscaleChecker,
    group_rows,
    load_rows,
    public_groups,
)
from imgtwin.matching.keeper import KeeperPolicy
from imgtwin.matching.near import NearParams
from imgtwin.matching.resolution import UpscaleCheck, UpscaleTask, UpscaleVerdict
from imgtwin.options import MatchOptions, ScanOptions
from imgtwin.persistence.decisions import Pair, apart_pairs
from imgtwin.persistence.index import HashIndex
from imgtwin.processing.discovery import check_roots
from imgtwin.processing.service import PoolService, ServiceStopped
from imgtwin.records import DuplicateGroup, FileError, ProcessingSummary
from imgtwin.reporting.groups import groups_document, with_decided
from imgtwin.runs.context import RunContext
from imgtwin.runs.deep import FeaturesOnDemand, compute_local_features
from imgtwin.runs.main_images import decode_main_images, preview_candidates
from imgtwin.runs.scan import ScanSettings, default_db_path, run_scan


@dataclass(frozen=True)
class FindResult:
    """Duplicate groups (largest reclaimable first), the files that could not be read, and how they were found.

    ``match``: the options that made the groups, so that what is written from
    them (``document``) says the same threshold and rotations without being told again.
    """

    groups: tuple[DuplicateGroup, ...]
    errors: tuple[tuple[str, FileError], ...]
    scan: ProcessingSummary | None = None
    stale: int = 0  # indexed files hashed by another imgtwin version: rescan to compare them
    files: int = 0  # files compared
    match: MatchOptions = field(default_factory=MatchOptions)
    # The pictures of the candidates that the scan hashed from their previews, decoded before grouping.
    candidates: ProcessingSummary | None = None
    # The groups that "not duplicates" decisions split, as they would be without them (shown only, never acted
    # on), and how many of their files are in no group because of them.
    decided: tuple[DuplicateGroup, ...] = ()
    decided_files: int = 0

    @property
    def cancelled(self) -> bool:
        """Stopped (Ctrl-C) before every file was hashed and every candidate decoded: groups cover what was."""
        return any(s is not None and s.cancelled for s in (self.scan, self.candidates))

    @property
    def reclaimable_bytes(self) -> int:
        return sum(g.reclaimable_bytes for g in self.groups)

    def document(self, base: str | None = None, show_decided: bool = False) -> dict[str, Any]:
        """The ``find --json`` document of these groups (``reporting.groups.groups_document``); ``show_decided``:
        with the groups that decisions split, under ``decided``."""
        match = self.match
        document = groups_document(self.groups, self.errors, match.bits, match.searches_rotations,
                                   deep=match.searches_deep, base=base, decided_groups=len(self.decided),
                                   decided_files=self.decided_files)
        return with_decided(document, self.decided) if show_decided else document


def find_duplicates(
    paths: Sequence[str] = (),
    *,
    db_path: str | None = None,
    match: MatchOptions | None = None,
    options: ScanOptions | None = None,
    scan: bool = True,
    run: RunContext | None = None,
) -> FindResult:
    """Duplicate groups among the images under ``paths``.

    With ``scan`` (the default) the folders are scanned into the index first
    (``options``: how, and which files); with no ``paths``, every live file of the
    index is compared. ``match``: how alike, rotations, the keeper policy,
    reference folders (compared with the others, never acted on) and ``deep``
    (local features, computed where missing when scanning: ``runs.deep``).
    The filters of ``options`` also choose which indexed files take part
    (hidden files already indexed stay: they were asked for when scanned).
    ``run``: its cancel token (set, the scan and the deep pass stop after the
    files in flight and the groups cover what was hashed:
    ``result.cancelled``), its console and output choice, its metrics sink.
    """
    match, options, run = match or MatchOptions(), options or ScanOptions(), run or RunContext()
    check_roots(paths)  # with or without a scan: a file or a typo is an error, never a root or an empty result
    check_folders(match.reference, "reference folder")  # else it would protect nothing
    threshold, rotations, keep = match.bits, match.searches_rotations, match.keep
    reference, deep, exact_only = match.reference, match.searches_deep, match.exact_only
    db = db_path or default_db_path()
    summary = None
    # A reference folder is compared with the others, so it is scanned (and searched) with them.
    extra = [r for r in reference if paths and not any(_within(os.path.abspath(r), os.path.abspath(p)) for p in paths)]
    roots = (*paths, *extra)
    if deep:  # local features are computed from the main image of every file: previews would only delay that
        options = replace(options, previews=False)
    settings = ScanSettings.of(roots, db, options)
    if scan and roots:
        summary = run_scan(settings, run)
        if deep and not summary.cancelled:
            compute_local_features(settings, run)
    select = replace(options, include_hidden=True).selector((*paths, *reference))  # as given, references included
    params = NearParams(threshold=threshold, rotations=rotations)
    # Rows the candidates' decode keeps for the keeper's checks (``loading.strips``): this find's, on this machine.
    with tempfile.TemporaryDirectory(prefix="imgtwin-rows-") as folder:
        strips = StripStore(folder) if options.scheduler is None else None
        # The pairs the thumbnails cannot decide are decided on local features of their files (with --deep all
        # are in the index already: nothing is decoded again); --deep then adds the local features' own candidates.
        escalate = None if exact_only else FeaturesOnDemand(settings, run, inner=deep)
        kinds = searched_kinds(params, exact_only, escalate is not None)
        loaded, candidates = load_rows(db, roots, reference, select, previews=True, kinds=kinds), None
        if loaded.preview.any():  # no group is decided on a preview: decode the candidates' pixels
            candidates = decode_candidates(settings, loaded, params, run, exact_only, strips)
            del loaded  # not two tables at once
            loaded = load_rows(db, roots, reference, select, kinds=kinds)
        local = local_features_for(db, loaded.content_hashes(), inner=True) if deep else None
        framed = load_framed(db, loaded.digests) if escalate is not None else None
        with UpscalePool(options.processing_config(), strips) as upscale_jobs:
            grouping = group_rows(loaded, params, KeeperPolicy(keep), match.preferences,
                                  UpscaleChecker(db, upscale_jobs), local, exact_only, remembered_apart(db),
                                  escalate, framed)
    display = PathDisplay(roots)
    errors = tuple((display(p), e) for p, e in loaded.errors)
    grouped = {k for g in grouping.groups for k in g.indices}
    left_out = {k for g in grouping.decided for k in g.indices} - grouped
    return FindResult(public_groups(grouping.groups, grouping.rows, grouping.ranking, display), errors, summary,
                      loaded.stale, len(loaded) + loaded.previews, match, candidates,
                      public_groups(grouping.decided, grouping.rows, grouping.ranking, display, decided=True),
                      len(left_out))


def searched_kinds(params: NearParams, exact_only: bool, escalating: bool) -> tuple[str, ...]:
    """The hypothesis hashes (``matching.hashtable.KINDS``) this find searches: none for byte copies only."""
    if exact_only:
        return ()
    wanted = {"rotated": params.rotations, "crop": params.crop_threshold > 0, "hard": escalating,
              "straight": params.straight_threshold > 0 and params.crop_threshold > 0}
    return tuple(kind for kind, on in wanted.items() if on)


def remembered_apart(db_path: str) -> frozenset[Pair]:
    """The index's "not duplicates" decisions (``persistence.decisions``); none where there is no index."""
    if not os.path.isfile(db_path):
        return frozenset()
    with HashIndex(db_path, readonly=True) as index:
        return apart_pairs(index.conn)


def decode_candidates(settings: ScanSettings, loaded: Loaded, params: NearParams, run: RunContext,
                      exact_only: bool, strips: StripStore | None = None) -> ProcessingSummary | None:
    """Decode into the index the main images of the files with a preview in a candidate pair
    (``runs.main_images``); byte copies have alike previews, so an exact-only search decodes them too."""
    if exact_only:
        params = replace(params, threshold=0, extension=0, crop_threshold=0, rotations=False)
    wanted = loaded.rows(preview_candidates(loaded.preview, loaded.table, params))
    wanted.sort(key=lambda r: decode_cost_key(r.info.format, r.info.size))
    return decode_main_images(settings, [r.path for r in wanted], run, strips)


class UpscalePool:
    """Upscale checks run in one worker pool for the run (time limit, memory cap, crash isolation), started by
    the first round of checks and kept for the next (an upscale of an upscale): a pool's start costs about as
    much as a dozen checks. A context manager: the pool stops with it.

    Not stopped by the run's cancel token: that stops the scan, and the groups of what was hashed
    still need their checks (a check not run reads as "not an upscale", a wrong keeper).
    """

    def __init__(self, config: ProcessingConfig, strips: StripStore | None = None) -> None:
        self.config = config
        self.task = UpscaleTask(strips)
        self.service: PoolService[UpscaleCheck, list[UpscaleVerdict]] | None = None

    def __call__(self, jobs: Sequence[UpscaleCheck]) -> list[UpscaleVerdict]:
        if not jobs:
            return []
        if self.service is None:  # no more workers than the first round has checks (the next are fewer)
            workers = min(self.config.workers, len(jobs))
            self.service = PoolService(self.task, replace(self.config, max_concurrent_tasks=workers))
        futures = [self.service.submit(job) for job in jobs]
        verdicts = []
        for job, future in zip(jobs, futures):
            try:
                verdicts += future.result()
            except ServiceStopped:  # its pool could not run it: not told
                verdicts += self.task.failed(job, None)
        return verdicts

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.service is not None:
            self.service.close()
