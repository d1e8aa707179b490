"""``imgtwin scan``: hash every image under the folders into the index."""

from __future__ import annotations

import sys
import threading

import click

from imgtwin.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SOME_FAILED,
    err_console,
    fatal_errors,
    stop_on_first_interrupt,
    wrote,
)
from imgtwin.cli.flags import (
    SchedulerType,
    check_outputs,
    db_option,
    examples,
    filter_options,
    metrics_options,
    no_progress_option,
    with_fields,
    workers_option,
    workers_settings,
)
from imgtwin.options import ScanOptions
from imgtwin.processing.discovery import check_roots
from imgtwin.processing.pool_contract import quiet_decoder_warnings
from imgtwin.records import ProcessingSummary
from imgtwin.reporting.text import counted
from imgtwin.runs.context import RunContext, serve_metrics
from imgtwin.runs.scan import ScanSettings, default_db_path, run_scan

DEFAULTS = ScanOptions()  # the options' defaults live there, shared with the API


def _summary_line(summary: ProcessingSummary, db_path: str) -> str:
    state = "Stopped" if summary.cancelled else "Done"
    seconds = summary.total_processing_time_ms / 1000
    notes = []
    read = summary.processed_files + summary.error_count  # what ``reused`` and ``copies`` are parts of
    if summary.reused:
        part = f"all {read}" if summary.reused == read else f"{summary.reused} of these {read}"
        notes.append(f"{part} known to the index, not read again")
    if summary.copies:
        copies = "byte copy of another file" if summary.copies == 1 else "byte copies of other files"
        notes.append(f"{summary.copies} {copies}, not decoded")
    if summary.previews:
        notes.append(f"{summary.previews} answered by their embedded previews")
    reused = f" ({'; '.join(notes)})" if notes else ""
    return (
        f"{state}: {summary.processed_files} hashed, {counted(summary.error_count, 'error')}{reused}, "
        f"{summary.skipped} skipped in {seconds:.1f} s "
        f"({summary.throughput:.1f} images/s, {summary.bytes_read / 1e6:.1f} MB read). Index: {db_path}"
    )


@click.command(epilog=examples(
    "imgtwin scan ~/Pictures --db photos.db",
    "imgtwin scan ~/Pictures /mnt/backup --exclude '*/.thumbnails/*' --ext jpg,heic --workers auto",
    "imgtwin scan ~/Pictures --format json --output - | jq '.files | length'",
))
@click.argument("dirs", nargs=-1, required=True, type=click.Path(path_type=str))
@db_option("SQLite index to update")
@click.option("--format", "output_format", type=click.Choice(["json", "csv"]), default=None,
              help="Also write the results to --output in this format.")
@click.option("--output", "output_path", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="File for --format (replaced atomically when the scan ends); - = stdout (the summary goes to "
                   "stderr).")
@workers_option
@click.option("--batch-size", type=click.IntRange(min=1), default=DEFAULTS.batch_size, show_default=True,
              help="Results written per transaction, at least (a transaction also spans --commit-seconds).")
@click.option("--commit-seconds", type=click.FloatRange(min=0), default=DEFAULTS.commit_seconds, show_default=True,
              help="Seconds a transaction spans, at least: what a kill may lose, and a rescan redoes.")
@click.option("--buffer", type=click.IntRange(min=1), default=DEFAULTS.buffer, show_default=True,
              help="Capacity of the work and result queues (back-pressure).")
@click.option("--executor", type=click.Choice(["process", "thread"]), default=DEFAULTS.executor, show_default=True,
              help="Worker processes (crash- and hang-proof) or threads.")
@click.option("--timeout", "file_timeout", type=click.FloatRange(min=0.1), default=DEFAULTS.file_timeout, show_default=True,
              help="Seconds one file may take before its worker is stopped (process executor).")
@click.option("--hidden/--no-hidden", "include_hidden", default=DEFAULTS.include_hidden, show_default=True,
              help="Include files and folders whose names start with a dot.")
@click.option("--follow-symlinks/--no-follow-symlinks", default=DEFAULTS.follow_symlinks, show_default=True,
              help="Follow symbolic links to files and folders (loops are detected).")
@click.option("--memory-limit", "worker_memory_mb", type=click.IntRange(min=0), default=DEFAULTS.worker_memory_mb, show_default=True,
              help="MiB of memory each worker process may add while decoding (process executor); 0 = no limit.")
@click.option("--log", "log_path", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Append a timestamped log of the run, every error included, to this file.")
@no_progress_option
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but fatal errors; the exit code tells the rest.")
@click.option("--scheduler", type=SchedulerType(), default=None, metavar="tcp://HOST:PORT|local:N",
              help="Decode on a Dask cluster (pip install 'imgtwin[distributed]'): its scheduler's address, "
                   "or local:N for N local worker processes for this run. Workers must see the files at the same "
                   "absolute paths; --workers, --executor, --timeout and --memory-limit do not apply.")
@click.option("--deep", is_flag=True,
              help="Also compute the local features `find --deep` matches on, for the files that lack them "
                   "(one more decode per image; see the README).")
@filter_options
@metrics_options
def scan(
    dirs: tuple[str, ...],
    db_path: str | None,
    output_format: str | None,
    output_path: str | None,
    workers: int | str,
    batch_size: int,
    commit_seconds: float,
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
    options: ScanOptions,
) -> None:
    """Hash every image under DIRS and store the hashes in the index."""
    if (output_format is None) != (output_path is None):
        raise click.UsageError("--format and --output go together")
    to_stdout = check_outputs(output=output_path, log=log_path)
    if scheduler is not None and workers == "auto":
        raise click.UsageError("--workers auto does not apply with --scheduler (the cluster sets its workers)")
    options = with_fields(
        options, batch_size=batch_size, commit_seconds=commit_seconds, buffer=buffer, executor=executor, file_timeout=file_timeout,
        include_hidden=include_hidden, follow_symlinks=follow_symlinks, worker_memory_mb=worker_memory_mb,
        scheduler=scheduler, **workers_settings(workers, executor),
    )
    settings = ScanSettings.of(
        dirs, db_path or default_db_path(), options, output_format=output_format, output_path=output_path,
        log_path=log_path,
    )
    console = err_console()
    quiet_decoder_warnings()
    cancel = threading.Event()
    with fatal_errors(console, settings.db_path), stop_on_first_interrupt(cancel, console):
        check_roots(settings.roots)  # a missing folder is named before a metrics port in use
        with serve_metrics(metrics_port, metrics_host, console, quiet=quiet) as metrics:
            run = RunContext(cancel, console, quiet=quiet, progress=not no_progress, metrics=metrics)
            summary = run_scan(settings, run)
        local = None
        if deep and not summary.cancelled:
            from imgtwin.runs.deep import compute_local_features

            local = compute_local_features(settings, run)
    if not quiet:
        click.echo(_summary_line(summary, settings.db_path), err=to_stdout)
        if local is not None:
            click.echo(err=to_stdout, message=f"Local features: {local.stored} computed, {local.failed} failed, "
                       f"{local.needed - local.stored - local.failed} not reached.")
        wrote(console, f"the results as {output_format}", output_path)
        wrote(console, "the log", log_path, verb="Appended")
    if summary.cancelled:
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(EXIT_SOME_FAILED if summary.error_count else EXIT_OK)


