"""``imgtwin find``: scan, then report exact and near-duplicate groups."""

from __future__ import annotations

import os
import sys
import threading

import click
from rich.console import Console

from imgtwin.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SOME_FAILED,
    err_console,
    fail,
    fatal_errors,
    stop_on_first_interrupt,
    wrote,
)
from imgtwin.cli.flags import (
    check_outputs,
    db_option,
    examples,
    filter_options,
    metrics_options,
    no_progress_option,
    selection_options,
    thumbnail_workers,
    with_fields,
    workers_option,
    workers_settings,
)
from imgtwin.options import MatchOptions, ScanOptions
from imgtwin.persistence.location import default_db_path
from imgtwin.processing.discovery import check_roots
from imgtwin.reporting.groups import print_groups, write_csv, write_json
from imgtwin.runs.context import RunContext, serve_metrics
from imgtwin.runs.find import FindResult, find_duplicates

EXIT_DUPLICATES = 3  # --exit-code: duplicates found (0, 1, 2 and 130 mean what they mean for every command)


def views_line(result: FindResult) -> str | None:
    """How the files were read: from their previews, their pictures, the index (where previews took part)."""
    scan, candidates = result.scan, result.candidates
    previews = scan.previews if scan is not None else 0
    if not previews and candidates is None:
        return None
    decoded = candidates.processed_files + candidates.error_count if candidates is not None else 0
    known = f", {scan.reused} known to the index" if scan is not None and scan.reused else ""
    return f"{previews} file(s) answered by their previews{known}; {decoded} candidate(s) decoded."


@click.command(epilog=examples(
    "imgtwin find ~/Pictures --db photos.db",
    "imgtwin find ~/Pictures --similarity high --exclude '*/Trash/*' --json groups.json",
    "imgtwin find --db photos.db --json - | jq '.groups | length'      # the whole index, no scan",
))
@click.argument("dirs", nargs=-1, type=click.Path(path_type=str))
@db_option("SQLite index", " Alone (no DIRS): compare everything the index holds.")
@selection_options
@filter_options
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Write the groups as JSON (schema in the README); - = stdout (the table goes to stderr).")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Write one CSV row per group member; - = stdout (the table goes to stderr).")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Write an HTML review page (thumbnails in a folder beside it); see `imgtwin report`.")
@click.option("--show-decided", is_flag=True,
              help="Also list the groups that remembered \"not duplicates\" decisions split (`imgtwin mark`), as "
                   "they would be without them; never acted on.")
@workers_option
@no_progress_option
@click.option("-q", "--quiet", is_flag=True, help="No table and no progress; files and exit code only.")
@click.option("--exit-code", "duplicates_exit", is_flag=True,
              help=f"Exit with {EXIT_DUPLICATES} when duplicates were found (groups that are not all reference "
                   "files), for scripts: `imgtwin find DIR --exit-code -q || echo found`.")
@metrics_options
def find(
    dirs: tuple[str, ...],
    db_path: str | None,
    match: MatchOptions,
    options: ScanOptions,
    json_path: str | None,
    csv_path: str | None,
    html_path: str | None,
    show_decided: bool,
    workers: int | str,
    no_progress: bool,
    quiet: bool,
    duplicates_exit: bool,
    metrics_port: int | None,
    metrics_host: str,
) -> None:
    """Group exact and near-duplicate images under DIRS (scanning them first)."""
    to_stdout = check_outputs(json=json_path, csv=csv_path, html=html_path)
    console = err_console()
    db = db_path or default_db_path()
    if not dirs and not os.path.isfile(db):
        fail(console, f"no index at {db}: give folders to scan, or --db with an existing index")
    cancel = threading.Event()
    options = with_fields(options, **workers_settings(workers))
    with fatal_errors(console, db), stop_on_first_interrupt(cancel, console):
        check_roots(dirs)  # a missing folder is named before a metrics port in use
        with serve_metrics(metrics_port, metrics_host, console, quiet=quiet) as metrics:
            run = RunContext(cancel, console, quiet=quiet, progress=not no_progress, metrics=metrics)
            result = find_duplicates(dirs, db_path=db, match=match, options=options, run=run)
    if result.cancelled:
        console.print("[yellow]Scan stopped: groups below cover the files hashed so far.[/]")
    document = result.document(show_decided=show_decided)
    if json_path:
        write_json(json_path, document)
    if csv_path:
        write_csv(csv_path, result.groups)
    if html_path:
        from imgtwin.reporting.html import write_html_report

        written = write_html_report(html_path, document, source=f"imgtwin find {' '.join(dirs)}",
                                   workers=thumbnail_workers(workers))
    if not quiet:
        print_groups(console if to_stdout else Console(), result.groups, result.errors, result.decided,
                     result.decided_files, show_decided)
        if result.stale:
            console.print(f"[yellow]{result.stale} indexed file(s) were hashed by another imgtwin version and "
                          "were not compared: scan their folders again.[/]")
        if (views := views_line(result)) is not None:
            console.print(views, style="dim", highlight=False)
        wrote(console, "the groups as JSON", json_path)
        wrote(console, "the groups as CSV", csv_path)
        if html_path:
            wrote(console, f"the HTML report (thumbnails in {written.thumbnail_dir})", html_path)
    if result.cancelled:
        sys.exit(EXIT_INTERRUPTED)
    if duplicates_exit and any(not g.reference_only for g in result.groups):
        sys.exit(EXIT_DUPLICATES)
    sys.exit(EXIT_SOME_FAILED if result.errors else EXIT_OK)
