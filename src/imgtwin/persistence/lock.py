"""One writer per index: a second scan of the same index refuses, clearly.

SQLite alone would let two scans interleave their batches safely, but two
processes hashing the same tree into one index double the work and race on
the vanished-file sweep. An advisory lock on ``<index>.lock`` (released by the
kernel when the holder dies, even by SIGKILL) makes the second one stop with a
message; readers such as ``find`` and ``index info`` never take it.
"""

from __future__ import annotations

import os
from types import TracebackType

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; SQLite still keeps the file consistent
    fcntl = None  # type: ignore[assignment]


class IndexBusyError(RuntimeError):
    """Another imgtwin process is writing to this index."""


class IndexWriteLock:
    def __init__(self, db_path: str) -> None:
        self.lock_path = os.path.abspath(db_path) + ".lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        os.makedirs(os.path.dirname(self.lock_path), exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise IndexBusyError(
                    f"the index {self.lock_path[:-5]} is being updated by another imgtwin process "
                    f"(pid {holder}); wait for it to finish or use another --db"
                ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the lock
            self._fd = None

    def __enter__(self) -> IndexWriteLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()
