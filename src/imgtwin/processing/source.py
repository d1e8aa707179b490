"""Where files come from (the seed's storage backend)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from imgtwin.processing.discovery import Discovered, DiscoveryOptions, count, discover


class FileSource(Protocol):
    """Lists candidate files; a distributed or remote source can replace it."""

    def discover(self, roots: Sequence[str], options: DiscoveryOptions) -> Iterator[Discovered]: ...

    def count(self, roots: Sequence[str], options: DiscoveryOptions) -> int: ...


class LocalFileSource:
    """Files on a local or mounted file system."""

    def discover(self, roots: Sequence[str], options: DiscoveryOptions) -> Iterator[Discovered]:
        return discover(roots, options)

    def count(self, roots: Sequence[str], options: DiscoveryOptions) -> int:
        return count(roots, options)
