"""Which folder a path lies in, by its name and once folder links are resolved.

One rule for every "is this inside that folder" question of dedupe: the
scanned roots (a file must be inside one both ways, so that a folder link
never leads an action out of them), the reference folders (a file is
protected if it is inside one either way, so that a folder link never leads
an action into them) and ``--move-to`` (resolved before it is compared).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from imgtwin.folders import containing_root, within

__all__ = ["Folders", "containing_root", "resolved", "within"]


def resolved(path: str) -> str:
    """``path`` with the links of its folders resolved; the last name itself is not followed."""
    return os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))


@dataclass(frozen=True)
class Folders:
    """Folders as absolute names and as resolved (link-free) names, for containment checks."""

    given: tuple[str, ...]  # absolute, normalised
    real: tuple[str, ...]  # os.path.realpath of each

    @classmethod
    def of(cls, folders: Sequence[str]) -> Folders:
        given = tuple(dict.fromkeys(os.path.abspath(f) for f in folders))
        return cls(given, tuple(dict.fromkeys(os.path.realpath(f) for f in given)))

    def __bool__(self) -> bool:
        return bool(self.given)

    def holding(self, path: str) -> str:
        """The root ``path`` lies in by name, if it also lies in one once resolved; else ""."""
        root = containing_root(os.path.normpath(path), self.given)
        if root and containing_root(resolved(os.path.abspath(path)), self.real):
            return root
        return ""

    def touching(self, path: str) -> str:
        """A folder ``path`` lies in by name, through its folder links, or as what it links to; else ""."""
        absolute = os.path.normpath(os.path.abspath(path))
        for candidate, folders in ((absolute, self.given), (resolved(absolute), self.real),
                                   (os.path.realpath(absolute), self.real)):
            folder = containing_root(candidate, folders)
            if folder:
                return folder
        return ""
