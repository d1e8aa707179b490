"""Where files come from (the seed's storage backend)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Protocol

from imgtwin.processing.discovery import NO_FILTER, Discovered, DiscoveryOptions, FileFilter, count, discover


class FileSource(Protocol):
    """Lists candidate files; a distributed or remote source can replace it."""

    def discover(self, roots: Sequence[str], options: DiscoveryOptions) -> Iterator[Discovered]: ...

    def count(self, roots: Sequence[str], options: DiscoveryOptions) -> int: ...


class LocalFileSource:
    """Files on a local or mounted file system, through ``file_filter`` (``--exclude``, ``--ext``...)."""

    def __init__(self, file_filter: FileFilter = NO_FILTER) -> None:
        self.file_filter = file_filter

    def _options(self, options: DiscoveryOptions) -> DiscoveryOptions:
        return options if self.file_filter is NO_FILTER else replace(options, filter=self.file_filter)

    def discover(self, roots: Sequence[str], options: DiscoveryOptions) -> Iterator[Discovered]:
        return discover(roots, self._options(options))

    def count(self, roots: Sequence[str], options: DiscoveryOptions) -> int:
        return count(roots, self._options(options))


class ListedFiles:
    """A ``FileSource`` of given paths (passes over files the index lists: the deep pass, the main images of candidates)."""

    def __init__(self, paths: Sequence[str]) -> None:
        self.paths = list(paths)

    def discover(self, roots: Sequence[str], options: DiscoveryOptions) -> Iterator[Discovered]:
        return (Discovered(p) for p in self.paths)

    def count(self, roots: Sequence[str], options: DiscoveryOptions) -> int:
        return len(self.paths)
