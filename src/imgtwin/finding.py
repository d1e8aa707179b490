"""Finding duplicates: scan (reusing the index), then group, then pick keepers.

``find_duplicates`` is the Python API behind ``imgtwin find``. The pipeline:

1. scan the given folders into the index (only what changed is read);
2. load, from the index, every live file under those folders;
3. exact groups: same size, then the same xxh3-128 content hash (stored by the scan);
4. near matches: multi-index radius search on the 64-bit pHashes (plain, with
   borders trimmed, and rotated/mirrored when ``rotations``), each candidate
   verified on aligned 32x32 thumbnails (``matching.near``);
5. groups by the keeper-star rule: every member is a verified match of the
   group's keeper, so unrelated pictures are never chained together.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.console import Console

from imgtwin.app import ScanSettings, default_db_path, run_scan
from imgtwin.finding_deep import compute_local_features, deep_extra_matches, local_features_for
from imgtwin.hashing.dct import DCTHasher
from imgtwin.hashing.features import FEATURES_SPEC, MatchFeatures
from imgtwin.hashing.local import LocalFeatures
from imgtwin.matching.exact import exact_groups, exact_labels
from imgtwin.matching.grouping import Group, form_groups
from imgtwin.matching.keeper import FileInfo, KeeperPolicy, keeper_order
from imgtwin.matching.near import FeatureTable, NearParams, near_matches
from imgtwin.persistence.index import HashIndex
from imgtwin.records import DuplicateGroup, ErrorReason, FileError, GroupMember, ProcessingSummary

DEFAULT_THRESHOLD = NearParams().threshold

# Internal dihedral names -> the names users see (None: same orientation).
_TRANSFORM_NAMES = {
    "keeper": None, "exact": None, "identity": None, "mirror_h": "mirror", "mirror_v": "flip",
    "rotate90": "rotate90", "rotate180": "rotate180", "rotate270": "rotate270",
    "transpose": "transpose", "transverse": "transverse",
}  # fmt: skip


@dataclass(frozen=True)
class FindResult:
    """Duplicate groups (largest reclaimable first) and the files that could not be read."""

    groups: tuple[DuplicateGroup, ...]
    errors: tuple[tuple[str, FileError], ...]
    scan: ProcessingSummary | None = None
    stale: int = 0  # indexed files hashed by another imgtwin version: rescan to compare them
    files: int = 0  # files compared

    @property
    def reclaimable_bytes(self) -> int:
        return sum(g.reclaimable_bytes for g in self.groups)


@dataclass(frozen=True)
class _Row:
    path: str
    info: FileInfo  # for ranking keepers: width and height of the picture without borders
    width: int | None  # as stored: the whole image
    height: int | None
    content_hash: str | None
    features: MatchFeatures


def _content_size(width: int | None, height: int | None, features: MatchFeatures) -> tuple[int | None, int | None]:
    """The picture's size without uniform borders: padding adds pixels, not resolution."""
    if width is None or height is None:
        return width, height
    left, top, right, bottom = features.trim
    return round(width * (right - left)), round(height * (bottom - top))


@dataclass
class _Loaded:
    rows: list[_Row] = field(default_factory=list)
    errors: list[tuple[str, FileError]] = field(default_factory=list)
    stale: int = 0


class PathDisplay:
    """Shows index paths (absolute) as the user wrote the roots: relative stays relative."""

    def __init__(self, roots: Sequence[str]) -> None:
        self.pairs = sorted(((os.path.abspath(r), r) for r in roots), key=lambda p: -len(p[0]))

    def __call__(self, path: str) -> str:
        for absolute, given in self.pairs:
            if path == absolute:
                return given
            if path.startswith(absolute.rstrip(os.sep) + os.sep):
                return os.path.join(given, os.path.relpath(path, absolute))
        return path


def _load(db_path: str, roots: Sequence[str]) -> _Loaded:
    loaded = _Loaded()
    spec_id = DCTHasher().spec.id
    with HashIndex(db_path) as index:
        for row in index.rows_under([os.path.abspath(r) for r in roots]):
            if row["error_reason"] is not None:
                reason = _reason(row["error_reason"])
                loaded.errors.append((row["path"], FileError(reason, row["error_message"] or "")))
            elif row["hash_spec"] != spec_id or row["features_spec"] != FEATURES_SPEC or row["features"] is None:
                loaded.stale += 1
            else:
                features = MatchFeatures.from_bytes(row["features"])
                width, height = _content_size(row["width"], row["height"], features)
                info = FileInfo(row["path"], row["size"], row["mtime_ns"], width, height, row["format"])
                loaded.rows.append(_Row(row["path"], info, row["width"], row["height"], row["content_hash"], features))
    return loaded


