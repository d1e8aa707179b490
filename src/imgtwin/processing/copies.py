"""Byte copies within one scan: each distinct content is decoded once.

The producer asks ``ScanCopies.claim`` about each file it would queue:

* a file whose size no earlier file of this scan had is queued (its worker
  computes its content hash anyway);
* a file of a size already seen may be a copy: the producer hashes its bytes
  (and, once, those of the first file of that size). If an earlier file has
  these bytes, this one is not queued: it waits for that file's result and
  takes it when it arrives (``settle``, in the collector): hashes, features and
  signals, with its own path, size, times and inode, ``reused='copy'`` and
  ``answered_by='content'``.

Crash isolation holds per file: a failure the same bytes would give again
(timeout, crashed decoder, decode error...) is recorded for each waiting copy
with the same reason; a failure that belongs to the path (permission,
vanished, changed while read) or a skip is not passed on: the first waiting
copy is queued in its place (``retry``), and the others wait on it.

Memory: an entry per file in flight or in the last ``keep_batches`` stored
batches; older ones are forgotten, since the index (``IndexScanCache``)
answers for committed files.
"""

from __future__ import annotations

import os
import queue
import stat
import threading
from collections import deque
from dataclasses import dataclass, field, replace

from imgtwin.hashing.content import content_hash
from imgtwin.processing.probe import FileProbe
from imgtwin.processing.task import failure_of
from imgtwin.records import ErrorReason, FileResult, FileStatus

# Failures that depend on the bytes only, so every copy would fail the same way.
BYTE_FAILURES = frozenset(
    {ErrorReason.NOT_AN_IMAGE, ErrorReason.UNSUPPORTED_FORMAT, ErrorReason.TRUNCATED, ErrorReason.DECODE_ERROR,
     ErrorReason.TOO_LARGE, ErrorReason.TIMEOUT, ErrorReason.WORKER_CRASHED}
)


class Queue:
    """``claim``'s answer: decode this file."""


class Wait:
    """``claim``'s answer: a copy of a file in flight; its result comes with that file's."""


QUEUE = Queue()
WAIT = Wait()
Claim = Queue | Wait | FileResult


@dataclass
class _Owner:
    path: str  # the file being decoded for these bytes
    size: int
    result: FileResult | None = None
    waiters: list[tuple[str, os.stat_result]] = field(default_factory=list)


@dataclass
class _Size:
    undigested: str | None = None  # first file of this size, whose bytes nobody hashed yet
    digests: set[str] = field(default_factory=set)


