"""Finding candidate files under the roots (the pipeline's producer side).

Rules, all explicit:

* hidden entries (name starting with ``.``) are passed over unless
  ``include_hidden``; a hidden root given by the user is always entered;
* symbolic links are passed over unless ``follow_symlinks``; when followed, each
  directory is entered once per (device, inode), so link loops end, and a
  dangling link named like an image is reported;
* FIFOs, sockets and device files are never opened; one named like an image is
  reported as ``not_a_regular_file``;
* an unreadable directory is reported with its reason and the walk goes on;
* entries are visited in name order, so runs are reproducible;
* a ``FileFilter`` (``--exclude``, ``--ext``, sizes, no recursion, one file
  system) passes over what it rules out; an excluded folder is not entered.
  Roots the user names are always entered (or read, for a file).

Only the directory entries of the folder being walked are held in memory.
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from imgtwin.folders import check_folders, containing_root
from imgtwin.loading.errors import classify_os_error
from imgtwin.loading.signatures import has_image_extension
from imgtwin.records import ErrorReason, FileError


@dataclass(frozen=True, slots=True)
class FileFilter:
    """Which files take part: what users of Czkawka and dupeGuru set first.

    ``exclude``: glob patterns (``fnmatch``, case-sensitive; ``*`` also matches
    ``/``) matched against the absolute path of every file and folder, a
    folder's also with a trailing separator, so that ``*/.thumbnails/*``
    names the folder itself and it is not entered. ``extensions``: lower-case,
    without the dot (empty: any name). ``min_size``/``max_size``: bytes,
    inclusive. ``recursive``: False reads only the files directly in each
    root. ``one_file_system``: folders on another device than their root
    (mount points) are not entered.

    The same filter applies to the files of the index that a command compares
    (``row_selector``), so that ``find``, ``report`` and ``dedupe`` select the
    same files whether or not they scan.
    """

    exclude: tuple[str, ...] = ()
    extensions: tuple[str, ...] = ()
    min_size: int | None = None
    max_size: int | None = None
    recursive: bool = True
    one_file_system: bool = False
    _pattern: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        extensions = tuple(dict.fromkeys(e.lower().lstrip(".") for e in self.extensions if e.strip(". ")))
        object.__setattr__(self, "extensions", extensions)
        object.__setattr__(self, "exclude", tuple(self.exclude))
        for name in ("min_size", "max_size"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.min_size is not None and self.max_size is not None and self.min_size > self.max_size:
            raise ValueError(f"the minimum size ({self.min_size} bytes) is above the maximum ({self.max_size} bytes)")
        if self.exclude:
            object.__setattr__(self, "_pattern", re.compile("|".join(fnmatch.translate(p) for p in self.exclude)))

    @property
    def active(self) -> bool:
        """Whether it rules anything out."""
        return bool(self.exclude or self.extensions or self.min_size is not None or self.max_size is not None
                    or not self.recursive or self.one_file_system)

    def excluded(self, path: str, *, folder: bool = False) -> bool:
        """An ``--exclude`` pattern matches ``path`` (absolute), or with ``folder`` its name with a trailing ``/``."""
        if self._pattern is None:
            return False
        return bool(self._pattern.match(path) or (folder and self._pattern.match(path.rstrip(os.sep) + os.sep)))

    def admits_name(self, name: str) -> bool:
        if not self.extensions:
            return True
        _, dot, extension = name.rpartition(".")
        return bool(dot) and extension.lower() in self.extensions

    def admits_size(self, size: int) -> bool:
        return (self.min_size is None or size >= self.min_size) and (self.max_size is None or size <= self.max_size)

    @property
    def sizes(self) -> bool:
        return self.min_size is not None or self.max_size is not None

    def row_selector(self, roots: Sequence[str], include_hidden: bool = False) -> Callable[[str, int, int | None], bool]:
        """Whether an indexed file (absolute path, size, device) takes part, for files under ``roots``.

        The discovery's rules, answered from the index: a path below a hidden
        name under its root (unless ``include_hidden``), in a subfolder (not
        ``recursive``), on another device than its root (``one_file_system``),
        excluded itself or through a folder above it, or of another extension
        or size, is left out. A root itself is always kept; with no roots only
        the name and size rules apply.
        """
        absolute = [os.path.abspath(r) for r in roots]
        devices: dict[str, int | None] = {}
        if self.one_file_system:
            for root in absolute:
                try:
                    devices[root.rstrip(os.sep) or os.sep] = os.stat(root).st_dev
                except OSError:
                    devices[root.rstrip(os.sep) or os.sep] = None
        folders: dict[str, bool] = {}  # folder -> excluded (rows come in path order: few distinct folders)

        def folder_excluded(folder: str, root: str) -> bool:
            if folder == root:
                return False
            known = folders.get(folder)
            if known is None:
                known = self.excluded(folder, folder=True) or folder_excluded(os.path.dirname(folder), root)
                folders[folder] = known
            return known

        def select(path: str, size: int, device: int | None) -> bool:
            root = containing_root(path, absolute) if absolute else ""
            if root and path == root:
                return True
            if root:
                below = path[len(root.rstrip(os.sep)) + 1:].split(os.sep)
                if not include_hidden and any(part.startswith(".") for part in below):
                    return False
                if not self.recursive and len(below) > 1:
                    return False
                expected = devices.get(root)
                if self.one_file_system and device is not None and expected is not None and device != expected:
                    return False
            if not self.admits_name(os.path.basename(path)) or not self.admits_size(size):
                return False
            if self._pattern is None:
                return True
            return not (self.excluded(path) or (root and folder_excluded(os.path.dirname(path), root)))

        return select


NO_FILTER = FileFilter()


@dataclass(frozen=True, slots=True)
class DiscoveryOptions:
    include_hidden: bool = False
    follow_symlinks: bool = False
    filter: FileFilter = NO_FILTER


@dataclass(frozen=True, slots=True)
class Discovered:
    """A path to process, or a path that is already known to fail."""

    path: str
    error: FileError | None = None


def check_roots(roots: Sequence[str]) -> None:
    """Fail fast, with a plain message, on roots that cannot be scanned: each must be a folder
    (``folders.check_folders``), never a file, which would become a root of the index."""
    check_folders(roots)


def check_scannable(paths: Sequence[str]) -> None:
    """The engine's own rule, below the runs' ``check_roots``: a folder is walked and a file is hashed as
    itself (``discover``), so each must exist and be one or the other."""
    for path in paths:
        if not os.path.exists(path):
            raise FileNotFoundError(f"no such file or folder: {path}")
        if not (os.path.isdir(path) or os.path.isfile(path)):
            raise NotADirectoryError(f"not a folder or a regular file: {path}")


def discover(roots: Sequence[str], options: DiscoveryOptions) -> Iterator[Discovered]:
    """Every candidate file under ``roots``, depth first, in name order."""
    seen_dirs: set[tuple[int, int]] = set()
    for root in roots:
        if os.path.isdir(root):
            yield from _walk(root, options, seen_dirs)
        else:
            yield Discovered(root)


def count(roots: Sequence[str], options: DiscoveryOptions) -> int:
    """How many items ``discover`` will yield (a stat-free pass on Linux)."""
    return sum(1 for _ in discover(roots, options))


def _walk(root: str, options: DiscoveryOptions, seen_dirs: set[tuple[int, int]]) -> Iterator[Discovered]:
    rules = options.filter
    root_dev: int | None = None
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            info = os.stat(directory)
            key = (info.st_dev, info.st_ino)
            if key in seen_dirs:
                continue  # reached again through a symlink: a loop or an alias
            seen_dirs.add(key)
            if root_dev is None:
                root_dev = info.st_dev
            with os.scandir(directory) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as exc:
            yield Discovered(directory, FileError(classify_os_error(exc), f"cannot list folder: {exc.strerror or exc}"))
            continue
        absolute = os.path.abspath(directory) if rules.exclude else directory
        subdirs: list[str] = []
        for entry in entries:
            found = _classify(entry, options)
            if found is True:
                if _enters(entry, os.path.join(absolute, entry.name), options, root_dev):
                    subdirs.append(entry.path)
            elif found is not None and _admits(found, entry, os.path.join(absolute, entry.name), options):
                yield found
        stack.extend(reversed(subdirs))


def _enters(entry: os.DirEntry[str], absolute: str, options: DiscoveryOptions, root_dev: int | None) -> bool:
    """Whether the filter lets the walk into the folder ``entry`` (at ``absolute``)."""
    rules = options.filter
    if not rules.recursive or rules.excluded(absolute, folder=True):
        return False
    if rules.one_file_system:
        try:
            return entry.stat(follow_symlinks=options.follow_symlinks).st_dev == root_dev
        except OSError:
            return True  # entered, so that the walk reports why it cannot be listed
    return True


def _admits(found: Discovered, entry: os.DirEntry[str], absolute: str, options: DiscoveryOptions) -> bool:
    """Whether the filter keeps the file ``entry``: name, extension, size (a stat only when sizes are asked)."""
    rules = options.filter
    if not rules.active:
        return True
    if rules.excluded(absolute) or not rules.admits_name(entry.name):
        return False
    if rules.sizes and found.error is None:
        try:
            return rules.admits_size(entry.stat(follow_symlinks=options.follow_symlinks).st_size)
        except OSError:
            return True  # read, so that the file's own error is reported
    return True


def _classify(entry: os.DirEntry[str], options: DiscoveryOptions) -> Discovered | Literal[True] | None:
    """A Discovered item, True for a folder to enter, or None to pass over."""
    if not options.include_hidden and entry.name.startswith("."):
        return None
    try:
        is_link = entry.is_symlink()
        if is_link and not options.follow_symlinks:
            return None
        if entry.is_dir(follow_symlinks=options.follow_symlinks):
            return True
        if entry.is_file(follow_symlinks=options.follow_symlinks):
            return Discovered(entry.path)
        # Neither a folder nor a regular file: a FIFO, socket, device or dangling link.
        if not has_image_extension(entry.name):
            return None
        if is_link and not os.path.exists(entry.path):
            return Discovered(entry.path, FileError(ErrorReason.VANISHED, "dangling symbolic link"))
        mode = entry.stat(follow_symlinks=options.follow_symlinks).st_mode
        return Discovered(
            entry.path, FileError(ErrorReason.NOT_A_REGULAR_FILE, f"not a regular file ({_kind(mode)})")
        )
    except OSError as exc:
        return Discovered(entry.path, FileError(classify_os_error(exc), exc.strerror or str(exc)))


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "special file"