def _reason(value: str) -> ErrorReason:
    try:
        return ErrorReason(value)
    except ValueError:
        return ErrorReason.DECODE_ERROR


def group_rows(
    rows: Sequence[_Row], params: NearParams, policy: KeeperPolicy, prefer: str | None,
    local: Sequence[LocalFeatures | None] | None = None,
) -> list[Group]:
    """Exact and near groups over ``rows`` (indices into it); ``local``: with ``--deep``, per row."""
    paths = [r.path for r in rows]
    digests = {r.path: r.content_hash for r in rows}
    exact = exact_groups(((r.path, r.info.size) for r in rows if r.content_hash), digest=lambda p: digests[p] or "")
    table = FeatureTable.from_features([r.features for r in rows])
    matches, _ = near_matches(table, params)
    derived: list[tuple[int, int]] = []
    if local is not None:
        matches, derived, _ = deep_extra_matches(matches, table, local, [r.content_hash for r in rows])
    order = keeper_order([r.info for r in rows], policy, prefer, derived=[d for _, d in derived])
    return form_groups(len(rows), matches, order, exact_labels(paths, exact))


def _to_public(groups: Sequence[Group], rows: Sequence[_Row], display: PathDisplay) -> tuple[DuplicateGroup, ...]:
    public = []
    for group in groups:
        members = tuple(
            GroupMember(
                path=display(rows[m.index].path), size=rows[m.index].info.size, width=rows[m.index].width,
                height=rows[m.index].height, format=rows[m.index].info.format,
                mtime_ns=rows[m.index].info.mtime_ns, distance=m.distance, keep=m.index == group.keeper,
                transform=_TRANSFORM_NAMES.get(m.transform, m.transform),
            )
            for m in group.members
        )
        public.append((group.category, members))
    public.sort(key=lambda g: (-sum(m.size for m in g[1] if not m.keep), g[1][0].path))
    return tuple(DuplicateGroup(k, category, members) for k, (category, members) in enumerate(public, start=1))


def find_duplicates(
    paths: Sequence[str] = (),
    *,
    db_path: str | None = None,
    threshold: int = DEFAULT_THRESHOLD,
    rotations: bool = True,
    keep: str | KeeperPolicy = KeeperPolicy.BEST,
    prefer: str | None = None,
    scan: bool = True,
    scan_settings: dict[str, object] | None = None,
    console: Console | None = None,
    deep: bool = False,
) -> FindResult:
    """Duplicate groups among the images under ``paths``.

    With ``scan`` (the default) the folders are scanned into the index first;
    with no ``paths``, every live file of the index is compared. ``keep``:
    ``best`` (resolution without borders, then size, less lossy format,
    oldest, shortest path),
    ``largest``, ``smallest``, ``oldest``, ``newest`` or ``prefer-folder``
    (files under ``prefer`` first).  ``deep``: also match on local features
    (straightened, screenshotted, stickered, hard-cropped copies), computing
    those that are missing when scanning (``finding_deep``).
    """
    db = db_path or default_db_path()
    summary = None
    if scan and paths:
        settings = ScanSettings(roots=tuple(paths), db_path=db, **(scan_settings or {"quiet": True}))  # type: ignore[arg-type]
        summary = run_scan(settings, console or Console(file=io.StringIO()))
        if deep and not summary.cancelled:
            compute_local_features(settings, console or Console(file=io.StringIO()))
    loaded = _load(db, paths)
    local = local_features_for(db, [r.content_hash for r in loaded.rows]) if deep else None
    params = NearParams(threshold=threshold, rotations=rotations)
    groups = group_rows(loaded.rows, params, KeeperPolicy(keep), os.path.abspath(prefer) if prefer else None, local)
    display = PathDisplay(paths)
    errors = tuple((display(p), e) for p, e in loaded.errors)
    return FindResult(_to_public(groups, loaded.rows, display), errors, summary, loaded.stale, len(loaded.rows))
