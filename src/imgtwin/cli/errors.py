"""``imgtwin errors``: the files a scan could not read, from the index.

Failures are data: every one is stored with its reason code and message, so
they can be listed, filtered and fed to scripts long after the scan's console
output is gone. Only the failed rows are read (an index of a million files
lists its ten failures at once).
"""

from __future__ import annotations

import json
import os
from typing import Any

import click

from imgtwin.cli.common import err_console, fail, fatal_errors
from imgtwin.cli.flags import db_option, examples
from imgtwin.persistence.index import FailedFile, HashIndex
from imgtwin.persistence.location import default_db_path
from imgtwin.persistence.rows import text_path
from imgtwin.records import ErrorReason
from imgtwin.reporting.text import printable


def _as_json(failed: FailedFile) -> dict[str, Any]:
    return {
        "path": text_path(failed.path),
        "reason": failed.reason,
        "message": failed.message,
        "size": failed.size,
        "mtime": round(failed.mtime_ns / 1e9, 6),
    }


@click.command("errors", epilog=examples(
    "imgtwin errors --db photos.db",
    "imgtwin errors --db photos.db --reason timeout --json",
))
@db_option("SQLite index to read")
@click.option("--reason", type=click.Choice([r.value for r in ErrorReason]), default=None,
              help="Only files that failed for this reason.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document (a list of objects) instead of lines.")
def errors(db_path: str | None, reason: str | None, as_json: bool) -> None:
    """List the files the last scans could not read, with reason and message.

    One line per file, "PATH: REASON: MESSAGE" (control characters in names
    escaped), or with --json a list of {path, reason, message, size, mtime}.
    The count goes to stderr, so stdout holds only the list.
    """
    path = db_path or default_db_path()
    console = err_console()
    if not os.path.isfile(path):
        fail(console, f"no index at {path}; run `imgtwin scan` first or pass --db")
    count = 0
    with fatal_errors(console, path), HashIndex(path, readonly=True) as index:
        index.check()  # only the failed rows are read: damaged pages elsewhere would go unseen
        if as_json:
            click.echo("[", nl=False)
            for failed in index.failures(reason):
                click.echo(("," if count else "") + "\n " + json.dumps(_as_json(failed)), nl=False)
                count += 1
            click.echo("\n]" if count else "]")
        else:
            for failed in index.failures(reason):
                click.echo(f"{printable(failed.path)}: {failed.reason}: {printable(failed.message)}")
                count += 1
    click.echo(f"{count} file(s) could not be read" + (f" ({reason})" if reason else ""), err=True)
