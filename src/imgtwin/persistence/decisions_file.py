"""Remembered decisions as a JSON file, to carry them to another index or machine (``imgtwin mark export``).

::

    {"tool": "imgtwin", "kind": "not-duplicates", "format": 1, "algorithm": "xxh3-128",
     "decisions": [{"a": HASH, "b": HASH, "decided_at": SECONDS, "paths_a": [...], "paths_b": [...]}]}

``a`` and ``b`` (content hashes) are the decision; the paths say which files
held those contents when it was exported, for people reading the file, and
are not read back.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from imgtwin.documents import DocumentError, parse_json, read_bytes
from imgtwin.hashing.content import CONTENT_HASH_ALGORITHM
from imgtwin.persistence.decisions import Decision
from imgtwin.persistence.rows import text_path

KIND = "not-duplicates"
FORMAT = 1
_DIGEST = re.compile(r"[0-9a-f]{32}")


def decisions_document(decisions: Sequence[Decision]) -> dict[str, Any]:
    return {
        "tool": "imgtwin", "kind": KIND, "format": FORMAT, "algorithm": CONTENT_HASH_ALGORITHM,
        "decisions": [
            {"a": d.hash_a, "b": d.hash_b, "decided_at": d.decided_at,
             "paths_a": [text_path(p) for p in d.paths_a], "paths_b": [text_path(p) for p in d.paths_b]}
            for d in decisions
        ],
    }


def read_decisions(path: str) -> list[Decision]:
    """The decisions of an export; DocumentError (one line, naming the file) if it is not one this imgtwin reads."""
    document = parse_json(read_bytes(path), path)
    if not isinstance(document, dict) or document.get("tool") != "imgtwin" or document.get("kind") != KIND:
        raise DocumentError(f"{path} is not an imgtwin decisions file (made by `imgtwin mark export`)")
    if document.get("format") != FORMAT:
        raise DocumentError(f"{path} has decisions format {document.get('format')!r}; this imgtwin reads {FORMAT}")
    if document.get("algorithm") != CONTENT_HASH_ALGORITHM:
        raise DocumentError(f"{path} keys its decisions by the content hash {document.get('algorithm')!r}; this "
                            f"imgtwin uses {CONTENT_HASH_ALGORITHM}")
    entries = document.get("decisions")
    if not isinstance(entries, list):
        raise DocumentError(f"{path}: \"decisions\" must be a list")
    return [_entry(entry, n, path) for n, entry in enumerate(entries, start=1)]


def _entry(entry: object, n: int, path: str) -> Decision:
    if not isinstance(entry, dict):
        raise DocumentError(f"{path}: decision {n} is not an object")
    a, b, when = entry.get("a"), entry.get("b"), entry.get("decided_at")
    for name, value in (("a", a), ("b", b)):
        if not isinstance(value, str) or not _DIGEST.fullmatch(value):
            raise DocumentError(f"{path}: decision {n}: \"{name}\" must be a content hash (32 lower-case hex digits)")
    if isinstance(when, bool) or not isinstance(when, (int, float)) or not when >= 0:
        raise DocumentError(f"{path}: decision {n}: \"decided_at\" must be seconds since the epoch")
    assert isinstance(a, str) and isinstance(b, str)
    return Decision(a, b, float(when))
