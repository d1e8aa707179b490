"""Whether a path lies in a folder: the one rule every "is this under that root" question uses.

Both arguments are absolute and normalised (``os.path.abspath``); the
comparison is by name, on whole components (``/a/bc`` is not under ``/a/b``).
Questions that must also hold once links are resolved (dedupe's) build on
these in ``actions.paths``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable


def within(path: str, folder: str) -> bool:
    """``path`` is ``folder`` or below it."""
    base = folder.rstrip(os.sep) or os.sep
    return path == base or path.startswith(base.rstrip(os.sep) + os.sep)


def containing_root(path: str, roots: Iterable[str]) -> str:
    """The longest of ``roots`` equal to or above ``path``, or ""."""
    best = ""
    for root in roots:
        base = root.rstrip(os.sep) or os.sep
        if within(path, base) and len(base) > len(best):
            best = base
    return best
