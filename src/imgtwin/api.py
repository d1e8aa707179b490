"""The library's front door: ``scan``, ``find_duplicates`` and ``Index``, with settings as ``ScanOptions``/``MatchOptions``;
``mark_not_duplicates`` for the decisions ``find_duplicates`` honours.

Paths are expanded (``~``) as a shell would; ``db`` defaults to the same index
the command line uses (``$IMGTWIN_DB`` or the user cache folder). Nothing is
printed unless ``progress=True``. Scans run worker processes, which never run
the caller's script again (``processing.mainless``): a script needs no
``if __name__ == "__main__":`` guard, and neither does a notebook cell.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Self

from rich.console import Console

from imgtwin.options import MatchOptions, ScanOptions, expand
from imgtwin.persistence.index import FailedFile, HashIndex
from imgtwin.records import IndexedFile, ProcessingSummary
from imgtwin.runs.context import RunContext
from imgtwin.runs.find import FindResult
from imgtwin.runs.find import find_duplicates as _find
from imgtwin.runs.scan import ScanSettings, default_db_path, run_scan

PathList = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


def _paths(paths: PathList) -> tuple[str, ...]:
    """One path or several, ``~`` expanded (a lone string is one path, not its letters)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    return tuple(expand(os.fspath(p)) for p in paths)


def _db(db: str | os.PathLike[str] | None) -> str:
    return expand(os.fspath(db)) if db is not None else default_db_path()


def _run(progress: bool) -> RunContext:
    """Progress on stderr if asked for, else nothing printed."""
    return RunContext(console=Console(stderr=True), quiet=False, progress=True) if progress else RunContext()


def scan(
    paths: PathList, db: str | os.PathLike[str] | None = None, options: ScanOptions | None = None, *,
    progress: bool = False,
) -> ProcessingSummary:
    """Hash every image under ``paths`` into the index ``db`` (only what changed since the last scan is read).

    Files that cannot be read are recorded with their reason (``Index.errors``)
    and counted in the summary; a missing folder raises FileNotFoundError.
    """
    roots, options = _paths(paths), options or ScanOptions()
    settings = ScanSettings.of(roots, _db(db), options)
    return run_scan(settings, _run(progress))


def find_duplicates(
    paths: PathList = (), db: str | os.PathLike[str] | None = None, match: MatchOptions | None = None,
    options: ScanOptions | None = None, *, scan: bool = True, progress: bool = False,
) -> FindResult:
    """Duplicate groups among the images under ``paths`` (scanned first unless ``scan=False``).

    With no ``paths``, every file of the index is compared (nothing is
    scanned). ``match``: how alike and which file is kept; ``options``: which
    files take part (its filters also apply to files already indexed) and how
    the scan runs.
    """
    roots, match, options = _paths(paths), match or MatchOptions(), options or ScanOptions()
    return _find(roots, db_path=_db(db), match=match, options=options, scan=scan and bool(roots), run=_run(progress))


def mark_not_duplicates(paths: PathList, db: str | os.PathLike[str] | None = None, *, only: PathList = ()) -> int:
    """Remember in the index that the files ``paths`` are not duplicates of each other (``only``: set just
    those apart from the others, which stay grouped), as ``imgtwin mark not-duplicates`` does: ``find_duplicates``
    never groups them together again, whatever they are renamed or moved to. Returns how many pairs were new;
    ValueError for a path that is not a readable file."""
    from imgtwin.marking import mark_not_duplicates as mark

    return mark(_db(db), _paths(paths), _paths(only) if only else ())[1]


class Index:
    """An index, read-only: ``with imgtwin.Index("photos.db") as index: index.files()``."""

    def __init__(self, db: str | os.PathLike[str] | None = None) -> None:
        path = _db(db)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no index at {path}")
        self.path = path
        self._index = HashIndex(path, readonly=True)

    def files(self, under: PathList = ()) -> Iterator[IndexedFile]:
        """Every file of the index (under ``under``, if given) that was not found gone, in path order."""
        roots = [os.path.abspath(p) for p in _paths(under)] if under else []
        yield from self._index.files_under(roots, blobs=False)

    def errors(self, reason: str | None = None) -> Iterator[FailedFile]:
        """The files that could not be read, with reason and message (``imgtwin errors``)."""
        return self._index.failures(reason)

    def roots(self) -> tuple[str, ...]:
        """The folders scanned into this index."""
        return tuple(root.path for root in self._index.roots())

    def close(self) -> None:
        self._index.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
