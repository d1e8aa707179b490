"""The records of a plan: what dedupe will do, to which file, with which keeper.

A plan is pure data, made before anything is touched, so that a dry run and a
real run show the same list. Each item carries what the file and its keeper
looked like when they were hashed (size, mtime, device, inode and content hash
from the index), so the checks right before acting can tell whether either
changed.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass

from imgtwin.records import IndexedFile


class ActionKind(str, enum.Enum):
    """What happens to each duplicate (never to a keeper)."""

    TRASH = "trash"
    MOVE = "move"
    COPY = "copy"  # into a folder, leaving every file in place (dupeGuru's "copy marked")
    HARDLINK = "hardlink"
    SYMLINK = "symlink"
    DELETE = "delete"

    @property
    def links(self) -> bool:
        return self in (ActionKind.HARDLINK, ActionKind.SYMLINK)

    @property
    def to_folder(self) -> bool:
        """Move and copy send each duplicate to a folder of the user's (``--move-to``/``--copy-to``)."""
        return self in (ActionKind.MOVE, ActionKind.COPY)

    @property
    def past(self) -> str:
        return {"trash": "trashed", "move": "moved", "copy": "copied", "hardlink": "hard-linked",
                "symlink": "symlinked", "delete": "deleted"}[self.value]


class PlanError(ValueError):
    """A plan that cannot be used at all (not JSON, not an imgtwin find document, an impossible path)."""


@dataclass(frozen=True, slots=True)
class FileState:
    """A file as it was when hashed; ``None`` fields are unknown and not checked.

    Not an ``IndexedFile``: it is what a plan or journal states and the checks
    before acting compare with the disk, so any field but the path and size may
    be unknown (a document's member that is not in the index, an old journal).
    """

    path: str  # absolute
    size: int
    mtime_ns: int | None
    inode: int | None = None
    content_hash: str | None = None
    dev: int | None = None

    @classmethod
    def of(cls, file: IndexedFile) -> FileState:
        """What the index recorded of ``file``."""
        return cls(file.path, file.size, file.mtime_ns, file.inode, file.content_hash, file.dev)


@dataclass(frozen=True, slots=True)
class PlanItem:
    """One duplicate to act on, with the keeper that must survive it.

    ``refusal``: why planning already decided to leave it alone (it is then
    shown and journalled as skipped, never acted on). ``reference``: the
    reference folder it lies in, if any: such a file is never acted on.
    """

    group_id: int
    category: str  # "exact" or "near"
    file: FileState
    keeper: FileState
    root: str  # the scanned root (absolute) the file lies under, "" if none
    target: str | None = None  # --move-to destination (absolute)
    refusal: str | None = None
    reference: str | None = None

    @property
    def path(self) -> str:
        return self.file.path

    @property
    def byte_identical(self) -> bool:
        """Meant to have the keeper's bytes: an exact group, or equal hashes in the index."""
        same_hash = self.file.content_hash is not None and self.file.content_hash == self.keeper.content_hash
        return self.category == "exact" or same_hash


@dataclass(frozen=True, slots=True)
class RefusedGroup:
    """A group of a plan left alone as a whole, and why; its files marked keep stay protected."""

    group_id: int
    reason: str
    keepers: tuple[str, ...] = ()  # absolute


@dataclass(frozen=True, slots=True)
class Honoured:
    """What a person's review choices changed in a plan: groups whose keeper they chose, files they unticked."""

    chosen_keepers: int = 0
    spared: int = 0


@dataclass(frozen=True)
class ActionPlan:
    """Every file to act on, the roots it must stay within, the reference folders, the groups refused."""

    action: ActionKind
    roots: tuple[str, ...]  # absolute
    items: tuple[PlanItem, ...]
    refused: tuple[RefusedGroup, ...] = ()
    move_to: str | None = None  # absolute, links resolved
    display_roots: tuple[str, ...] = ()  # the roots as the user wrote them, for printing
    reference: tuple[str, ...] = ()  # absolute, links resolved: files under these are never acted on
    honoured: Honoured = Honoured()  # the review app's choices this plan took (``actions.chosen``)

    @property
    def keepers(self) -> dict[str, int]:
        """Keeper path -> group id: no item may ever touch one of these (refused groups' keepers included)."""
        kept = {path: group.group_id for group in self.refused for path in group.keepers}
        return kept | {item.keeper.path: item.group_id for item in self.items}

    @property
    def bytes(self) -> int:
        return sum(item.file.size for item in self.items)


def move_target(path: str, root: str, move_to: str) -> str:
    """``move_to`` + the file's folders below its root (a root that is a file: its name)."""
    relative = os.path.relpath(path, root) if path != root else os.path.basename(path)
    return os.path.join(move_to, relative)
