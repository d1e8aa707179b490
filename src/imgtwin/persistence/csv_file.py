"""CsvHashPersistence: the JSON rows as CSV, replaced atomically."""

from __future__ import annotations

import csv
from collections.abc import Sequence

from imgtwin.persistence.atomic import AtomicTextFile
from imgtwin.persistence.rows import COLUMNS, to_row
from imgtwin.records import FileResult


class CsvHashPersistence:
    """A header row, then one row per file; empty cells for missing values.

    Fields with commas, quotes or newlines are quoted (RFC 4180), so any file
    name survives a round trip through ``csv.reader``.
    """

    def __init__(self, file_path: str) -> None:
        self.file_path = file_path
        self._out = AtomicTextFile(file_path, newline="")
        self._writer = csv.DictWriter(self._out.stream, fieldnames=COLUMNS, lineterminator="\r\n")
        self._writer.writeheader()

    def store_batch(self, results: Sequence[FileResult]) -> None:
        self._writer.writerows(to_row(result) for result in results)

    def finalize(self) -> None:
        self._out.commit()
