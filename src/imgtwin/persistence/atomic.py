"""Write a file so that readers see the old version or the complete new one.

Content goes to a temporary file beside the target; ``commit`` flushes it to
disk and renames it over the target. A crash before ``commit`` leaves the
target untouched. The target ``-`` is standard output (written as it comes,
never closed). A new file's mode follows the umask, like any file a shell
command creates (``mkstemp`` alone would leave it 0600); a replaced file keeps
its mode. The target's folder must exist: a typo in it is an error, not a tree
of new folders.
"""

from __future__ import annotations

import os
import sys
import tempfile
from typing import TextIO

STDOUT = "-"


def new_file_mode() -> int:
    """The mode ``open(path, "w")`` gives a new file: 0666 less the umask."""
    mask = os.umask(0o022)  # the only portable way to read it; set back at once
    os.umask(mask)
    return 0o666 & ~mask


class AtomicTextFile:
    def __init__(self, target: str, *, newline: str | None = None) -> None:
        self.committed = False
        if target == STDOUT:
            self.target, self.temp_path = STDOUT, ""
            self.stream: TextIO = sys.stdout
            return
        self.target = os.path.abspath(target)
        directory = os.path.dirname(self.target)
        if not os.path.isdir(directory):
            raise FileNotFoundError(f"no folder {directory} for {target}")
        try:
            mode = os.stat(self.target).st_mode & 0o7777
        except OSError:
            mode = new_file_mode()
        fd, self.temp_path = tempfile.mkstemp(prefix=f".{os.path.basename(self.target)}.", suffix=".tmp", dir=directory)
        os.fchmod(fd, mode)
        self.stream = os.fdopen(fd, "w", encoding="utf-8", newline=newline)

    def commit(self) -> None:
        if self.committed:
            return
        if self.target == STDOUT:
            self.stream.flush()
            self.committed = True
            return
        self.stream.flush()
        os.fsync(self.stream.fileno())
        self.stream.close()
        os.replace(self.temp_path, self.target)
        self.committed = True
        fsync_directory(os.path.dirname(self.target))

    def discard(self) -> None:
        if not self.committed and self.target != STDOUT:
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
