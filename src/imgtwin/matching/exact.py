"""Exact duplicates: same size, then same full-content hash.

Sizes are free (from the scan); the content is read and hashed only for files
whose size collides with another's, and with xxh3-128 (several GB/s, 128 bits
so an accidental collision is out of reach for any collection).  Files that
vanish or cannot be read are left out, never guessed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from imgtwin.hashing.content import content_hash


@dataclass(frozen=True, slots=True)
class ExactGroup:
    """Files with identical bytes; ``digest`` is the hex content hash."""

    size: int
    digest: str
    paths: tuple[str, ...]


def exact_groups(
    files: Iterable[tuple[str, int]],
    digest: Callable[[str], str] = content_hash,
    on_error: Callable[[str, OSError], None] | None = None,
) -> list[ExactGroup]:
    """Groups of >= 2 byte-identical files among ``(path, size)`` pairs.

    Only files sharing their size with another file are read.  Empty files are
    ignored (they are not images).  Groups and paths come out sorted.
    """
    by_size: dict[int, list[str]] = defaultdict(list)
    for path, size in files:
        if size > 0:
            by_size[size].append(path)
    groups: list[ExactGroup] = []
    for size, paths in sorted(by_size.items()):
        if len(paths) < 2:
            continue
        by_digest: dict[str, list[str]] = defaultdict(list)
        for path in paths:
            try:
                by_digest[digest(path)].append(path)
            except OSError as exc:
                if on_error is not None:
                    on_error(path, exc)
        for value, same in by_digest.items():
            if len(same) >= 2:
                groups.append(ExactGroup(size, value, tuple(sorted(same))))
    groups.sort(key=lambda g: g.paths)
    return groups


def exact_labels(paths: Sequence[str], groups: Iterable[ExactGroup]) -> list[int]:
    """For each path, the index of its exact group, or -1 (for grouping's input)."""
    where = {path: k for k, group in enumerate(groups) for path in group.paths}
    return [where.get(path, -1) for path in paths]
