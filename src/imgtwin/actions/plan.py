"""What dedupe will do: one item per file to act on, built from groups or a plan file.

A plan is pure data, made before anything is touched, so that a dry run and a
real run show the same list. Each item carries what the file and its keeper
looked like when they were hashed (size, mtime, inode, content hash from the
index), so the checks right before acting can tell whether either changed.
"""

from __future__ import annotations

import enum
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from imgtwin.finding import DEFAULT_THRESHOLD, find_duplicates
from imgtwin.matching.keeper import KeeperPolicy
from imgtwin.persistence.index import HashIndex
from imgtwin.records import DuplicateGroup


class ActionKind(str, enum.Enum):
    """What happens to each duplicate (never to a keeper)."""

    TRASH = "trash"
    MOVE = "move"
    HARDLINK = "hardlink"
    SYMLINK = "symlink"
    DELETE = "delete"

    @property
    def links(self) -> bool:
        return self in (ActionKind.HARDLINK, ActionKind.SYMLINK)

    @property
    def past(self) -> str:
        return {"trash": "trashed", "move": "moved", "hardlink": "hard-linked", "symlink": "symlinked",
                "delete": "deleted"}[self.value]


class PlanError(ValueError):
    """A plan file that cannot be used at all (not JSON, not an imgtwin find document)."""


@dataclass(frozen=True, slots=True)
class FileState:
    """A file as it was when hashed; ``None`` fields are unknown and not checked."""

    path: str  # absolute
    size: int
    mtime_ns: int | None
    inode: int | None = None
    content_hash: str | None = None


@dataclass(frozen=True, slots=True)
class PlanItem:
    """One duplicate to act on, with the keeper that must survive it."""

    group_id: int
    category: str  # "exact" or "near"
    file: FileState
    keeper: FileState
    root: str  # the scanned root (absolute) the file lies under, "" if none
    target: str | None = None  # --move-to destination (absolute)

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
    """A group of a plan file left alone as a whole, and why."""

    group_id: int
    reason: str


@dataclass(frozen=True)
class ActionPlan:
    """Every file to act on, the roots it must stay within, and the groups refused."""

    action: ActionKind
    roots: tuple[str, ...]  # absolute
    items: tuple[PlanItem, ...]
    refused: tuple[RefusedGroup, ...] = ()
    move_to: str | None = None
    display_roots: tuple[str, ...] = ()  # the roots as the user wrote them, for printing

    @property
    def keepers(self) -> dict[str, int]:
        """Keeper path -> group id: no item may ever touch one of these."""
        return {item.keeper.path: item.group_id for item in self.items}

    @property
    def bytes(self) -> int:
        return sum(item.file.size for item in self.items)


def containing_root(path: str, roots: Iterable[str]) -> str:
    """The longest root equal to or above ``path`` (both absolute), or ""."""
    best = ""
    for root in roots:
        base = root.rstrip(os.sep) or os.sep
        if (path == base or path.startswith(base.rstrip(os.sep) + os.sep)) and len(base) > len(best):
            best = base
    return best


def move_target(path: str, root: str, move_to: str) -> str:
    """``move_to`` + the file's folders below its root (a root that is a file: its name)."""
    relative = os.path.relpath(path, root) if path != root else os.path.basename(path)
    return os.path.join(move_to, relative)


def _state(path: str, size: int, mtime_ns: int | None, index: HashIndex | None) -> FileState:
    row = index.lookup(path) if index is not None else None
    if row is None:
        return FileState(path, size, mtime_ns)
    return FileState(path, size, mtime_ns if mtime_ns is not None else row["mtime_ns"], row["inode"],
                     row["content_hash"])


def _items_for_group(
    group_id: int, category: str, keeper: FileState, others: Sequence[FileState], roots: Sequence[str],
    action: ActionKind, move_to: str | None,
) -> list[PlanItem]:
    items = []
    for state in others:
        root = containing_root(state.path, roots)
        target = move_target(state.path, root, move_to) if action is ActionKind.MOVE and move_to and root else None
        items.append(PlanItem(group_id, category, state, keeper, root, target))
    return items


def plan_from_groups(
    groups: Sequence[DuplicateGroup], roots: Sequence[str], action: ActionKind | str, *, db_path: str | None,
    move_to: str | None = None,
) -> ActionPlan:
    """The plan for ``find_duplicates`` groups: every member but the keeper.

    Member paths are as ``find`` printed them (relative to the current folder
    when the roots were); inode and content hash come from the index.
    """
    kind = ActionKind(action)
    abs_roots = tuple(os.path.abspath(r) for r in roots)
    dest = os.path.abspath(move_to) if move_to else None
    items: list[PlanItem] = []
    index = HashIndex(db_path) if db_path and os.path.exists(db_path) else None
    try:
        for group in groups:
            keeper_member = group.keeper
            keeper = _state(os.path.abspath(keeper_member.path), keeper_member.size, keeper_member.mtime_ns, index)
            others = [_state(os.path.abspath(m.path), m.size, m.mtime_ns, index) for m in group.members if not m.keep]
            items += _items_for_group(group.id, group.category, keeper, others, abs_roots, kind, dest)
    finally:
        if index is not None:
            index.close()
    return ActionPlan(kind, abs_roots, tuple(items), (), dest, tuple(roots))


