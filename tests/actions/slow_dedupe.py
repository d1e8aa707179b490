"""``imgtwin`` with every file operation slowed down, so a test can kill it mid-run.

Usage: python slow_dedupe.py DELAY_SECONDS imgtwin-args...
"""

from __future__ import annotations

import sys
import time

from imgtwin.actions.fileops import RealFileOps, TrashedFile
from imgtwin.cli import main


class SlowFileOps(RealFileOps):
    """Sleeps before each change: a slow disk, widening every window between steps."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    def link(self, src: str, dst: str) -> None:
        time.sleep(self.delay)
        super().link(src, dst)

    def symlink(self, target: str, dst: str) -> None:
        time.sleep(self.delay)
        super().symlink(target, dst)

    def rename(self, src: str, dst: str) -> None:
        time.sleep(self.delay)
        super().rename(src, dst)

    def unlink(self, path: str) -> None:
        time.sleep(self.delay)
        super().unlink(path)

    def trash(self, path: str, original: str, tag: str) -> TrashedFile:
        time.sleep(self.delay)
        return super().trash(path, original, tag)


if __name__ == "__main__":
    main(args=sys.argv[2:], obj={"fileops": SlowFileOps(float(sys.argv[1]))}, prog_name="imgtwin")
