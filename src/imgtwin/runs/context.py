"""What every run is handed by its caller: how to stop it and where it shows itself."""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field

from rich.console import Console

from imgtwin.interfaces import ProgressReporter


def _silent() -> Console:
    return Console(file=io.StringIO())


@dataclass(frozen=True)
class RunContext:
    """One cancel token, one console and (optionally) one more progress reporter, passed down unchanged.

    ``cancel``: set it (the CLI's first Ctrl-C, the review page's Stop) to stop
    the scan after the files in flight; what was done is kept. ``console``: its
    messages and progress (silent by default, as the Python API is).
    ``reporter``: gets every progress event besides the console's (the review
    app's page).
    """

    cancel: threading.Event = field(default_factory=threading.Event)
    console: Console = field(default_factory=_silent)
    reporter: ProgressReporter | None = None
