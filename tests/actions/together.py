"""``imgtwin`` (file operations slowed as in ``slow_dedupe.py``) that starts only once a file appears.

Two of these, started and then released at the same instant, act on the same
files at the same time: the scenario of issue 21.

Usage: python together.py GO_FILE DELAY_SECONDS imgtwin-args...
"""

from __future__ import annotations

import os
import sys
import time

from slow_dedupe import SlowFileOps  # beside this script, which runs as one

from imgtwin.cli import main

if __name__ == "__main__":
    go = sys.argv[1]
    open(f"{go}.{os.getpid()}.ready", "w").close()
    deadline = time.monotonic() + 60
    while not os.path.exists(go) and time.monotonic() < deadline:
        time.sleep(0.001)
    main(args=sys.argv[3:], obj={"fileops": SlowFileOps(float(sys.argv[2]))}, prog_name="imgtwin")
