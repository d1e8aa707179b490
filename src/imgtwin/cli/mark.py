"""``imgtwin mark``: remember that files are not duplicates, list, forget, export and import those decisions."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence

import click
from rich.console import Console

from imgtwin.cli.common import err_console, fail, fatal_errors
from imgtwin.cli.flags import db_option, examples
from imgtwin.documents import DocumentError, document_groups, load_find_document
from imgtwin.folders import document_base, resolve
from imgtwin.marking import MarkError, forget_not_duplicates, mark_not_duplicates
from imgtwin.persistence.atomic import AtomicTextFile
from imgtwin.persistence.decisions import Decision, decisions, restore
from imgtwin.persistence.decisions_file import decisions_document, read_decisions
from imgtwin.persistence.index import HashIndex
from imgtwin.persistence.location import default_db_path
from imgtwin.reporting.text import printable

_DB = db_option("The index that keeps the decisions")
_ONLY = click.option("--only", "only", multiple=True, type=click.Path(dir_okay=False, path_type=str),
                     help="Set only this file (repeatable) apart from the others, which stay duplicates of each "
                          "other; by default every file is set apart from every other.")
_GROUP = click.option("--group", "group", type=(click.Path(dir_okay=False, path_type=str), int), default=None,
                      metavar="FIND_JSON ID", help="The files of group ID of a `find --json` document.")


def _files(paths: tuple[str, ...], group: tuple[str, int] | None) -> list[str]:
    """The files named, and those of the document's group; MarkError if there are none."""
    files = list(paths)
    if group is not None:
        document_path, group_id = group
        try:
            document = load_find_document(document_path)
            base = document_base(document)
        except (DocumentError, ValueError) as exc:
            raise MarkError(str(exc)) from None
        found = [g for g in document_groups(document) if g.id == group_id and g.listed]
        if not found:
            raise MarkError(f"{document_path} has no group {group_id}")
        files += [resolve(m.path, base) for m in found[0].members]
    if not files:
        raise MarkError("name the files (or --group FIND_JSON ID)")
    return files


def _existing_db(db_path: str | None, console: Console) -> str:
    path = db_path or default_db_path()
    if not os.path.isfile(path):
        fail(console, f"no index at {path} (run imgtwin scan first, or pass --db)")
    return path


@click.group(epilog=examples(
    "imgtwin mark not-duplicates a.jpg b.jpg --db photos.db",
    "imgtwin mark list --db photos.db",
    "imgtwin mark export decisions.json --db photos.db",
))
def mark() -> None:
    """Remember that pictures are not duplicates: find, report, review and dedupe never group them again.

    Decisions are kept in the index by the files' contents: a moved, renamed or copied
    file keeps them; a file whose bytes change is compared again.
    """


@mark.command("not-duplicates", epilog=examples(
    "imgtwin mark not-duplicates beach1.jpg beach2.jpg --db photos.db",
    "imgtwin mark not-duplicates --group groups.json 3 --db photos.db",
    "imgtwin mark not-duplicates --group groups.json 3 --only photos/b.jpg --db photos.db",
))
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@_GROUP
@_ONLY
@_DB
def not_duplicates(paths: tuple[str, ...], group: tuple[str, int] | None, only: tuple[str, ...],
                   db_path: str | None) -> None:
    """Remember that the files PATHS are not duplicates of each other."""
    console = err_console()
    db = db_path or default_db_path()
    with fatal_errors(console, db):
        try:
            count, new = mark_not_duplicates(db, _files(paths, group), only)
        except MarkError as exc:
            fail(console, str(exc))
    click.echo(f"Remembered {count} pair(s) as not duplicates ({new} new) in {db}.")


@mark.command("forget", epilog=examples(
    "imgtwin mark forget beach1.jpg beach2.jpg --db photos.db",
    "imgtwin mark forget --all --db photos.db",
))
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@_GROUP
@_ONLY
@click.option("--all", "forget_all", is_flag=True, help="Forget every decision of the index.")
@_DB
def forget(paths: tuple[str, ...], group: tuple[str, int] | None, only: tuple[str, ...], forget_all: bool,
           db_path: str | None) -> None:
    """Forget that the files PATHS are not duplicates: find may group them again."""
    console = err_console()
    if forget_all and (paths or group or only):
        fail(console, "--all forgets every decision: give no files with it")
    db = _existing_db(db_path, console)
    with fatal_errors(console, db):
        try:
            removed = forget_not_duplicates(db, None if forget_all else _files(paths, group), only)
        except MarkError as exc:
            fail(console, str(exc))
    click.echo(f"Forgot {removed} decision(s) in {db}.")


def _listed(paths: Sequence[str]) -> str:
    if not paths:
        return "(no file of the index holds it now)"
    return printable(paths[0]) + (f" (+{len(paths) - 1} more)" if len(paths) > 1 else "")


def _read(db: str, console: Console) -> list[Decision]:
    with fatal_errors(console, db), HashIndex(db, readonly=True) as index:
        return decisions(index.conn)


@mark.command("list", epilog=examples("imgtwin mark list --db photos.db", "imgtwin mark list --json --db photos.db"))
@click.option("--json", "as_json", is_flag=True, help="Print the decisions as JSON (the `mark export` document).")
@_DB
def list_(as_json: bool, db_path: str | None) -> None:
    """The remembered decisions, oldest first, with the files that hold each content now."""
    console = err_console()
    db = _existing_db(db_path, console)
    found = _read(db, console)
    if as_json:
        click.echo(json.dumps(decisions_document(found), ensure_ascii=False, indent=1))
        return
    for d in found:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(d.decided_at))
        other = "copies of the same bytes" if d.hash_a == d.hash_b else _listed(d.paths_b)
        click.echo(f"{when}  {_listed(d.paths_a)}  ≠  {other}")
    click.echo(f"{len(found)} decision(s) in {db}", err=True)


@mark.command("export", epilog=examples("imgtwin mark export decisions.json --db photos.db"))
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
@_DB
def export(file: str, db_path: str | None) -> None:
    """Write every decision to FILE (JSON), to import into another index."""
    console = err_console()
    db = _existing_db(db_path, console)
    found = _read(db, console)
    with fatal_errors(console, db):
        out = AtomicTextFile(file)
        try:
            json.dump(decisions_document(found), out.stream, ensure_ascii=False, indent=1)
            out.stream.write("\n")
            out.commit()
        finally:
            out.discard()
    where = "stdout" if file == "-" else os.path.abspath(file)
    click.echo(f"Wrote {len(found)} decision(s) to {where}.", err=file == "-")


@mark.command("import", epilog=examples("imgtwin mark import decisions.json --db photos.db"))
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
@_DB
def import_(file: str, db_path: str | None) -> None:
    """Add the decisions of FILE (written by `imgtwin mark export`) to the index, creating it if needed."""
    console = err_console()
    db = db_path or default_db_path()
    try:
        entries = read_decisions(file)
    except DocumentError as exc:
        fail(console, str(exc))
    with fatal_errors(console, db), HashIndex(db) as index:
        new = restore(index.conn, entries)
    click.echo(f"Imported {len(entries)} decision(s) from {file} into {db} ({new} new).")
