"""``imgtwin errors``: the files a scan could not read, from the index.

Failures are data: every one is stored with its reason code and message, so
they can be listed, filtered and fed to scripts long after the scan's console
output is gone. Kept apart from ``cli.py``; ``main`` only registers it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from collections.abc import Iterator
from typing import Any, NoReturn

import click
from rich.console import Console

from imgtwin.app import DB_ENV_VAR, default_db_path
from imgtwin.persistence.sqlite import IndexVersionError, read_rows
from imgtwin.records import ErrorReason
from imgtwin.reporting.text import printable

EXIT_FATAL = 2


def failed_rows(db_path: str, reason: str | None = None) -> Iterator[dict[str, Any]]:
    """Rows of files that failed (and were not since found gone), in path order."""
    for row in read_rows(db_path):
        if row.get("error_reason") is None or row.get("vanished_at") is not None:
            continue
        if reason is None or row["error_reason"] == reason:
            yield row


def _as_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "path": row["path"],
        "reason": row["error_reason"],
        "message": row["error_message"],
        "size": row["size"],
        "mtime": round(row["mtime_ns"] / 1e9, 6),
    }


def _fatal(message: str) -> NoReturn:
    Console(stderr=True).print(f"[bold red]imgtwin: error:[/] {message}", highlight=False, soft_wrap=True)
    sys.exit(EXIT_FATAL)


@click.command("errors")
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=str), default=None,
              help=f"SQLite index to read [default: ${DB_ENV_VAR} or the user cache folder].")
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
    if not os.path.isfile(path):
        _fatal(f"no index at {path}; run `imgtwin scan` first or pass --db")
    count = 0
    try:
        if as_json:
            click.echo("[", nl=False)
            for row in failed_rows(path, reason):
                click.echo(("," if count else "") + "\n " + json.dumps(_as_json(row)), nl=False)
                count += 1
            click.echo("\n]" if count else "]")
        else:
            for row in failed_rows(path, reason):
                click.echo(f"{printable(row['path'])}: {row['error_reason']}: {printable(row['error_message'] or '')}")
                count += 1
    except IndexVersionError as exc:
        _fatal(str(exc))
    except sqlite3.DatabaseError as exc:
        _fatal(f"cannot read the index {path}: {exc}")
    click.echo(f"{count} file(s) could not be read" + (f" ({reason})" if reason else ""), err=True)
