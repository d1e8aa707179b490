"""What the scan's producer learns of one file, each fact taken once.

The index's lookup (``IndexScanCache``) and the copy check (``ScanCopies``) both need a file's stat and,
for a size already seen, the hash of its bytes: on tiny files each costs as much as the rest of the
producer's work for the file, so the second asker gets the first one's answer.
"""

from __future__ import annotations

import os

from imgtwin.hashing.content import content_hash


class FileProbe:
    """A file's ``os.stat`` and content hash, each made at most once (a failure, too, is kept and raised again)."""

    __slots__ = ("_digest", "_info", "path")

    def __init__(self, path: str) -> None:
        self.path = path
        self._info: os.stat_result | OSError | None = None
        self._digest: str | OSError | None = None

    def stat(self) -> os.stat_result:
        if self._info is None:
            try:
                self._info = os.stat(self.path)
            except OSError as exc:
                self._info = exc
        if isinstance(self._info, OSError):
            raise self._info
        return self._info

    def digest(self) -> str:
        """The content hash of the file's bytes (``hashing.content``)."""
        if self._digest is None:
            try:
                self._digest = content_hash(self.path)
            except OSError as exc:
                self._digest = exc
        if isinstance(self._digest, OSError):
            raise self._digest
        return self._digest
