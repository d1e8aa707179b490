"""Another process at work in the library: swaps two files' names, atomically, as fast as it can.

Usage: python swapper.py PATH OTHER STOP_FILE. Each ``renameat2(RENAME_EXCHANGE)``
swaps what the two names hold, so neither file is ever lost by the swapper
itself. Writes STOP_FILE + ".ready" after its first 1,000 swaps, and the number of
swaps to STOP_FILE + ".count" when STOP_FILE appears.
"""

from __future__ import annotations

import ctypes
import os
import sys

AT_FDCWD, RENAME_EXCHANGE = -100, 2


def exchanger() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    """``renameat2`` from the C library, or None where there is none."""
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return function


def main(path: str, other: str, stop: str) -> None:
    exchange = exchanger()
    assert exchange is not None
    a, b = os.fsencode(path), os.fsencode(other)
    swaps = 0
    while swaps < 1000:  # under way before dedupe starts: the test can rely on a live race
        swaps += exchange(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) == 0
    open(stop + ".ready", "w").close()
    while True:
        for _ in range(200):
            if exchange(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) == 0:
                swaps += 1
        if os.path.exists(stop):
            break
    with open(stop + ".count", "w") as out:
        out.write(str(swaps))


if __name__ == "__main__":
    main(*sys.argv[1:4])
