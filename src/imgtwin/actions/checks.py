"""The checks made right before each file is touched; any failure skips that file only.

Why each one: a keeper that changed or vanished may no longer be a copy of
the file we are about to remove; a file changed since it was hashed may no
longer be a duplicate; a link replaces bytes, so it is only made between
byte-identical files (hashed again now); a file outside the scanned roots was
never reviewed; a file that is some group's keeper must survive whatever plan
a person wrote.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

from imgtwin.actions.fileops import FileOps, same_file
from imgtwin.actions.plan import ActionKind, ActionPlan, PlanItem, containing_root


class SkipItem(Exception):
    """A check failed: the item is left alone, for ``reason``."""

    def __init__(self, reason: str, *, nothing_to_do: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.nothing_to_do = nothing_to_do  # already in the wanted state (a link to the keeper)


@dataclass(frozen=True, slots=True)
class Checked:
    """What the checks saw, for the journal and for verifying the action afterwards."""

    file: os.stat_result
    keeper: os.stat_result
    content_hash: str | None  # of the file, computed now (None when not needed)


@dataclass
class CheckContext:
    """Shared by the checks of one run: roots, every keeper, a cache of keeper hashes."""

    plan: ActionPlan
    ops: FileOps
    verify_content: bool = True  # False for a dry run: stat only, no reading
    _real_roots: tuple[str, ...] = field(default=(), init=False)
    _keepers: dict[str, int] = field(default_factory=dict, init=False)
    _hashes: dict[tuple[str, int, int, int, int], str] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self._real_roots = tuple(os.path.realpath(r) for r in self.plan.roots)
        for path, group in self.plan.keepers.items():
            self._keepers[path] = group
            self._keepers[os.path.realpath(path)] = group

    def keeper_of(self, path: str) -> int | None:
        return self._keepers.get(path, self._keepers.get(os.path.realpath(path)))

    def inside_roots(self, path: str) -> bool:
        """Inside a root by name and also once folder links are resolved (no escape through a link)."""
        if not containing_root(os.path.normpath(path), self.plan.roots):
            return False
        real = os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))
        return bool(containing_root(real, self._real_roots))

    def hash_now(self, path: str, st: os.stat_result) -> str:
        key = (path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        if key not in self._hashes:
            self._hashes[key] = self.ops.content_hash(path)
        return self._hashes[key]


def _regular(ops: FileOps, path: str, what: str) -> os.stat_result:
    try:
        st = ops.lstat(path)
    except FileNotFoundError:
        raise SkipItem(f"{what} is gone") from None
    except OSError as exc:
        raise SkipItem(f"cannot read {what}: {exc.strerror or exc}") from None
    if stat.S_ISLNK(st.st_mode):
        raise SkipItem(f"{what} is now a symbolic link")
    if not stat.S_ISREG(st.st_mode):
        raise SkipItem(f"{what} is not a regular file")
    return st


def _unchanged(st: os.stat_result, size: int, mtime_ns: int | None, inode: int | None, what: str) -> None:
    if st.st_size != size:
        raise SkipItem(f"{what} changed since it was hashed (size {st.st_size}, was {size})")
    if mtime_ns is not None and st.st_mtime_ns != mtime_ns:
        raise SkipItem(f"{what} changed since it was hashed (modification time differs)")
    if inode is not None and st.st_ino != inode:
        raise SkipItem(f"{what} was replaced since it was hashed (another inode)")


def check_item(item: PlanItem, ctx: CheckContext) -> Checked:
    """Every check for ``item``; raises ``SkipItem`` with the first that fails."""
    action, ops = ctx.plan.action, ctx.ops
    path, keeper = item.file.path, item.keeper.path
    if not ctx.inside_roots(path):
        raise SkipItem("outside the scanned folders: refused")
    if os.path.normpath(path) == os.path.normpath(keeper):
        raise SkipItem("it is the keeper", nothing_to_do=True)
    group = ctx.keeper_of(path)
    if group is not None:
        raise SkipItem(f"it is the file kept for group {group}")
    keeper_st = _regular(ops, keeper, "the keeper")
    _unchanged(keeper_st, item.keeper.size, item.keeper.mtime_ns, item.keeper.inode, "the keeper")
    file_st = _regular(ops, path, "the file")
    if same_file(file_st, keeper_st) or os.path.realpath(path) == os.path.realpath(keeper):
        raise SkipItem("already the same file as the keeper (a hard link)", nothing_to_do=True)
    _unchanged(file_st, item.file.size, item.file.mtime_ns, item.file.inode, "the file")
    if action is ActionKind.HARDLINK and file_st.st_dev != keeper_st.st_dev:
        raise SkipItem("on another file system than the keeper: cannot hard-link")
    if action.links and item.file.content_hash and item.keeper.content_hash \
            and item.file.content_hash != item.keeper.content_hash:
        raise SkipItem("not byte-identical to the keeper: only exact copies are linked")
    if action is ActionKind.MOVE:
        if not item.target:
            raise SkipItem("no move target (outside the scanned folders)")
        if os.path.lexists(item.target):
            raise SkipItem(f"the move target already exists: {item.target}")
    digest = None
    needs_bytes = item.byte_identical or action.links or action is ActionKind.DELETE
    if ctx.verify_content and needs_bytes:
        try:
            digest = ops.content_hash(path)
            keeper_digest = ctx.hash_now(keeper, keeper_st)
        except OSError as exc:
            raise SkipItem(f"cannot read it to compare bytes: {exc.strerror or exc}") from None
        if item.file.content_hash and digest != item.file.content_hash:
            raise SkipItem("its bytes changed since it was hashed")
        if item.keeper.content_hash and keeper_digest != item.keeper.content_hash:
            raise SkipItem("the keeper's bytes changed since it was hashed")
        if (item.byte_identical or action.links) and digest != keeper_digest:
            raise SkipItem("not byte-identical to the keeper now")
    return Checked(file_st, keeper_st, digest)
