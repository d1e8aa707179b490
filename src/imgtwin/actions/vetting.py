"""The plan-time checks: which files of a proposed group may be acted on at all.

A group comes from ``find`` (trusted to be verified: it was just computed) or
from a document a person may have edited. Either way the keeper is held to
the same standard as the members: it must lie inside the scanned roots (also
once folder links are resolved) and be an image of the index, hashed, with its
recorded size, device, inode and content hash; otherwise the whole group is
refused, because nothing in it can be trusted to be a copy of anything. A
group that would act on a file of a reference folder while keeping a file
outside them is refused too: a plan never makes a reference file a victim.

Each member must lie inside the roots, be an image of the index and, for a
document's near group, be a verified match of the keeper recomputed from the
index's features (``matching.confirm``), unless the index says it has the
keeper's bytes. A member that fails is kept in the plan with its ``refusal``
(shown and journalled as skipped); a member in a reference folder is kept
with its ``reference`` folder (shown as left alone). The checks made right
before acting (``checks.py``) repeat every one of these against the disk.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass

from imgtwin.actions.model import ActionKind, FileState, PlanItem, RefusedGroup, move_target
from imgtwin.actions.paths import Folders
from imgtwin.hashing.dct import DCTHasher
from imgtwin.hashing.features import FEATURES_SPEC, MatchFeatures
from imgtwin.matching.confirm import confirm_members
from imgtwin.matching.near import NearParams
from imgtwin.persistence.index import HashIndex


@dataclass(frozen=True, slots=True)
class Proposed:
    """A group as a plan states it: absolute paths with the sizes the plan shows."""

    group_id: int
    category: str  # "exact" or "near"
    keeper: tuple[str, int]
    members: tuple[tuple[str, int], ...]  # every file but the keeper


@dataclass(frozen=True, slots=True)
class _Indexed:
    state: FileState
    features: MatchFeatures | None  # None: stale or missing (hashed by another imgtwin version)


class Vetter:
    """Plan-time checks of proposed groups against the roots, the reference folders and the index.

    ``params``: the matching settings to verify near members with; ``None``
    trusts the groups' near members (groups ``find`` just made).
    """

    def __init__(self, index: HashIndex | None, roots: Folders, reference: Folders, action: ActionKind,
                 move_to: str | None, params: NearParams | None) -> None:
        self.index, self.roots, self.reference = index, roots, reference
        self.action, self.move_to, self.params = action, move_to, params
        self._spec = DCTHasher().spec.id

    def vet(self, group: Proposed) -> tuple[list[PlanItem], RefusedGroup | None]:
        gid = group.group_id
        keeper_path, keeper_size = group.keeper
        shown = keeper_path
        kept = (keeper_path,)
        if not self.roots.holding(keeper_path):
            return [], RefusedGroup(gid, f"group {gid}: its keeper {shown} is outside the scanned folders", kept)
        keeper, problem = self._indexed(keeper_path, keeper_size)
        if keeper is None:
            return [], RefusedGroup(gid, f"group {gid}: its keeper {shown} {problem}", kept)
        keeper_reference = self.reference.touching(keeper_path)
        if self.reference and not keeper_reference:
            victims = [p for p, _ in group.members if self.reference.touching(p)]
            if victims:
                return [], RefusedGroup(gid, f"group {gid} keeps {shown} but would act on {victims[0]}, in the "
                                             "reference folder: a reference file must be the keeper", kept)
        items: list[PlanItem] = []
        to_confirm: list[tuple[int, _Indexed]] = []
        for path, size in group.members:
            item, indexed = self._member(group, keeper.state, path, size)
            if indexed is not None and item.refusal is None and item.reference is None \
                    and self.params is not None and not item.byte_identical:
                to_confirm.append((len(items), indexed))
            items.append(item)
        if to_confirm:
            self._confirm(items, keeper, to_confirm)
        return items, None

    def _member(self, group: Proposed, keeper: FileState, path: str, size: int) -> tuple[PlanItem, _Indexed | None]:
        root = self.roots.holding(path)
        target = None
        if self.action is ActionKind.MOVE and self.move_to and root:
            target = move_target(path, root, self.move_to)
        reference = self.reference.touching(path)
        if reference:
            return PlanItem(group.group_id, group.category, FileState(path, size, None), keeper, root, target,
                            reference=reference), None
        if not root:
            return PlanItem(group.group_id, group.category, FileState(path, size, None), keeper, root, target,
                            "outside the scanned folders: refused"), None
        indexed, problem = self._indexed(path, size)
        if indexed is None:
            return PlanItem(group.group_id, group.category, FileState(path, size, None), keeper, root, target,
                            f"it {problem}: refused"), None
        item = PlanItem(group.group_id, group.category, indexed.state, keeper, root, target)
        if group.category == "exact" and not _same_bytes(indexed.state, keeper):
            item = _refuse(item, "the plan calls it an exact copy, but the index holds other bytes than the "
                                 "keeper's: refused")
        return item, indexed

    def _confirm(self, items: list[PlanItem], keeper: _Indexed, members: list[tuple[int, _Indexed]]) -> None:
        usable = [(k, m) for k, m in members if m.features is not None]
        for k, m in members:
            if m.features is None:
                items[k] = _refuse(items[k], "not verified: the index holds no current features for it "
                                             "(scan it again with this imgtwin)")
        if not usable:
            return
        if keeper.features is None:
            for k, _ in usable:
                items[k] = _refuse(items[k], "not verified: the index holds no current features for the keeper "
                                             "(scan it again with this imgtwin)")
            return
        assert self.params is not None
        paths = [keeper.state.path] + [m.state.path for _, m in usable]
        features = [keeper.features] + [m.features for _, m in usable if m.features is not None]
        order = sorted(range(len(paths)), key=lambda n: os.fsencode(paths[n]))  # find's row order
        confirmed = confirm_members([features[n] for n in order], order.index(0), self.params)
        by_file = {n: confirmed[position] for position, n in enumerate(order)}
        for position, (k, _) in enumerate(usable, start=1):
            if not by_file[position]:
                items[k] = _refuse(items[k], "not a verified match of the keeper (checked again from the index "
                                             "with the plan's threshold): refused")

    def _indexed(self, path: str, size: int) -> tuple[_Indexed | None, str]:
        """The index's record of an image at ``path``, or None and what is wrong."""
        if self.index is None:
            return None, "is not in the index (no index): scan it first"
        try:
            row = self.index.lookup(path)
        except (sqlite3.Error, ValueError, UnicodeError):
            row = None
        if row is None or row["vanished_at"] is not None:
            return None, "is not a file of the index: scan it first"
        if row["error_reason"] is not None:
            return None, f"is not an image the scan could read ({row['error_reason']})"
        if row["hash"] is None or row["content_hash"] is None:
            return None, "has no content hash in the index: scan it again"
        if row["size"] != size:
            return None, f"has another size in the index ({row['size']} bytes, the plan says {size}): find again"
        state = FileState(path, row["size"], row["mtime_ns"], row["inode"], row["content_hash"], row["dev"])
        features = None
        if row["features"] is not None and row["features_spec"] == FEATURES_SPEC and row["hash_spec"] == self._spec:
            features = MatchFeatures.from_bytes(row["features"])
        return _Indexed(state, features), ""


def _same_bytes(a: FileState, b: FileState) -> bool:
    return a.content_hash is not None and a.content_hash == b.content_hash


def _refuse(item: PlanItem, reason: str) -> PlanItem:
    return PlanItem(item.group_id, item.category, item.file, item.keeper, item.root, item.target, reason,
                    item.reference)

