"""Write a file so that readers see the old version or the complete new one.

Content goes to a temporary file beside the target; ``commit`` flushes it to
disk and renames it over the target. A crash before ``commit`` leaves the
target untouched.
"""

from __future__ import annotations

import os
import tempfile
from typing import TextIO


class AtomicTextFile:
    def __init__(self, target: str, *, newline: str | None = None) -> None:
        self.target = os.path.abspath(target)
        directory = os.path.dirname(self.target)
        os.makedirs(directory, exist_ok=True)
        fd, self.temp_path = tempfile.mkstemp(prefix=f".{os.path.basename(self.target)}.", suffix=".tmp", dir=directory)
        self.stream: TextIO = os.fdopen(fd, "w", encoding="utf-8", newline=newline)
        self.committed = False

    def commit(self) -> None:
        if self.committed:
            return
        self.stream.flush()
        os.fsync(self.stream.fileno())
        self.stream.close()
        os.replace(self.temp_path, self.target)
        self.committed = True
        fsync_directory(os.path.dirname(self.target))

    def discard(self) -> None:
        if not self.committed:
            self.stream.close()
            try:
                os.unlink(self.temp_path)
            except FileNotFoundError:
                pass


def fsync_directory(directory: str) -> None:
    """Make renames and links in ``directory`` durable; a no-op where directories cannot be synced."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # not possible on every platform; the rename is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
