"""The checks made right before each file is touched; any failure skips that file only.

Why each one: a keeper that changed or vanished may no longer be a copy of
the file we are about to remove (so its identity is compared with the index,
and its bytes hashed again, once per state of the keeper); a file changed
since it was hashed may no longer be a duplicate; a link replaces bytes, so it
is only made between byte-identical files (hashed again now); a file outside
the scanned roots was never reviewed; a file in a reference folder is never
acted on; a file that is some group's keeper must survive whatever plan a
person wrote. Bytes are hashed through a descriptor opened without following
links (``FileOps.fingerprint``), so the inode whose bytes were checked is the
one the action must then find set aside (see ``apply.py``).
"""

from __future__ import annotations

import enum
import os
import stat
from dataclasses import dataclass, field

from imgtwin.actions.fileops import FileOps, same_file
from imgtwin.actions.model import ActionKind, ActionPlan, FileState, PlanItem
from imgtwin.actions.paths import Folders, within


class Verdict(str, enum.Enum):
    """How a file left alone is reported."""

    SKIPPED = "skipped"  # a check failed
    UNCHANGED = "unchanged"  # already in the wanted state (a link to the keeper)
    PROTECTED = "protected"  # in a reference folder: never acted on, by design


class SkipItem(Exception):
    """A check failed (or the file is protected): the item is left alone, for ``reason``."""

    def __init__(self, reason: str, verdict: Verdict = Verdict.SKIPPED) -> None:
        super().__init__(reason)
        self.reason = reason
        self.verdict = verdict


@dataclass(frozen=True, slots=True)
class Checked:
    """What the checks saw, for the journal and for verifying the action afterwards.

    ``file``: the stat of the very inode that was checked (its bytes hashed
    through an open descriptor when ``content_hash`` is set).
    """

    file: os.stat_result
    keeper: os.stat_result
    content_hash: str | None  # of the file, computed now (None when not needed)


