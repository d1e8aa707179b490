"""Which files the review server may read, and the opaque ids requests name them by.

A request never carries a path. The page names a file by an id, an HMAC of
its absolute path under a key made for this server run: ids cannot be guessed
or turned back into paths, and they stay the same across rescans of one run
(so the page's review survives a rescan). An id is served only if

1. it is in the catalog, which holds exactly the members of the current
   groups, with what the index recorded about them;
2. the file lies under one of the given roots, by name and once every link
   is resolved (a folder or file link cannot lead out of them);
3. the file opened is a regular file, and, where the index knows its inode,
   the same file the index hashed (not one swapped in since).
"""

from __future__ import annotations

import errno
import hmac
import os
import re
import secrets
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from imgtwin.actions.plan import containing_root

_ID = re.compile(r"^[0-9a-f]{32}$")


class ServedFile(Protocol):
    """What the review app needs of a group member (a ``records.GroupMember``): its absolute path, its
    size, whether it lies in a reference folder and, where the index knows them, the device and inode it
    was hashed as and its content hash (what the person's choices are kept by: ``review.choices``)."""

    @property
    def path(self) -> str: ...

    @property
    def size(self) -> int: ...

    @property
    def reference(self) -> bool: ...

    @property
    def dev(self) -> int | None: ...

    @property
    def inode(self) -> int | None: ...

    @property
    def content_hash(self) -> str | None: ...


class NotServable(Exception):
    """A file that must not or cannot be sent: ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class OpenedFile:
    """A checked file: ``path`` is the name it was opened by (every link resolved), ``stat`` its ``fstat``."""

    entry: ServedFile
    path: str
    fd: int
    stat: os.stat_result


def open_no_link(path: str) -> int:
    """``path`` open for reading; OSError (ELOOP) if its last name is a link.

    O_NONBLOCK: a FIFO put at the name must not hang the server (no effect on regular files).
    """
    return os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))


def is_file(st: os.stat_result, dev: int, inode: int) -> bool:
    """Whether ``st`` is of the regular file (``dev``, ``inode``): the one checked, not one swapped in since."""
    return stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) == (dev, inode)


class FileCatalog:
    """Ids for the files of the current groups, and the checks before one is read."""

    def __init__(self, roots: Sequence[str], key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)
        self.roots = tuple(os.path.abspath(r) for r in roots)
        self._real_roots = tuple(os.path.realpath(r) for r in self.roots)
        self._files: dict[str, ServedFile] = {}

    def file_id(self, path: str) -> str:
        raw = os.path.abspath(path).encode("utf-8", "surrogateescape")
        return hmac.new(self._key, raw, "sha256").hexdigest()[:32]

    def replace(self, files: Iterable[ServedFile]) -> None:
        """The catalog becomes exactly ``files`` (one swap: readers see the old or the new set)."""
        self._files = {self.file_id(f.path): f for f in files}

    def __len__(self) -> int:
        return len(self._files)

    def get(self, file_id: str) -> ServedFile | None:
        if not _ID.match(file_id):
            return None
        entry = self._files.get(file_id)
        if entry is None or not self.under_roots(entry.path):
            return None
        return entry

    def under_roots(self, path: str) -> bool:
        """Whether ``path`` is under a root by name and with its links resolved; False, never an error,
        when the links change while they are resolved (``realpath`` then raises EINVAL or ELOOP)."""
        try:
            if not containing_root(os.path.normpath(path), self.roots):
                return False
            return bool(containing_root(os.path.realpath(path), self._real_roots))
        except (OSError, ValueError):
            return False

    def open(self, file_id: str) -> OpenedFile:
        """The file behind ``file_id``, open for reading; ``NotServable`` if it is not allowed or gone."""
        entry = self.get(file_id)
        if entry is None:
            raise NotServable(404, "no such file in the current groups")
        try:
            real = os.path.realpath(entry.path)
            fd = open_no_link(real)
        except FileNotFoundError:
            raise NotServable(410, "the file is gone since the scan") from None
        except OSError as exc:  # ELOOP, EINVAL: a link was put at one of its names meanwhile
            if exc.errno in (errno.ELOOP, errno.EINVAL):
                raise NotServable(409, "the file was replaced since the scan: rescan") from None
            raise NotServable(403, f"cannot read the file: {exc.strerror or exc}") from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise NotServable(403, "not a regular file")
            if entry.inode is not None and (st.st_ino != entry.inode or (entry.dev is not None and st.st_dev != entry.dev)):
                raise NotServable(409, "the file was replaced since the scan: rescan")
            if not containing_root(real, self._real_roots):
                raise NotServable(404, "no such file in the current groups")
        except BaseException:
            os.close(fd)
            raise
        return OpenedFile(entry, real, fd, st)
