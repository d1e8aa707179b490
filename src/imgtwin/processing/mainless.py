"""Worker processes that do not run the caller's script again.

A 'spawn' or 'forkserver' child imports the parent's ``__main__`` (as
``__mp_main__``, by path or module name) before it unpickles its task, so that
functions and classes defined there can be found. A script that calls imgtwin
at its top level, without ``if __name__ == "__main__":``, would call imgtwin
again in every worker: each found the index busy and died, and every picture
was reported as ``worker_crashed``.

imgtwin's own tasks need nothing from ``__main__``. For them the child is
started while ``sys.modules["__main__"]`` is an empty module (what
``multiprocessing.spawn.get_preparation_data`` reads to tell the child which
main to import), so the child imports none. A task that does need
``__main__`` (a loader defined in the script, through ``imgtwin.engine``) is
started the usual way, and its script needs the guard as any multiprocessing
script does.
"""

from __future__ import annotations

import io
import sys
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.reduction import ForkingPickler

_swap = threading.Lock()  # one pool at a time swaps the entry


def needs_main(task: object) -> bool:
    """Whether pickling ``task`` refers to anything defined in ``__main__`` (True if it cannot be pickled:
    the usual start then reports why)."""
    found = False

    class Probe(ForkingPickler):
        def persistent_id(self, obj: object) -> None:
            nonlocal found
            found = found or getattr(obj, "__module__", None) in ("__main__", "__mp_main__")

    try:
        Probe(io.BytesIO()).dump(task)
    except Exception:  # noqa: BLE001 - any failure to pickle: leave the start to multiprocessing as it is
        return True
    return found


@contextmanager
def main_hidden(hide: bool = True) -> Iterator[None]:
    """While starting a process: children told of no main module to import (``hide``; else a no-op)."""
    if not hide:
        yield
        return
    with _swap:
        main = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")  # no __file__, no __spec__: nothing to import
        try:
            yield
        finally:
            if main is not None:
                sys.modules["__main__"] = main