def plan_actions(
    paths: Sequence[str],
    action: ActionKind | str,
    *,
    db_path: str | None = None,
    move_to: str | None = None,
    threshold: int = DEFAULT_THRESHOLD,
    rotations: bool = True,
    keep: str | KeeperPolicy = KeeperPolicy.BEST,
    prefer: str | None = None,
    scan: bool = True,
    scan_settings: dict[str, object] | None = None,
    deep: bool = False,
) -> ActionPlan:
    """Find the duplicates under ``paths`` (as ``find`` would) and plan ``action`` on them.

    Nothing is changed on disk but the index; apply the plan with ``apply_plan``.
    """
    from imgtwin.app import default_db_path

    db = db_path or default_db_path()
    result = find_duplicates(paths, db_path=db, threshold=threshold, rotations=rotations, keep=keep, prefer=prefer,
                             scan=scan, scan_settings=scan_settings, deep=deep)
    return plan_from_groups(result.groups, paths, action, db_path=db, move_to=move_to)


def _member_fields(member: Any) -> tuple[str, int, bool]:
    if not isinstance(member, dict):
        raise ValueError("a member is not an object")
    path, size, keep = member.get("path"), member.get("size"), member.get("keep")
    if not isinstance(path, str) or not path or not isinstance(size, int) or not isinstance(keep, bool):
        raise ValueError("a member lacks a valid path, size or keep")
    return path, size, keep


def load_plan_document(plan_path: str) -> dict[str, Any]:
    """The ``find --json`` document in ``plan_path``; PlanError if it is not one."""
    try:
        with open(plan_path, encoding="utf-8") as stream:
            document = json.load(stream)
    except json.JSONDecodeError as exc:
        raise PlanError(f"{plan_path} is not JSON: {exc}") from exc
    if not isinstance(document, dict) or document.get("tool") != "imgtwin" or not isinstance(
        document.get("groups"), list
    ):
        raise PlanError(f"{plan_path} is not an `imgtwin find --json` document")
    return document


def index_roots(db_path: str) -> tuple[str, ...]:
    """The roots recorded in the index (each folder ever scanned into it)."""
    if not os.path.exists(db_path):
        return ()
    with HashIndex(db_path) as index:
        return tuple(r.path for r in index.info().roots)


def plan_from_file(
    plan_path: str,
    action: ActionKind | str,
    *,
    roots: Sequence[str] = (),
    db_path: str | None = None,
    move_to: str | None = None,
) -> ActionPlan:
    """The plan from a ``find --json`` file a person may have edited.

    Each group must have exactly one member marked ``"keep": true``, else the
    whole group is refused. Relative paths are taken from the current folder
    (run ``dedupe --plan`` where ``find`` ran). ``roots``: the folders files
    must lie in; by default every root recorded in the index. Expected mtimes,
    inodes and content hashes come from the index; a file the index does not
    know has only its size checked (and its bytes, when it is meant to be exact).
    """
    from imgtwin.app import default_db_path

    kind = ActionKind(action)
    document = load_plan_document(plan_path)
    db = db_path or default_db_path()
    abs_roots = tuple(os.path.abspath(r) for r in roots) or index_roots(db)
    dest = os.path.abspath(move_to) if move_to else None
    items: list[PlanItem] = []
    refused: list[RefusedGroup] = []
    index = HashIndex(db) if os.path.exists(db) else None
    try:
        for position, group in enumerate(document["groups"], start=1):
            group_id = group.get("id", position) if isinstance(group, dict) else position
            try:
                if not isinstance(group, dict) or not isinstance(group.get("members"), list):
                    raise ValueError("it has no list of members")
                members = [_member_fields(m) for m in group["members"]]
            except ValueError as exc:
                refused.append(RefusedGroup(group_id, f"group {group_id} is malformed: {exc}"))
                continue
            keepers = [m for m in members if m[2]]
            if len(keepers) != 1:
                refused.append(RefusedGroup(
                    group_id, f"group {group_id} has {len(keepers)} files marked keep: exactly one is required"))
                continue
            category = group.get("category") if group.get("category") in ("exact", "near") else "near"
            path, size, _ = keepers[0]
            keeper = _state(os.path.abspath(path), size, None, index)
            others = [_state(os.path.abspath(p), s, None, index) for p, s, k in members if not k]
            items += _items_for_group(group_id, category, keeper, others, abs_roots, kind, dest)
    finally:
        if index is not None:
            index.close()
    return ActionPlan(kind, abs_roots, tuple(items), tuple(refused), dest, tuple(roots) or abs_roots)
