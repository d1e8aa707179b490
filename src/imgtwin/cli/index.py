"""``imgtwin index info`` and ``imgtwin index prune``: look after the index."""

from __future__ import annotations

import json
import time
from dataclasses import asdict

import click
from rich.console import Console

from imgtwin.cli.common import err_console, fail, fatal_errors
from imgtwin.cli.flags import db_option, examples
from imgtwin.persistence.index import HashIndex
from imgtwin.persistence.location import default_db_path
from imgtwin.persistence.lock import IndexBusyError, IndexWriteLock
from imgtwin.persistence.rows import text_path
from imgtwin.reporting.text import counted, printable

_DB_OPTION = db_option("The index")


def _open(db_path: str | None, console: Console, *, readonly: bool) -> HashIndex:
    path = db_path or default_db_path()
    if not _exists(path):
        fail(console, f"no index at {path} (run imgtwin scan first, or pass --db)")
    with fatal_errors(console, path):
        return HashIndex(path, readonly=readonly)


def _exists(path: str) -> bool:
    import os

    return os.path.isfile(path)


def _when(stamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp))


@click.group(epilog=examples("imgtwin index info --db photos.db", "imgtwin index prune --db photos.db"))
def index() -> None:
    """Inspect and maintain the SQLite index."""


@index.command(epilog=examples("imgtwin index info --db photos.db", "imgtwin index info --db photos.db --json"))
@_DB_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the facts as JSON.")
def info(db_path: str | None, as_json: bool) -> None:
    """Files, errors, size, schema version and roots of the index."""
    console = err_console()
    with _open(db_path, console, readonly=True) as idx, fatal_errors(console, idx.db_path):
        idx.check()  # the totals come from small indexes: damaged pages elsewhere would go unseen
        facts = idx.info()
    if as_json:
        document = asdict(facts)
        document["roots"] = [{**root, "path": text_path(root["path"])} for root in document["roots"]]
        click.echo(json.dumps(document, indent=2))
        return
    click.echo(f"index:          {facts.path}")
    click.echo(f"schema version: {facts.schema_version}")
    click.echo(f"files:          {facts.files} ({facts.hashed} hashed, {counted(facts.errors, 'error')}, "
               f"{facts.vanished} vanished)")
    click.echo(f"images:         {facts.image_bytes / 1e9:.2f} GB")
    click.echo(f"index size:     {facts.index_bytes / 1e6:.1f} MB")
    click.echo("roots:" + ("" if facts.roots else "          none"))
    for root in facts.roots:
        state = "complete" if root.complete else "interrupted"
        click.echo(f"  {printable(root.path)}  (last scan {_when(root.last_scan_at)}, {state})")


@index.command(epilog=examples("imgtwin index prune --db photos.db"))
@_DB_OPTION
def prune(db_path: str | None) -> None:
    """Delete the rows of files that a scan found gone."""
    console = err_console()
    with _open(db_path, console, readonly=False) as idx, fatal_errors(console, idx.db_path):
        try:
            with IndexWriteLock(idx.db_path):
                idx.check()  # never write to a damaged file
                removed = idx.prune()
        except IndexBusyError as exc:
            fail(console, str(exc))
    click.echo(f"Removed {removed} vanished file(s) from {idx.db_path}.")