@dataclass
class CheckContext:
    """Shared by the checks of one run: roots, reference folders, every keeper, a cache of keeper hashes."""

    plan: ActionPlan
    ops: FileOps
    verify_content: bool = True  # False for a dry run: stat only, no reading
    roots: Folders = field(init=False)
    reference: Folders = field(init=False)
    _keepers: dict[str, int] = field(default_factory=dict, init=False)
    _hashes: dict[tuple[str, int, int, int, int, int], str] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.roots = Folders.of(self.plan.roots)
        self.reference = Folders.of(self.plan.reference)
        for path, group in self.plan.keepers.items():
            self._keepers[path] = group
            self._keepers[os.path.realpath(path)] = group

    def keeper_of(self, path: str) -> int | None:
        return self._keepers.get(path, self._keepers.get(os.path.realpath(path)))

    def inside_roots(self, path: str) -> bool:
        """Inside a root by name and also once folder links are resolved (no escape through a link)."""
        return bool(self.roots.holding(path))

    def keeper_hash(self, path: str, st: os.stat_result) -> tuple[os.stat_result, str]:
        """The keeper's bytes hashed now (once per state of its inode; ctime moves on any change)."""
        key = (path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        if key not in self._hashes:
            seen, digest = self.ops.fingerprint(path, True)
            if not same_file(seen, st):
                raise SkipItem("the keeper was replaced while it was checked")
            assert digest is not None
            self._hashes[key] = digest
        return st, self._hashes[key]


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


def _unchanged(st: os.stat_result, state: FileState, what: str) -> None:
    if st.st_size != state.size:
        raise SkipItem(f"{what} changed since it was hashed (size {st.st_size}, was {state.size})")
    if state.mtime_ns is not None and st.st_mtime_ns != state.mtime_ns:
        raise SkipItem(f"{what} changed since it was hashed (modification time differs)")
    if (state.inode is not None and st.st_ino != state.inode) or (state.dev is not None and st.st_dev != state.dev):
        raise SkipItem(f"{what} was replaced since it was hashed (another inode)")


def _move_target_ok(item: PlanItem, ctx: CheckContext) -> None:
    what_target = f"{ctx.plan.action.value} target"  # "move target", "copy target"
    if not item.target:
        raise SkipItem(f"no {what_target} (outside the scanned folders)")
    if os.path.lexists(item.target):
        raise SkipItem(f"the {what_target} already exists: {item.target}")
    existing = os.path.dirname(item.target)
    while not os.path.lexists(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)
    real = os.path.realpath(existing)
    for folders, what in ((ctx.roots, "a scanned folder"), (ctx.reference, "a reference folder")):
        if any(within(real, f) for f in folders.real) or folders.touching(item.target):
            raise SkipItem(f"the {what_target} {item.target} leads into {what}: refused")


def _bytes(path: str, st: os.stat_result, ops: FileOps) -> tuple[os.stat_result, str]:
    """Hash the file through a descriptor that does not follow links; it must be the inode just seen."""
    try:
        seen, digest = ops.fingerprint(path, True)
    except OSError as exc:
        raise SkipItem(f"cannot read it to compare bytes: {exc.strerror or exc}") from None
    if not same_file(seen, st) or seen.st_size != st.st_size or seen.st_mtime_ns != st.st_mtime_ns:
        raise SkipItem("it was replaced while it was checked")
    assert digest is not None
    return seen, digest


def check_item(item: PlanItem, ctx: CheckContext) -> Checked:
    """Every check for ``item``; raises ``SkipItem`` with the first that fails."""
    action, ops = ctx.plan.action, ctx.ops
    path, keeper = item.file.path, item.keeper.path
    folder = item.reference or ctx.reference.touching(path)
    if folder:
        raise SkipItem(f"in the reference folder {folder}: never acted on", Verdict.PROTECTED)
    if item.refusal:
        raise SkipItem(item.refusal)
    if not ctx.inside_roots(path):
        raise SkipItem("outside the scanned folders: refused")
    if os.path.normpath(path) == os.path.normpath(keeper):
        raise SkipItem("it is the keeper", Verdict.UNCHANGED)
    group = ctx.keeper_of(path)
    if group is not None:
        raise SkipItem(f"it is the file kept for group {group}")
    if not ctx.inside_roots(keeper):
        raise SkipItem("its keeper is outside the scanned folders: refused")
    keeper_st = _regular(ops, keeper, "the keeper")
    _unchanged(keeper_st, item.keeper, "the keeper")
    file_st = _regular(ops, path, "the file")
    if same_file(file_st, keeper_st) or os.path.realpath(path) == os.path.realpath(keeper):
        raise SkipItem("already the same file as the keeper (a hard link)", Verdict.UNCHANGED)
    _unchanged(file_st, item.file, "the file")
    if action is ActionKind.HARDLINK and file_st.st_dev != keeper_st.st_dev:
        raise SkipItem("on another file system than the keeper: cannot hard-link")
    if action.links and item.file.content_hash and item.keeper.content_hash \
            and item.file.content_hash != item.keeper.content_hash:
        raise SkipItem("not byte-identical to the keeper: only exact copies are linked")
    if action.to_folder:
        _move_target_ok(item, ctx)
    digest = None
    if ctx.verify_content:
        try:
            keeper_st, keeper_digest = ctx.keeper_hash(keeper, keeper_st)
        except OSError as exc:
            raise SkipItem(f"cannot read the keeper to compare bytes: {exc.strerror or exc}") from None
        if item.keeper.content_hash and keeper_digest != item.keeper.content_hash:
            raise SkipItem("the keeper's bytes changed since it was hashed")
        if item.byte_identical or action.links or action is ActionKind.DELETE:
            file_st, digest = _bytes(path, file_st, ops)
            if item.file.content_hash and digest != item.file.content_hash:
                raise SkipItem("its bytes changed since it was hashed")
            if (item.byte_identical or action.links) and digest != keeper_digest:
                raise SkipItem("not byte-identical to the keeper now")
    return Checked(file_st, keeper_st, digest)
