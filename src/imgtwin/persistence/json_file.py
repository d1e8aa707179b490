"""JsonHashPersistence: one JSON document, streamed, replaced atomically."""

from __future__ import annotations

import json
from collections.abc import Sequence

from imgtwin._version import __version__
from imgtwin.persistence.atomic import AtomicTextFile
from imgtwin.persistence.rows import to_row
from imgtwin.records import FileResult, HashSpec


class JsonHashPersistence:
    """Writes ``{"tool", "version", "hash", "files": [...]}`` to ``file_path``.

    Rows are streamed to a temporary file as batches arrive (memory stays flat
    however many files there are); ``finalize`` closes the document and renames
    it into place, so ``file_path`` is never seen half-written.
    """

    def __init__(self, file_path: str, spec: HashSpec, loader_id: str) -> None:
        self.file_path = file_path
        self._out = AtomicTextFile(file_path)
        header = {
            "tool": "imgtwin",
            "version": __version__,
            "hash": {"algorithm": spec.algorithm, "bits": spec.bits, "params": spec.params, "loader": loader_id},
        }
        self._out.stream.write(json.dumps(header, ensure_ascii=False)[:-1] + ', "files": [')
        self._first = True

    def store_batch(self, results: Sequence[FileResult]) -> None:
        write = self._out.stream.write
        for result in results:
            write("\n" if self._first else ",\n")
            write(json.dumps(to_row(result), ensure_ascii=False))
            self._first = False

    def finalize(self) -> None:
        self._out.stream.write("\n]}\n")
        self._out.commit()
