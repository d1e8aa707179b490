"""What a scan reads and how groups are chosen: the settings the CLI and the API share, with their defaults.

``ScanOptions`` (which files, how many workers, time and memory limits) and
``MatchOptions`` (how alike, rotations, which file is kept) are the one place
where these settings and their defaults live: the CLI's options take their
defaults from here, the public API takes these objects, and both reach the
engine through the adapters below. Each scan setting is declared once, with
its default and its checks, in the type that uses it: an engine knob (workers,
timeout, memory, batch and queue sizes) in ``ProcessingConfig``, a walk setting
(hidden names, links) in ``DiscoveryOptions``, a filter in ``FileFilter``.
``ScanOptions`` is their flat public face: its defaults are read from those
types, and ``processing_config`` builds all three from it.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from imgtwin.config import ExecutorKind, ProcessingConfig
from imgtwin.matching.confirm import MAX_THRESHOLD
from imgtwin.matching.keeper import KeeperPolicy
from imgtwin.matching.near import NearParams
from imgtwin.matching.preferences import Preferences, parse_formats
from imgtwin.processing.discovery import DiscoveryOptions, FileFilter

_ENGINE = ProcessingConfig()
_WALK = DiscoveryOptions()
_FILTER = FileFilter()

DEFAULT_THRESHOLD = NearParams().threshold

Similarity = Literal["exact", "high", "medium", "low"]
# --similarity in words -> --threshold in bits of the 64-bit DCT hash ("exact": byte-identical files only).
# high: identical look (re-saves, resizes, format changes); medium, the default: also re-encodes, light
# edits, borders, small crops; low: heavier edits, at the risk of grouping different shots of one scene.
SIMILARITY_BITS: dict[str, int] = {"high": 0, "medium": DEFAULT_THRESHOLD, "low": 10}
SIMILARITIES: tuple[str, ...] = ("exact", *SIMILARITY_BITS)


def expand(path: str) -> str:
    """``~`` and ``~user`` expanded, as a shell would have done on the command line."""
    return os.path.expanduser(os.fspath(path))


@dataclass(frozen=True, kw_only=True)
class ScanOptions:
    """Which files a scan reads (the filters) and how it runs (workers, limits).

    ``workers``: a count, 0 = one per core, or ``"auto"`` (adapted while the
    scan runs, process executor only). ``file_timeout``: seconds one file may
    take before its worker is killed. ``worker_memory_mb``: memory each worker
    may add while decoding (0 = no limit). The filters (``exclude``,
    ``extensions``, ``min_size``, ``max_size``, ``recursive``,
    ``one_file_system``, ``include_hidden``) also choose which indexed files
    are compared: see ``processing.discovery.FileFilter``.
    """

    workers: int | Literal["auto"] = 0
    executor: ExecutorKind = _ENGINE.executor
    file_timeout: float = _ENGINE.file_timeout
    worker_memory_mb: int = _ENGINE.worker_memory_mb
    batch_size: int = _ENGINE.batch_size
    commit_seconds: float = _ENGINE.commit_seconds
    buffer: int = _ENGINE.channel_buffer_size
    include_hidden: bool = _WALK.include_hidden
    follow_symlinks: bool = _WALK.follow_symlinks
    # The filters' defaults are FileFilter's (one place); so are their checks (``file_filter``).
    exclude: tuple[str, ...] = _FILTER.exclude
    extensions: tuple[str, ...] = _FILTER.extensions
    min_size: int | None = _FILTER.min_size
    max_size: int | None = _FILTER.max_size
    recursive: bool = _FILTER.recursive
    one_file_system: bool = _FILTER.one_file_system
    scheduler: str | None = None  # a Dask scheduler's address, or local:N (processing.distributed)
    # Hash a file's embedded preview where it has a faithful one (``loading.previews``); False decodes every file.
    previews: bool = True

    def __post_init__(self) -> None:
        for name in ("exclude", "extensions"):
            value = getattr(self, name)
            if isinstance(value, str):  # one pattern given where a sequence was meant
                value = (value,)
            object.__setattr__(self, name, tuple(value))
        if self.workers != "auto" and (isinstance(self.workers, bool) or not isinstance(self.workers, int)
                                       or self.workers < 0):
            raise ValueError(f"workers must be a count >= 0 or 'auto', not {self.workers!r}")
        if self.workers == "auto" and self.executor != "process":
            raise ValueError("workers='auto' needs the process executor")
        self.processing_config()  # the engine's and the filter's own checks, now rather than mid-scan

    @property
    def file_filter(self) -> FileFilter:
        """Which files take part (``FileFilter``): the walk's and the index's."""
        return self.processing_config().discovery.filter

    def processing_config(self, *, progress: bool = False) -> ProcessingConfig:
        """The engine's settings, the walk's (``.discovery``) and its filter within them: the one place that
        maps these flat fields onto ``ProcessingConfig``, ``DiscoveryOptions`` and ``FileFilter``."""
        file_filter = FileFilter(self.exclude, self.extensions, self.min_size, self.max_size, self.recursive,
                                 self.one_file_system)
        return ProcessingConfig(
            max_concurrent_tasks=0 if self.workers == "auto" else self.workers,
            channel_buffer_size=self.buffer,
            batch_size=self.batch_size,
            commit_seconds=self.commit_seconds,
            enable_progress_reporting=progress,
            executor=self.executor,
            file_timeout=self.file_timeout,
            worker_memory_mb=self.worker_memory_mb,
            adaptive_workers=self.workers == "auto",
            discovery=DiscoveryOptions(self.include_hidden, self.follow_symlinks, file_filter),
        )

    def selector(self, roots: Sequence[str]) -> Callable[[str, int, int | None], bool] | None:
        """Which indexed files under ``roots`` take part, or None when every one does."""
        rules = self.file_filter
        if not rules.active and self.include_hidden:
            return None
        return rules.row_selector(roots, self.include_hidden)


@dataclass(frozen=True, kw_only=True)
class MatchOptions:
    """How groups are chosen: how alike, rotations, which file is kept, reference folders, ``deep``.

    ``similarity`` in words (``exact``: byte-identical files only; ``high``,
    ``medium`` (the default), ``low``: ``SIMILARITY_BITS``) or ``threshold``
    in bits of the 64-bit perceptual hash, not both. ``keep``: ``best``,
    ``largest``, ``smallest``, ``oldest``, ``newest`` or ``prefer-folder``
    (``best`` with ``prefer``). ``prefer``: folders whose files are kept first,
    in this order (one folder as a string will do); ``prefer_format``: formats
    in order of preference (``"heic,jpg"`` or ``("heic", "jpg")``); both outrank
    every automatic tier but the reference and content ones (``matching.keeper``).
    ``reference``: folders of originals that no action touches. ``deep``: also
    match on local features.
    """

    similarity: Similarity | None = None
    threshold: int | None = None
    rotations: bool = True
    keep: KeeperPolicy | str = KeeperPolicy.BEST
    prefer: tuple[str, ...] | str | None = ()
    prefer_format: tuple[str, ...] | str = ()
    reference: tuple[str, ...] = ()
    deep: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.reference, str):
            object.__setattr__(self, "reference", (self.reference,))
        object.__setattr__(self, "reference", tuple(expand(r) for r in self.reference))
        prefer = (self.prefer,) if isinstance(self.prefer, str) else self.prefer or ()
        object.__setattr__(self, "prefer", tuple(expand(p) for p in prefer))
        object.__setattr__(self, "prefer_format", parse_formats(self.prefer_format))
        if self.similarity is not None and self.threshold is not None:
            raise ValueError("give similarity or threshold, not both")
        if self.similarity is not None and self.similarity not in SIMILARITIES:
            raise ValueError(f"similarity must be one of {', '.join(SIMILARITIES)}, not {self.similarity!r}")
        if self.threshold is not None and not 0 <= self.threshold <= MAX_THRESHOLD:
            raise ValueError(f"threshold must be between 0 and {MAX_THRESHOLD} bits, not {self.threshold}")
        try:
            policy = KeeperPolicy(self.keep)
        except ValueError:
            raise ValueError(f"keep must be one of {', '.join(p.value for p in KeeperPolicy)}, "
                             f"not {self.keep!r}") from None
        object.__setattr__(self, "keep", policy)
        if policy is KeeperPolicy.PREFER_FOLDER and not self.prefer:
            raise ValueError("keep='prefer-folder' needs prefer=FOLDER")

    @property
    def preferences(self) -> Preferences:
        """The stated preferences, folders made absolute (as the index records paths)."""
        return Preferences(tuple(os.path.abspath(p) for p in self.prefer or ()), tuple(self.prefer_format))

    @property
    def exact_only(self) -> bool:
        """Byte-identical files only (``similarity="exact"``)."""
        return self.similarity == "exact"

    @property
    def bits(self) -> int:
        """The threshold in bits that the finder runs with."""
        if self.threshold is not None:
            return self.threshold
        if self.exact_only:
            return 0
        return SIMILARITY_BITS[self.similarity or "medium"]

    @property
    def searches_rotations(self) -> bool:
        """Rotated and mirrored copies are looked for (never with ``exact``: bytes have no rotations)."""
        return self.rotations and not self.exact_only

    @property
    def searches_deep(self) -> bool:
        """Local features are matched too (never with ``exact``)."""
        return self.deep and not self.exact_only


def db_keyword(db: str | None, db_path: str | None, function: str) -> str | None:
    """``db``, or the ``db_path`` keyword that the README once showed, with a DeprecationWarning.

    ``db=`` is the index's keyword everywhere in the public API; ``db_path=`` still works for a while.
    """
    if db_path is None:
        return db
    if db is not None:
        raise TypeError(f"{function}() takes db or db_path (deprecated), not both")
    warnings.warn(f"{function}(db_path=...) is deprecated: use db=...", DeprecationWarning, stacklevel=3)
    return db_path


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)(b?)\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """``"500"``, ``"200k"``, ``"1.5MB"``, ``"2GiB"`` -> bytes (k/M/G/T: powers of 1000; KiB...: of 1024)."""
    match = _SIZE.match(text)
    if not match or (match.group(3) and not match.group(2)):
        raise ValueError(f"{text!r} is not a size (examples: 500, 200k, 1.5MB, 2GiB)")
    number, unit, binary = float(match.group(1)), match.group(2).lower(), bool(match.group(3))
    power = "kmgt".index(unit) + 1 if unit else 0
    return round(number * float((1024 if binary else 1000) ** power))
