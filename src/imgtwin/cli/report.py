"""``imgtwin report``: an HTML review page from a ``find --json`` file or from the index.

From the index it groups exactly as ``find`` does but never scans, so a page
can be made (again) in seconds from what an earlier scan stored.
"""

from __future__ import annotations

import os
import sys
import time

import click

from imgtwin.cli.common import EXIT_OK, err_console, fail, fatal_errors
from imgtwin.cli.flags import (
    check_outputs,
    db_option,
    examples,
    filter_options,
    given_here,
    selection_options,
    thumbnail_workers,
    workers_option,
)
from imgtwin.options import MatchOptions, ScanOptions
from imgtwin.persistence.location import default_db_path
from imgtwin.reporting.html import HtmlReport, ReportInputError, load_find_json, write_html_report
from imgtwin.runs.find import find_duplicates


def _summary_line(report: HtmlReport, seconds: float) -> str:
    """``seconds``: the whole command (grouping included), not only the page's thumbnails."""
    t = report.thumbnails
    unreadable = f", {t.failed} unreadable (placeholders)" if t.failed else ""
    return (
        f"Report: {report.path} ({report.groups} groups, {report.files} files; thumbnails in "
        f"{report.thumbnail_dir}: {t.made} made, {t.reused} reused{unreadable}) in {seconds:.1f} s"
    )


@click.command(epilog=examples(
    "imgtwin report ~/Pictures --db photos.db --html review.html",
    "imgtwin report --from-json groups.json --html review.html",
))
@click.argument("dirs", nargs=-1, type=click.Path(path_type=str))
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=str), required=True,
              help="The page to write; thumbnails go to a folder beside it (OUT_files/).")
@click.option("--from-json", "json_path", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Read the groups from this `imgtwin find --json` file instead of the index.")
@db_option("SQLite index to group", " DIRS limit it to those folders. Nothing is scanned.")
@selection_options
@filter_options
@workers_option
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but fatal errors.")
def report(
    dirs: tuple[str, ...],
    html_path: str,
    json_path: str | None,
    db_path: str | None,
    match: MatchOptions,
    options: ScanOptions,
    workers: int | str,
    quiet: bool,
) -> None:
    """Write an HTML page to review duplicate groups in a browser (offline).

    The page shows thumbnails of every group, marks the keeper, filters and
    sorts, and exports the reviewed groups as a JSON plan in the
    `find --json` format.
    """
    if json_path and (dirs or given_here("db_path")):  # not $IMGTWIN_DB or the configuration file's
        raise click.UsageError("--from-json reads groups from the file: give no DIRS or --db with it")
    started = time.perf_counter()
    check_outputs(html=html_path)
    console = err_console()
    db = db_path or default_db_path()
    with fatal_errors(console, db):
        if json_path:
            try:
                document = load_find_json(json_path)
            except ReportInputError as exc:
                fail(console, str(exc))
            source = f"From {os.path.abspath(json_path)}"
        else:
            if not os.path.isfile(db):
                fail(console, f"no index at {db}: run `imgtwin scan` first, or give --db or --from-json")
            result = find_duplicates(dirs, db_path=db, match=match, options=options, scan=False)
            document = result.document()
            where = f" under {', '.join(dirs)}" if dirs else ""
            source = f"From the index {os.path.abspath(db)}{where} (threshold {match.bits})"
        written = write_html_report(html_path, document, source=source, workers=thumbnail_workers(workers))
    if not quiet:
        click.echo(_summary_line(written, time.perf_counter() - started))
    sys.exit(EXIT_OK)
