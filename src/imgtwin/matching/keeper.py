"""Which file of a duplicate group to keep.

The default policy ``best`` ranks by: highest resolution (pixels), then largest
file, then less lossy format, then oldest modification time, then shortest
path (then the path itself, so the choice is deterministic).  Resolution comes
first because a smaller copy can never be restored from a larger-file but
lower-resolution one; the file size then favours the least compressed encode.
Other policies replace the first criteria and keep the rest as tie-breakers.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass

# Lower is better: lossless first, palette-reduced GIF last.
FORMAT_LOSSINESS = {
    "PNG": 0, "TIFF": 0, "BMP": 0, "DIB": 0, "PPM": 0,
    "WEBP": 1,  # may be lossless; cannot tell cheaply
    "HEIF": 2, "AVIF": 2, "JPEG": 2, "MPO": 2, "JPEG2000": 2,
    "GIF": 3, "ICO": 3,
}  # fmt: skip
_UNKNOWN_FORMAT = 4


@dataclass(frozen=True, slots=True)
class FileInfo:
    """The per-file facts keeper policies look at (all in the ``files`` table)."""

    path: str
    size: int
    mtime_ns: int
    width: int | None = None
    height: int | None = None
    format: str | None = None

    @property
    def pixels(self) -> int:
        return (self.width or 0) * (self.height or 0)

    @property
    def lossiness(self) -> int:
        return FORMAT_LOSSINESS.get((self.format or "").upper(), _UNKNOWN_FORMAT)


class KeeperPolicy(str, enum.Enum):
    BEST = "best"  # resolution, size, format, oldest, shortest path
    LARGEST = "largest"  # largest file first
    SMALLEST = "smallest"  # smallest file first
    OLDEST = "oldest"
    NEWEST = "newest"
    PREFER_FOLDER = "prefer-folder"  # files under the preferred folder first, then ``best``


def _best_key(info: FileInfo) -> tuple:
    return (-info.pixels, -info.size, info.lossiness, info.mtime_ns, len(info.path), info.path)


def _under(path: str, folder: str) -> bool:
    folder = os.path.normpath(folder)
    return os.path.normpath(path).startswith(folder.rstrip(os.sep) + os.sep)


def rank_key(info: FileInfo, policy: KeeperPolicy = KeeperPolicy.BEST, prefer: str | None = None) -> tuple:
    """Sort key: the file with the smallest key is the keeper."""
    best = _best_key(info)
    if policy is KeeperPolicy.BEST:
        return best
    if policy is KeeperPolicy.LARGEST:
        return (-info.size, *best)
    if policy is KeeperPolicy.SMALLEST:
        return (info.size, *best)
    if policy is KeeperPolicy.OLDEST:
        return (info.mtime_ns, *best)
    if policy is KeeperPolicy.NEWEST:
        return (-info.mtime_ns, *best)
    if policy is KeeperPolicy.PREFER_FOLDER:
        if not prefer:
            raise ValueError("the prefer-folder policy needs a folder")
        return (0 if _under(info.path, prefer) else 1, *best)
    raise ValueError(f"unknown keeper policy {policy!r}")


def keeper_order(
    infos: Sequence[FileInfo], policy: KeeperPolicy = KeeperPolicy.BEST, prefer: str | None = None,
    derived: Collection[int] = (),
) -> list[int]:
    """Indices of ``infos`` from the most to the least preferred keeper.

    ``derived``: files known to be a crop or a screenshot of another file
    (``find --deep``'s fits); under every policy they come after all other
    files, so such a copy is never kept over the picture it shows.
    """
    demoted = frozenset(derived)
    return sorted(range(len(infos)), key=lambda k: (k in demoted, rank_key(infos[k], policy, prefer)))


def choose_keeper(
    infos: Sequence[FileInfo], policy: KeeperPolicy = KeeperPolicy.BEST, prefer: str | None = None
) -> int:
    """Index of the keeper among ``infos``."""
    if not infos:
        raise ValueError("no files to choose from")
    return keeper_order(infos, policy, prefer)[0]
