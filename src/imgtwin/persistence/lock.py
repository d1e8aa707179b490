"""One writer per index: a second scan of the same index refuses, clearly.

SQLite alone would let two scans interleave their batches safely, but two
processes hashing the same tree into one index double the work and race on
the vanished-file sweep. An advisory lock on ``<index>.lock`` (released by the
kernel when the holder dies, even by SIGKILL) makes the second one stop with a
message; readers such as ``index info`` never take it (``find`` takes it while it
stores the pictures of candidates that were hashed from previews: ``runs.main_images``).
"""

from __future__ import annotations

import os
from types import TracebackType
from typing import Self

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; SQLite still keeps the file consistent
    fcntl = None  # type: ignore[assignment]


class IndexBusyError(RuntimeError):
    """Another imgtwin process is writing to this index."""


class IndexWriteLock:
    """``flock`` on ``<index>.lock``; the file is removed again on release, so nothing is left behind.

    Removing a lock file is only safe with a check after locking that the name
    still refers to the locked file: a process that opened it just before the
    holder removed it would otherwise lock a file no one else can see.
    """

    def __init__(self, db_path: str) -> None:
        self.lock_path = os.path.abspath(db_path) + ".lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        while True:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            if fcntl is None:
                break
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise IndexBusyError(
                    f"the index {self.lock_path[:-5]} is being updated by another imgtwin process "
                    f"(pid {holder}); wait for it to finish or use another --db"
                ) from None
            locked = os.fstat(fd)
            try:
                named = os.stat(self.lock_path)
            except FileNotFoundError:
                named = None
            if named is not None and (named.st_dev, named.st_ino) == (locked.st_dev, locked.st_ino):
                break
            os.close(fd)  # its holder removed it meanwhile: lock the file now at that name
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            try:
                os.unlink(self.lock_path)  # while still holding it: see the class docstring
            except OSError:
                pass
            os.close(self._fd)  # closing drops the lock
            self._fd = None

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()
