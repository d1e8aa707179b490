"""What every worker pool promises, and how a worker keeps decoder noise to itself.

Apart from the pools themselves so that the pipeline, the factory and the
command line can name the contract without importing a process pool.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import warnings
from typing import Any, Protocol

from imgtwin.processing.channels import Channel
from imgtwin.processing.task import Task


class WorkerStartupError(RuntimeError):
    """Worker processes die before finishing any file: a broken set-up, not bad files."""


class WorkerPool(Protocol):
    """Consumes the work channel until END (or cancel), then sends END on."""

    def run(self, work: Channel, results: Channel, cancel: threading.Event) -> None: ...


def quiet_decoder_warnings() -> None:
    """Pillow warns on corrupt EXIF and large images; we report per file instead."""
    warnings.filterwarnings("ignore", module=r"PIL\..*")
    warnings.filterwarnings("ignore", category=UserWarning, message=r".*(EXIF|exif|APNG|Truncated).*")
    from PIL import Image

    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


def silence_native_stderr() -> None:
    """libtiff and friends print warnings straight to file descriptor 2.

    In a worker process they would scribble over the progress bar; every
    problem that matters reaches the user as the file's error instead. Set
    IMGTWIN_DEBUG=1 to keep them.
    """
    if os.environ.get("IMGTWIN_DEBUG"):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)


def preload_modules(task: Task[Any, Any]) -> list[str]:
    """The modules a worker needs to run ``task`` (its class's and its fields'), for the fork server to import once.

    Every worker is forked from the fork server: with these already imported there (numpy, Pillow,
    imgtwin's loaders and hashers), a pool starts in ~50 ms instead of ~750 ms, and a ``find`` starts
    three (the scan, the candidates' decode, the keeper's checks). ``__main__`` is never preloaded: a
    script without a main guard would run again (``processing.mainless``).
    """
    names = {type(task).__module__}
    if dataclasses.is_dataclass(task):
        names |= {type(getattr(task, f.name)).__module__ for f in dataclasses.fields(task)}
    return sorted(n for n in names if n not in ("__main__", "__mp_main__", "builtins"))
