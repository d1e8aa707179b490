"""``imgtwin review``: scan, then review, apply and undo in the browser, on this machine."""

from __future__ import annotations

import sys
import threading
import webbrowser

import click

from imgtwin.cli.common import EXIT_OK, err_console, fail, fatal_errors
from imgtwin.cli.flags import (
    db_option,
    examples,
    filter_options,
    selection_options,
    with_fields,
    workers_option,
    workers_settings,
)
from imgtwin.options import MatchOptions, ScanOptions
from imgtwin.persistence.location import default_db_path


@click.command(epilog=examples(
    "imgtwin review ~/Pictures --db photos.db",
    "imgtwin review ~/Pictures --similarity high --no-browser",
))
@click.argument("dirs", nargs=-1, required=True, type=click.Path(path_type=str))
@db_option("SQLite index to scan into and group from")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but a loopback address exposes your photos, and the power "
                   "to trash them, to whoever can reach this machine and learns the token.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port to listen on; 0 = a free port.")
@click.option("--no-browser", is_flag=True, help="Print the address but do not open a browser.")
@selection_options
@filter_options
@workers_option
def review(dirs: tuple[str, ...], db_path: str | None, host: str, port: int, no_browser: bool,
           workers: int | str, match: MatchOptions, options: ScanOptions) -> None:
    """Review duplicates under DIRS in the browser: live scan, compare, then apply and undo.

    Starts a local server (127.0.0.1 by default), prints its address with a
    one-time token and opens it. The page scans DIRS, shows the groups, and
    trashes, moves or links the files you choose, with the same checks and
    journal as `imgtwin dedupe --yes`; every run can be undone from the page.
    Ctrl-C stops the server (a scan or apply in progress stops cleanly first).
    """
    from imgtwin.processing.discovery import check_roots
    from imgtwin.review import review_server

    console = err_console()
    db = db_path or default_db_path()
    with fatal_errors(console, db):
        check_roots(dirs)
        try:
            server = review_server(dirs, db, match, with_fields(options, **workers_settings(workers)), host=host,
                                   port=port)
        except OSError as exc:
            fail(console, f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    if not server.loopback:
        console.print(f"[bold yellow]Warning:[/] listening on {host}, not on this machine only: anyone who can "
                      "reach it and learns the token can see these photos and trash them.", highlight=False)
    click.echo(f"Review: {server.url}")
    sys.stdout.flush()  # scripts read the address from a pipe
    console.print("Press Ctrl-C to stop.", highlight=False)
    if not no_browser:
        threading.Thread(target=webbrowser.open, args=(server.url,), daemon=True).start()
    server.run()
    console.print("Stopped.", highlight=False)
    sys.exit(EXIT_OK)
