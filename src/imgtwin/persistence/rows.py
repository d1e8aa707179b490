"""One flat row per file: the shared shape of the JSON and CSV outputs."""

from __future__ import annotations

from typing import Any

from imgtwin.records import FileResult

COLUMNS = ("path", "size", "mtime", "width", "height", "format", "hash", "error_reason", "error", "decode")


def text_path(path: str) -> str:
    """``path`` as valid Unicode text.

    File names that are not valid UTF-8 reach Python as lone surrogates, which
    SQLite and UTF-8 files cannot store; they are written with backslash escapes.
    """
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return path


def to_row(result: FileResult) -> dict[str, Any]:
    meta = result.metadata
    return {
        "path": text_path(meta.path),
        "size": meta.size,
        "mtime": round(meta.mtime_ns / 1e9, 6),
        "width": meta.width,
        "height": meta.height,
        "format": meta.format,
        "hash": result.hash.hex if result.hash else None,
        "error_reason": result.error.reason.value if result.error else None,
        "error": text_path(result.error.message) if result.error else None,
        "decode": meta.decode,
    }
