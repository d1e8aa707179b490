"""Whether a path lies in a folder: the one rule every "is this under that root" question uses.

Both arguments are absolute and normalised (``os.path.abspath``); the
comparison is by name, on whole components (``/a/bc`` is not under ``/a/b``).
Questions that must also hold once links are resolved (dedupe's) build on
these in ``actions.paths``. ``check_folders`` is the one rule for a path
given as a folder (a root, a reference folder): it must be one, or the run stops.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any


def within(path: str, folder: str) -> bool:
    """``path`` is ``folder`` or below it."""
    base = folder.rstrip(os.sep) or os.sep
    return path == base or path.startswith(base.rstrip(os.sep) + os.sep)


def check_folders(paths: Iterable[str], what: str = "folder") -> None:
    """FileNotFoundError or NotADirectoryError for the first of ``paths`` that is not an existing folder.

    A typo or a file given as a folder must stop a run: taken as it is, a missing reference folder protects
    nothing and a file becomes a root of the index. ``what`` names the folder's role in the message.
    """
    for path in paths:
        if not os.path.exists(path):
            raise FileNotFoundError(f"no such {what}: {path}")
        if not os.path.isdir(path):
            kind = "a file" if os.path.isfile(path) else "neither a file nor a folder"
            raise NotADirectoryError(f"{path} is {kind}, not a {what}: give the folder that holds it")


def containing_root(path: str, roots: Iterable[str]) -> str:
    """The longest of ``roots`` equal to or above ``path``, or ""."""
    best = ""
    for root in roots:
        base = root.rstrip(os.sep) or os.sep
        if within(path, base) and len(base) > len(best):
            best = base
    return best


def document_base(document: Mapping[str, Any]) -> str | None:
    """The absolute folder a ``find --json`` document's relative paths are relative to (its ``base``).

    None for documents written before ``base`` existed (their paths are read
    from the current folder, as before); ValueError for a ``base`` that is not
    an absolute path.
    """
    base = document.get("base")
    if base is None:
        return None
    if not isinstance(base, str) or not os.path.isabs(base):
        raise ValueError(f"its base {base!r} is not an absolute folder")
    return base


def resolve(path: str, base: str | None) -> str:
    """A document's member ``path`` made absolute: against ``base``, else the current folder."""
    return os.path.abspath(os.path.join(base, path) if base is not None else path)
