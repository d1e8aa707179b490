"""Several persistences behind one: SQLite index plus JSON/CSV exports."""

from __future__ import annotations

from collections.abc import Sequence

from imgtwin.interfaces import HashPersistence
from imgtwin.records import FileResult


class CompositePersistence:
    """Forwards every call to each persistence, in order."""

    def __init__(self, persistences: Sequence[HashPersistence]) -> None:
        self.persistences = list(persistences)

    def store_batch(self, results: Sequence[FileResult]) -> None:
        for persistence in self.persistences:
            persistence.store_batch(results)

    def finalize(self) -> None:
        for persistence in self.persistences:
            persistence.finalize()