class ScanCopies:
    """The byte copies of one scan (shared by the producer and the collector, under a lock)."""

    def __init__(self, keep_batches: int = 2) -> None:
        self.keep_batches = keep_batches
        self.retry: queue.Queue[str] = queue.Queue()
        self._lock = threading.Lock()
        self._sizes: dict[int, _Size] = {}
        self._first: dict[str, int] = {}  # undigested first file of a size -> its size
        self._owners: dict[str, _Owner] = {}  # content hash -> owner
        self._owned: dict[str, str] = {}  # owner path -> content hash
        self._waiting = 0  # owners in flight with copies waiting on them
        self._batches = 0
        self._resolved: deque[tuple[int, str]] = deque()  # (batch number, content hash), oldest first

    # --- producer side ---------------------------------------------------------------------------------

    def claim(self, path: str, probe: FileProbe | None = None) -> Claim:
        """``probe``: the file's stat and content hash, taken once for this and the index's lookup."""
        probe = probe or FileProbe(path)
        try:
            info = probe.stat()
        except OSError:
            return QUEUE  # the worker reports it with its reason
        size = info.st_size
        if size == 0 or not stat.S_ISREG(info.st_mode):
            return QUEUE
        with self._lock:
            group = self._sizes.get(size)
            if group is None:
                self._sizes[size] = _Size(undigested=path)
                self._first[path] = size
                return QUEUE
            first = group.undigested
        try:
            digest = probe.digest()
        except OSError:
            return QUEUE
        first_digest = None
        if first is not None:
            try:
                first_digest = content_hash(first)
            except OSError:
                pass
        with self._lock:
            group = self._sizes.setdefault(size, _Size())
            if first is not None and group.undigested == first:
                group.undigested = None
                self._first.pop(first, None)
                if first_digest is not None and first_digest not in self._owners:
                    self._owners[first_digest] = _Owner(first, size)
                    self._owned[first] = first_digest
                    group.digests.add(first_digest)
            owner = self._owners.get(digest)
            if owner is None:
                self._owners[digest] = _Owner(path, size)
                self._owned[path] = digest
                group.digests.add(digest)
                return QUEUE
            if owner.result is None:
                if not owner.waiters:
                    self._waiting += 1
                owner.waiters.append((path, info))
                return WAIT
            return _copy(owner.result, path, info)

    def outstanding(self) -> bool:
        """Whether copies still wait on files in flight, or a retry is still to be queued."""
        with self._lock:
            return self._waiting > 0 or not self.retry.empty()

    # --- collector side --------------------------------------------------------------------------------

    def settle(self, result: FileResult) -> list[FileResult]:
        """The results of the copies that waited on ``result``'s file (none for most files)."""
        path = result.path
        with self._lock:
            size = self._first.pop(path, None)
            if size is not None:
                self._settle_first(result, size)
                return []
            digest = self._owned.pop(path, None)
            if digest is None:
                return []
            owner = self._owners[digest]
            waiters, owner.waiters = owner.waiters, []
            if _passes_on(result, digest):
                owner.result = result
                self._resolved.append((self._batches, digest))
                if waiters:
                    self._waiting -= 1
                return [_copy(result, waiter, info) for waiter, info in waiters]
            if not waiters:
                self._drop(digest)
                return []
            # The next copy is decoded in its place; the others go on waiting, on it.
            owner.path, _ = waiters[0]
            owner.waiters = waiters[1:]
            self._owned[owner.path] = digest
            if not owner.waiters:
                self._waiting -= 1
            self.retry.put(owner.path)
            return []

    def stored(self) -> None:
        """A batch was stored: forget the results the index now answers for."""
        with self._lock:
            self._batches += 1
            while self._resolved and self._resolved[0][0] <= self._batches - self.keep_batches:
                _, digest = self._resolved.popleft()
                owner = self._owners.get(digest)
                if owner is not None and owner.result is not None:
                    self._drop(digest)

    def _settle_first(self, result: FileResult, size: int) -> None:
        """The first file of its size came back before any other of that size: keep its bytes' answer."""
        group = self._sizes.get(size)
        if group is None:
            return
        group.undigested = None
        digest = result.metadata.content_hash
        if digest is not None and digest not in self._owners and result.metadata.size == size and _passes_on(
                result, digest):
            self._owners[digest] = _Owner(path=result.path, size=size, result=result)
            group.digests.add(digest)
            self._resolved.append((self._batches, digest))
        elif not group.digests:
            del self._sizes[size]

    def _drop(self, digest: str) -> None:
        owner = self._owners.pop(digest)
        group = self._sizes.get(owner.size)
        if group is not None:
            group.digests.discard(digest)
            if not group.digests and group.undigested is None:
                del self._sizes[owner.size]


def _passes_on(result: FileResult, digest: str) -> bool:
    """Whether every file with these bytes gets this result."""
    if result.status is FileStatus.HASHED:
        return result.metadata.content_hash == digest  # else the file changed after the producer read it
    if result.status is FileStatus.ERROR:
        return result.error is not None and result.error.reason in BYTE_FAILURES
    return False  # skipped: that depends on the file's name


def _copy(result: FileResult, path: str, info: os.stat_result) -> FileResult:
    metadata = replace(
        result.metadata, path=path, size=info.st_size, mtime_ns=info.st_mtime_ns, dev=info.st_dev,
        inode=info.st_ino, ctime_ns=info.st_ctime_ns,
    )
    if result.status is FileStatus.ERROR and result.error is not None:
        return failure_of(metadata, result.error, reused="copy", answered_by="content")
    return replace(result, metadata=metadata, reused="copy", answered_by="content", duration_s=None)
