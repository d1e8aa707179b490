"""Scanning and grouping for the review app, through the same code as ``scan`` and ``find``.

``IndexFinder`` scans with ``runs.scan.run_scan`` (the page's progress reporter
added to it), then groups with ``runs.find.find_duplicates(..., scan=False)`` and
``groups_document``, so the page shows exactly what ``find --json`` would
write for the same options: ``MatchOptions`` and ``ScanOptions``, as
``find`` takes them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from imgtwin.interfaces import ProgressReporter
from imgtwin.options import MatchOptions, ScanOptions
from imgtwin.records import ProcessingSummary
from imgtwin.review.catalog import ServedFile


@dataclass(frozen=True)
class FoundGroups:
    """A ``find --json`` document, and for each member of each group the indexed file behind it."""

    document: dict[str, Any]
    files: tuple[tuple[ServedFile, ...], ...]  # aligned with document["groups"][g]["members"]
    stale: int = 0  # indexed files hashed by another imgtwin version (not compared)
    notes: tuple[str, ...] = field(default=())


class Finder(Protocol):
    """What the review session needs from the rest of imgtwin to show groups."""

    roots: tuple[str, ...]
    reference: tuple[str, ...]  # folders never acted on (--reference)

    def scan(self, reporter: ProgressReporter, cancel: threading.Event) -> ProcessingSummary | None: ...

    def group(self) -> FoundGroups: ...


class IndexFinder:
    """Scan ``roots`` into the index at ``db_path``, then group them as ``find`` does."""

    def __init__(
        self,
        roots: Sequence[str],
        db_path: str,
        match: MatchOptions | None = None,
        options: ScanOptions | None = None,
    ) -> None:
        self.roots = tuple(os.path.abspath(r) for r in roots)
        self.db_path = db_path
        self.match = match or MatchOptions()
        self.options = options or ScanOptions()
        self.reference = tuple(os.path.abspath(r) for r in self.match.reference)

    def scan(self, reporter: ProgressReporter, cancel: threading.Event) -> ProcessingSummary:
        from imgtwin.runs.context import RunContext
        from imgtwin.runs.scan import ScanSettings, run_scan

        settings = ScanSettings.of(self.roots, self.db_path, self.options)
        return run_scan(settings, RunContext(cancel, reporter=reporter))

    def group(self) -> FoundGroups:
        from imgtwin.reporting.groups import decided_line
        from imgtwin.runs.find import find_duplicates

        # Absolute roots: every path in the document is absolute, so nothing depends on the server's folder.
        result = find_duplicates(self.roots, db_path=self.db_path, match=self.match, options=self.options, scan=False)
        document = result.document()
        files = tuple(group.members for group in result.groups)  # with the device and inode find read
        notes: tuple[str, ...] = ()
        if result.stale:
            notes = ((f"{result.stale} indexed file(s) were hashed by another imgtwin version and were not "
                      "compared: rescan to include them."),)
        if result.decided:
            notes += (decided_line(len(result.decided), result.decided_files) + ".",)
        return FoundGroups(document, files, result.stale, notes)
