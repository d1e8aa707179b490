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
keeper's bytes, and not be marked "not a duplicate" of the keeper
(``persistence.decisions``). A member that fails is kept in the plan with its ``refusal``
(shown and journalled as skipped); a member in a reference folder is kept
with its ``reference`` folder (shown as left alone). The checks made right
before acting (``checks.py``) repeat every one of these against the disk.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from imgtwin.actions.model import ActionKind, FileState, PlanItem, RefusedGroup, move_target
from imgtwin.actions.paths import Folders
from imgtwin.hashing.dct import DCTHasher
from imgtwin.hashing.features import FEATURES_SPEC, MatchFeatures
from imgtwin.matching.confirm import confirm_pairs
from imgtwin.matching.near import NearParams
from imgtwin.persistence.decisions import Pair, apart_pairs, pair
from imgtwin.persistence.index import HashIndex, IndexReadError


@dataclass(frozen=True, slots=True)
class Proposed:
    """A group as a plan states it: absolute paths with the sizes the plan shows."""

    group_id: int
    category: str  # "exact" or "near"
    keeper: tuple[str, int]
    members: tuple[tuple[str, int], ...]  # every file but the keeper
    trusted: bool = False  # find just verified its near members against this keeper: not verified again


@dataclass(frozen=True, slots=True)
class _Indexed:
    state: FileState
    features: MatchFeatures | None  # None: stale or missing (hashed by another imgtwin version)


class Vetter:
    """Plan-time checks of proposed groups against the roots, the reference folders and the index.

    ``params``: the matching settings to verify near members with (those of
    groups not ``trusted``); ``None`` trusts every group's near members. Add every
    group with ``add``, then take the items and refusals from ``result``
    (near members are verified there, all groups at once).
    """

    def __init__(self, index: HashIndex | None, roots: Folders, reference: Folders, action: ActionKind,
                 move_to: str | None, params: NearParams | None) -> None:
        self.index, self.roots, self.reference = index, roots, reference
        self.action, self.move_to, self.params = action, move_to, params
        self._spec = DCTHasher().spec.id
        self._apart = apart_pairs(index.conn) if index is not None else frozenset()  # persistence.decisions
        self._items: list[PlanItem] = []
        self._refused: list[RefusedGroup] = []
        self._pending: list[tuple[int, _Indexed, _Indexed]] = []  # (item position, keeper, member)

    def add(self, group: Proposed) -> None:
        refusal = self._vet(group)
        if refusal is not None:
            self._refused.append(refusal)

    def result(self) -> tuple[list[PlanItem], list[RefusedGroup]]:
        self._confirm()
        return self._items, self._refused

    def _vet(self, group: Proposed) -> RefusedGroup | None:
        gid = group.group_id
        keeper_path, keeper_size = group.keeper
        kept = (keeper_path,)
        if not self.roots.holding(keeper_path):
            return RefusedGroup(gid, f"group {gid}: its keeper {keeper_path} is outside the scanned folders", kept)
        keeper, problem = self._indexed(keeper_path, keeper_size)
        if keeper is None:
            return RefusedGroup(gid, f"group {gid}: its keeper {keeper_path} {problem}", kept)
        if self.reference and not self.reference.touching(keeper_path):
            victims = [p for p, _ in group.members if self.reference.touching(p)]
            if victims:
                return RefusedGroup(gid, f"group {gid} keeps {keeper_path} but would act on {victims[0]}, in the "
                                         "reference folder: a reference file must be the keeper", kept)
        for path, size in group.members:
            item, indexed = self._member(group, keeper.state, path, size)
            if indexed is not None and item.refusal is None and item.reference is None \
                    and self.params is not None and not group.trusted and not item.byte_identical:
                self._pending.append((len(self._items), keeper, indexed))
            self._items.append(item)
        return None

    def _member(self, group: Proposed, keeper: FileState, path: str, size: int) -> tuple[PlanItem, _Indexed | None]:
        root = self.roots.holding(path)
        target = None
        if self.action.to_folder and self.move_to and root:
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
        if _apart(self._apart, indexed.state, keeper):
            return _refuse(item, "marked not a duplicate of the keeper (`imgtwin mark list`): refused"), None
        if group.category == "exact" and not _same_bytes(indexed.state, keeper):
            item = _refuse(item, "the plan calls it an exact copy, but the index holds other bytes than the "
                                 "keeper's: refused")
        return item, indexed

    def _confirm(self) -> None:
        """Refuse each pending near member that is not a verified match of its keeper (one matcher run)."""
        stale = "not verified: the index holds no current features for {} (scan it again with this imgtwin)"
        rows: dict[str, MatchFeatures] = {}
        checks: list[tuple[int, str, str]] = []
        for k, keeper, member in self._pending:
            if member.features is None:
                self._items[k] = _refuse(self._items[k], stale.format("it"))
            elif keeper.features is None:
                self._items[k] = _refuse(self._items[k], stale.format("the keeper"))
            else:
                rows[keeper.state.path], rows[member.state.path] = keeper.features, member.features
                checks.append((k, keeper.state.path, member.state.path))
        if not checks:
            return
        assert self.params is not None
        paths = sorted(rows, key=os.fsencode)  # find's row order, so that pairs are oriented as there
        position = {path: n for n, path in enumerate(paths)}
        verdicts = confirm_pairs([rows[p] for p in paths], [(position[a], position[b]) for _, a, b in checks],
                                 self.params)
        for (k, _, _), confirmed in zip(checks, verdicts):
            if not confirmed:
                self._items[k] = _refuse(self._items[k], "not a verified match of the keeper (checked again from "
                                                         "the index with the plan's threshold): refused")

    def _indexed(self, path: str, size: int) -> tuple[_Indexed | None, str]:
        """The index's record of an image at ``path``, or None and what is wrong."""
        if self.index is None:
            return None, "is not in the index (no index): scan it first"
        try:
            row = self.index.lookup(path)
        except (IndexReadError, ValueError, UnicodeError):
            row = None
        if row is None or row.vanished:
            return None, "is not a file of the index: scan it first"
        if row.error_reason is not None:
            return None, f"is not an image the scan could read ({row.error_reason})"
        if row.hash is None or row.content_hash is None:
            return None, "has no content hash in the index: scan it again"
        if row.size != size:
            return None, f"has another size in the index ({row.size} bytes, the plan says {size}): find again"
        state = FileState.of(row)
        features = None
        if row.features is not None and row.features_spec == FEATURES_SPEC and row.hash_spec == self._spec:
            features = MatchFeatures.from_bytes(row.features)
        return _Indexed(state, features), ""


def _apart(decided: frozenset[Pair], a: FileState, b: FileState) -> bool:
    """Whether a person said the two files are not duplicates (by their contents as indexed)."""
    return a.content_hash is not None and b.content_hash is not None and pair(a.content_hash, b.content_hash) in decided


def _same_bytes(a: FileState, b: FileState) -> bool:
    return a.content_hash is not None and a.content_hash == b.content_hash


def _refuse(item: PlanItem, reason: str) -> PlanItem:
    return PlanItem(item.group_id, item.category, item.file, item.keeper, item.root, item.target, reason,
                    item.reference)

