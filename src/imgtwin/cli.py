"""The ``imgtwin`` command: a thin layer over the composition root.

Exit codes: 0 every image was hashed; 1 some files could not be read;
2 usage or fatal error; 130 stopped by Ctrl-C (work done so far is kept).
"""

from __future__ import annotations

import signal
import sqlite3
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import click
from rich.console import Console
from rich.markup import escape

from imgtwin._version import __version__
from imgtwin.app import DB_ENV_VAR, ScanSettings, default_db_path, run_scan
from imgtwin.cli_options import SchedulerType, WorkersType, metrics_options, workers_settings
from imgtwin.persistence.lock import IndexBusyError
from imgtwin.persistence.sqlite import IndexDamagedError, IndexVersionError, damaged
from imgtwin.processing.distributed import DistributedSetupError
from imgtwin.processing.workers import WorkerStartupError, quiet_decoder_warnings
from imgtwin.records import ProcessingSummary
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
            PermissionError, WorkerStartupError, MetricsServerError, DistributedSetupError) as exc:
        fail(console, str(exc))
    except sqlite3.OperationalError as exc:
        fail(console, f"cannot use the index {db_path}: {exc}")
    except sqlite3.DatabaseError as exc:  # corrupt pages found by a query after the index opened fine
        fail(console, str(damaged(db_path, exc)))
    except KeyboardInterrupt:
        console.print("[bold red]imgtwin: aborted[/]")
        sys.exit(EXIT_INTERRUPTED)


def _summary_line(summary: ProcessingSummary, db_path: str) -> str:
    state = "Stopped" if summary.cancelled else "Done"
    seconds = summary.total_processing_time_ms / 1000
    notes = []
    if summary.reused:
        notes.append(f"{summary.reused} known to the index, not read again")
    if summary.copies:
        notes.append(f"{summary.copies} byte copies of other files, not decoded")
    reused = f" ({'; '.join(notes)})" if notes else ""
    return (
        f"{state}: {summary.processed_files} hashed, {summary.error_count} errors{reused}, "
        f"{summary.skipped} skipped in {seconds:.1f} s "
        f"({summary.throughput:.1f} images/s, {summary.bytes_per_second / 1e6:.1f} MB/s). Index: {db_path}"
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="imgtwin")
def main() -> None:
    """Find duplicate and near-duplicate images in large photo collections."""


@main.command()
@click.argument("dirs", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=str), default=None,
              help=f"SQLite index to update [default: ${DB_ENV_VAR} or the user cache folder].")
@click.option("--format", "output_format", type=click.Choice(["json", "csv"]), default=None,
              help="Also write the results to --output in this format.")
@click.option("--output", "output_path", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="File for --format (replaced atomically when the scan ends).")
@click.option("--workers", type=WorkersType(), default=0, show_default=True,
              help="Parallel workers; 0 = one per CPU core; auto = adapt to throughput and load "
                   "(1 to 2 per core).")
@click.option("--batch-size", type=click.IntRange(min=1), default=50, show_default=True,
              help="Results written per transaction.")
@click.option("--buffer", type=click.IntRange(min=1), default=100, show_default=True,
              help="Capacity of the work and result queues (back-pressure).")
@click.option("--executor", type=click.Choice(["process", "thread"]), default="process", show_default=True,
              help="Worker processes (crash- and hang-proof) or threads.")
@click.option("--timeout", "file_timeout", type=click.FloatRange(min=0.1), default=30.0, show_default=True,
              help="Seconds one file may take before its worker is stopped (process executor).")
@click.option("--hidden/--no-hidden", "include_hidden", default=False, show_default=True,
              help="Include files and folders whose names start with a dot.")
@click.option("--follow-symlinks/--no-follow-symlinks", default=False, show_default=True,
              help="Follow symbolic links to files and folders (loops are detected).")
@click.option("--memory-limit", "worker_memory_mb", type=click.IntRange(min=0), default=4096, show_default=True,
              help="MiB of memory each worker process may add while decoding (process executor); 0 = no limit.")
@click.option("--log", "log_path", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Append a timestamped log of the run, every error included, to this file.")
@click.option("--no-progress", is_flag=True, help="No progress bar (errors and summary are still printed).")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but fatal errors; the exit code tells the rest.")
@click.option("--scheduler", type=SchedulerType(), default=None, metavar="tcp://HOST:PORT|local:N",
              help="Decode on a Dask cluster (pip install 'imgtwin[distributed]'): its scheduler's address, "
                   "or local:N for N local worker processes for this run. Workers must see the files at the same "
                   "absolute paths; --workers, --executor, --timeout and --memory-limit do not apply.")
@click.option("--deep", is_flag=True,
              help="Also compute the local features `find --deep` matches on, for the files that lack them "
                   "(one more decode per image; see the README).")
@metrics_options
def scan(
    dirs: tuple[str, ...],
    db_path: str | None,
    output_format: str | None,
    output_path: str | None,
    workers: int | str,
    batch_size: int,
    buffer: int,
    executor: str,
    file_timeout: float,
    include_hidden: bool,
    follow_symlinks: bool,
    worker_memory_mb: int,
    log_path: str | None,
    no_progress: bool,
    quiet: bool,
    metrics_port: int | None,
    metrics_host: str,
    scheduler: str | None,
    deep: bool,
) -> None:
    """Hash every image under DIRS and store the hashes in the index."""
    if (output_format is None) != (output_path is None):
        raise click.UsageError("--format and --output go together")
    if scheduler is not None and workers == "auto":
        raise click.UsageError("--workers auto does not apply with --scheduler (the cluster sets its workers)")
    settings = ScanSettings(
        roots=dirs,
        db_path=db_path or default_db_path(),
        output_format=output_format,  # type: ignore[arg-type]
        output_path=output_path,
        batch_size=batch_size,
        buffer=buffer,
        executor=executor,  # type: ignore[arg-type]
        file_timeout=file_timeout,
        include_hidden=include_hidden,
        follow_symlinks=follow_symlinks,
        worker_memory_mb=worker_memory_mb,
        log_path=log_path,
        progress=not no_progress,
        quiet=quiet,
        metrics_port=metrics_port,
        metrics_host=metrics_host,
        scheduler=scheduler,
        **workers_settings(workers, executor),
    )
    console = Console(stderr=True)
    quiet_decoder_warnings()
    cancel = threading.Event()
    with fatal_errors(console, settings.db_path), stop_on_first_interrupt(cancel, console):
        summary = run_scan(settings, console, cancel)
        local = None
        if deep and not summary.cancelled:
            from imgtwin.finding_deep import compute_local_features

            local = compute_local_features(settings, console, cancel)
    if not quiet:
        click.echo(_summary_line(summary, settings.db_path))
        if local is not None:
            click.echo(f"Local features: {local.stored} computed, {local.failed} failed, "
                       f"{local.needed - local.stored - local.failed} not reached.")
    if summary.cancelled:
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(EXIT_SOME_FAILED if summary.error_count else EXIT_OK)


def _register_subcommands() -> None:
    from imgtwin.cli_dedupe import dedupe, undo
    from imgtwin.cli_errors import errors
    from imgtwin.cli_find import find
    from imgtwin.cli_index import index
    from imgtwin.cli_report import report
    from imgtwin.cli_review import review

    main.add_command(find)
    main.add_command(index)
    main.add_command(errors)
    main.add_command(dedupe)
    main.add_command(undo)
    main.add_command(report)
    main.add_command(review)


_register_subcommands()
