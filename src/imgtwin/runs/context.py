"""What every run is handed by its caller: how to stop it, where it shows itself and where its metrics go."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from rich.console import Console

from imgtwin.interfaces import ProgressReporter
from imgtwin.reporting.composite import NullReporter
from imgtwin.reporting.console import ConsoleProgressReporter


def _silent() -> Console:
    return Console(file=io.StringIO())


@dataclass(frozen=True)
class RunContext:
    """One cancel token, one console and its choice of output, one metrics sink, passed down unchanged.

    ``cancel``: set it (the CLI's first Ctrl-C, the review page's Stop) to stop
    the scan after the files in flight; what was done is kept. ``console``: its
    messages and progress (silent by default, as the Python API is);
    ``quiet``: nothing is shown on it; ``progress``: a progress bar, not only
    messages. ``metrics``: the sink of the scan's metrics (``serve_metrics``:
    the caller that owns the process starts the endpoint). ``reporter``: gets
    every progress event besides the console's (the review app's page).
    """

    cancel: threading.Event = field(default_factory=threading.Event)
    console: Console = field(default_factory=_silent)
    reporter: ProgressReporter | None = None
    quiet: bool = True
    progress: bool = False
    metrics: ProgressReporter | None = None

    @property
    def shows_progress(self) -> bool:
        """A progress bar is drawn (so the engine counts the files first)."""
        return self.progress and not self.quiet

    def pass_reporter(self, description: str) -> ProgressReporter:
        """What a pass over listed files (the deep pass, the candidates' pictures) shows: its bar, unless quiet."""
        if self.quiet:
            return NullReporter()
        return ConsoleProgressReporter(self.console, show_progress=self.progress, description=description)


@contextmanager
def serve_metrics(port: int | None, host: str, console: Console, *, quiet: bool = False
                  ) -> Iterator[ProgressReporter | None]:
    """The Prometheus endpoint for a run (None without a ``port``; 0: any free port), closed after it.

    Started by whoever owns the process (the CLI), before the run makes
    anything: a port in use stops the command having made nothing.
    """
    if port is None:
        yield None
        return
    from imgtwin.reporting.metrics import MetricsReporter  # prometheus_client only when asked for

    metrics = MetricsReporter()
    bound = metrics.serve(port, host)
    try:
        if not quiet:
            console.print(f"Metrics: http://{host}:{bound}/metrics", highlight=False)
        yield metrics
    finally:
        metrics.close()
