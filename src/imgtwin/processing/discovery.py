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
* entries are visited in name order, so runs are reproducible.

Only the directory entries of the folder being walked are held in memory.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from imgtwin.loading.errors import classify_os_error
from imgtwin.loading.signatures import has_image_extension
from imgtwin.records import ErrorReason, FileError


@dataclass(frozen=True, slots=True)
class DiscoveryOptions:
    include_hidden: bool = False
    follow_symlinks: bool = False


@dataclass(frozen=True, slots=True)
class Discovered:
    """A path to process, or a path that is already known to fail."""

    path: str
    error: FileError | None = None


def check_roots(roots: Sequence[str]) -> None:
    """Fail fast, with a plain message, on roots that cannot be scanned."""
    for root in roots:
        if not os.path.exists(root):
            raise FileNotFoundError(f"no such file or directory: {root}")
        if not (os.path.isdir(root) or os.path.isfile(root)):
            raise NotADirectoryError(f"not a folder or a regular file: {root}")


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
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            info = os.stat(directory)
            key = (info.st_dev, info.st_ino)
            if key in seen_dirs:
                continue  # reached again through a symlink: a loop or an alias
            seen_dirs.add(key)
            with os.scandir(directory) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as exc:
            yield Discovered(directory, FileError(classify_os_error(exc), f"cannot list folder: {exc.strerror or exc}"))
            continue
        subdirs: list[str] = []
        for entry in entries:
            found = _classify(entry, options)
            if found is True:
                subdirs.append(entry.path)
            elif found is not None:
                yield found
        stack.extend(reversed(subdirs))


def _classify(entry: os.DirEntry[str], options: DiscoveryOptions) -> Discovered | bool | None:
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
