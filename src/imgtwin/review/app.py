"""The composition root of the review app: builds the session and its server from options."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence

from imgtwin.options import MatchOptions, ScanOptions
from imgtwin.review.catalog import FileCatalog
from imgtwin.review.events import EventHub
from imgtwin.review.finder import Finder, IndexFinder
from imgtwin.review.imaging import Pictures, picture_service
from imgtwin.review.security import new_token
from imgtwin.review.server import ReviewServer
from imgtwin.review.session import ReviewSession


def make_server(
    finder: Finder,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    db_path: str | None = None,
    token: str | None = None,
    picture_workers: int = 0,
) -> ReviewServer:
    """A bound server for ``finder``'s folders; its private folder (plans, pictures) goes with it."""
    workdir = tempfile.mkdtemp(prefix="imgtwin-review-")  # mode 0700
    try:
        session = ReviewSession(finder, EventHub(), FileCatalog(finder.roots), workdir, db_path=db_path)
        pictures = Pictures(os.path.join(workdir, "pictures"), picture_service(picture_workers))
        return ReviewServer(session, pictures, host=host, port=port, token=token or new_token(), workdir=workdir)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise


def review_server(
    roots: Sequence[str],
    db_path: str,
    match: MatchOptions | None = None,
    options: ScanOptions | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
) -> ReviewServer:
    """The server ``imgtwin review`` runs: scan ``roots`` into ``db_path`` (``options``), group with ``match``."""
    finder = IndexFinder(roots, db_path, match, options)
    return make_server(finder, host=host, port=port, db_path=db_path)
