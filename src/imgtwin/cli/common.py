"""What every command shares: exit codes, one-line fatal errors, Ctrl-C, and what the click context injects.

Exit codes: 0 success; 1 some files could not be read (or, for dedupe and
undo, some file was skipped or failed); 2 usage or fatal error; 130 stopped
by Ctrl-C (work done so far is kept). ``find --exit-code`` adds 3.

Tests may pass ``main(obj={"console": Console(...), "fileops": FileOps})``:
the commands print their messages to that console and act through those file
operations, so output can be compared byte for byte and faults injected.
"""

from __future__ import annotations

import signal
import sqlite3
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.markup import escape

from imgtwin.persistence.index import IndexChangedError
from imgtwin.persistence.lock import IndexBusyError
from imgtwin.persistence.sqlite import IndexDamagedError, IndexVersionError, damaged
from imgtwin.processing.distributed import DistributedSetupError
from imgtwin.processing.pool_contract import WorkerStartupError
from imgtwin.reporting.metrics import MetricsServerError

EXIT_OK, EXIT_SOME_FAILED, EXIT_FATAL, EXIT_INTERRUPTED = 0, 1, 2, 130


@contextmanager
def stop_on_first_interrupt(cancel: threading.Event, console: Console) -> Iterator[None]:
    """First Ctrl-C asks for a clean stop; a second one aborts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        console.print("[yellow]Stopping: finishing files in flight and saving (Ctrl-C again to abort)...[/]")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def fail(console: Console, message: str) -> NoReturn:
    """A fatal error a person can act on: one line, no traceback, exit 2."""
    # escape: messages are plain text, and "[x]" in a path or a hint is not markup
    console.print(f"[bold red]imgtwin: error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    sys.exit(EXIT_FATAL)


@contextmanager
def fatal_errors(console: Console, db_path: str) -> Iterator[None]:
    """Expected fatal conditions as one-line messages and exit codes, never tracebacks."""
    try:
        yield
    except (FileNotFoundError, NotADirectoryError, IndexVersionError, IndexBusyError, IndexDamagedError,
            IndexChangedError, PermissionError, WorkerStartupError, MetricsServerError, DistributedSetupError) as exc:
        fail(console, str(exc))
    except sqlite3.OperationalError as exc:
        fail(console, f"cannot use the index {db_path}: {exc}")
    except sqlite3.DatabaseError as exc:  # corrupt pages found by a query after the index opened fine
        fail(console, str(damaged(db_path, exc)))
    except KeyboardInterrupt:
        console.print("[bold red]imgtwin: aborted[/]")
        sys.exit(EXIT_INTERRUPTED)




def wrote(console: Console, what: str, path: str | None, *, verb: str = "Wrote") -> None:
    """One line saying where a file a command wrote went (stderr: stdout may carry a document); none for stdout."""
    if path and path != "-":
        console.print(f"{verb} {what} to {escape(path)}", highlight=False, soft_wrap=True)


def injected(name: str) -> Any:
    """``obj[name]`` of the root click context, if a caller (a test) put it there, else None."""
    context = click.get_current_context(silent=True)
    obj = context.find_root().obj if context is not None else None
    return obj.get(name) if isinstance(obj, dict) else None


def err_console() -> Console:
    """The console for progress, warnings and errors (stderr), unless one was injected."""
    console = injected("console")
    return console if isinstance(console, Console) else Console(stderr=True)
