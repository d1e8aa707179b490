"""What dedupe will do: one item per file to act on, built from groups or a plan document.

``plan_from_groups`` plans on groups (``runs.plan.plan_actions`` finds them
first, as ``find`` would); ``plan_from_document`` plans on a ``find --json`` document held in memory (a
review page's export, say), ``plan_from_file`` on one read from a file. Every
group goes through the same plan-time checks (``vetting.py``); a document's
near groups are verified again from the index. Nothing here touches a file.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any

from imgtwin.actions.chosen import proposed_groups
from imgtwin.actions.model import ActionKind, ActionPlan, FileState, PlanError, PlanItem, RefusedGroup, move_target
from imgtwin.actions.paths import Folders, containing_root, within
from imgtwin.actions.vetting import Proposed, Vetter
from imgtwin.documents import DocumentError, check_find_document, document_groups, load_find_document
from imgtwin.folders import check_folders, document_base, resolve
from imgtwin.matching.confirm import plan_params
from imgtwin.matching.near import NearParams
from imgtwin.options import db_keyword, expand
from imgtwin.persistence.index import HashIndex
from imgtwin.persistence.review_choices import read_choices
from imgtwin.records import DuplicateGroup

__all__ = [
    "ActionKind", "ActionPlan", "FileState", "PlanError", "PlanItem", "Proposed", "RefusedGroup", "check_move_to",
    "containing_root", "index_roots", "load_plan_document", "move_target", "plan_from_document",
    "plan_from_file", "plan_from_groups", "plan_from_reviewed",
]  # fmt: skip


def check_move_to(move_to: str, roots: Sequence[str], reference: Sequence[str] = (), option: str = "--move-to") -> str:
    """``move_to`` with its links resolved; PlanError if it leads into a scanned or reference folder.

    ``option`` names it in messages (``--copy-to`` for the copy action).
    """
    if "\0" in move_to:
        raise PlanError(f"{option} holds a NUL byte, which no folder name can hold")
    real = os.path.realpath(move_to)
    for kind, folders in (("scanned", Folders.of(roots)), ("reference", Folders.of(reference))):
        for given, resolved in zip(folders.given, folders.real):
            if within(os.path.abspath(move_to), given) or within(real, resolved):
                raise PlanError(f"{option} {move_to} is inside the {kind} folder {given}: choose a folder outside")
    return real


def _plan(
    proposed: Sequence[Proposed], refused: list[RefusedGroup], action: ActionKind, roots: Sequence[str],
    display_roots: Sequence[str], db_path: str | None, move_to: str | None, reference: Sequence[str],
    params: NearParams | None,
) -> ActionPlan:
    check_folders(reference, "reference folder")  # a missing one would protect nothing
    abs_roots = tuple(os.path.abspath(r) for r in roots)
    option = "--copy-to" if action is ActionKind.COPY else "--move-to"
    dest = check_move_to(move_to, abs_roots, reference, option) if move_to else None
    references = Folders.of(reference)
    index = HashIndex(db_path) if db_path and os.path.exists(db_path) else None
    try:
        vetter = Vetter(index, Folders.of(abs_roots), references, action, dest, params)
        for group in proposed:
            vetter.add(group)
        items, vetted = vetter.result()
    finally:
        if index is not None:
            index.close()
    return ActionPlan(action, abs_roots, tuple(items), tuple(refused + vetted), dest,
                      tuple(display_roots) or abs_roots, references.real)


def plan_from_groups(
    groups: Sequence[DuplicateGroup], roots: Sequence[str], action: ActionKind | str, *, db: str | None,
    move_to: str | None = None, reference: Sequence[str] = (), threshold: object = None, rotations: object = None,
) -> ActionPlan:
    """The plan for ``find_duplicates`` groups: every member but the keeper, checked against the index ``db``.

    Member paths are as ``find`` printed them (relative to the current folder
    when the roots were); identities and content hashes come from the index.
    Near members are taken as ``find`` verified them, except where a person
    chose another keeper in the review app (``actions.chosen``): those are
    verified again against it with ``threshold`` and ``rotations`` (the ones
    the groups were found with). Files a person unticked there are left alone.
    """
    try:
        params = plan_params(threshold, rotations)
    except (TypeError, ValueError) as exc:
        raise PlanError(str(exc)) from None
    proposed, honoured = proposed_groups(groups, read_choices(db))
    plan = _plan(proposed, [], ActionKind(action), roots, roots, db, move_to, reference, params)
    return dataclasses.replace(plan, honoured=honoured)


def plan_from_reviewed(
    groups: Sequence[Proposed], action: ActionKind | str, *, roots: Sequence[str], db: str,
    move_to: str | None = None, reference: Sequence[str] = (), threshold: object = None, rotations: object = None,
) -> ActionPlan:
    """The plan for groups a person chose among ``find``'s (the review app), checked as a document's are.

    The keeper may be another member than ``find`` chose, so near members are
    verified again against it with ``threshold`` and ``rotations``, as
    ``plan_from_document`` does; the groups are taken as they are, with no
    document written and parsed again on the way.
    """
    try:
        params = plan_params(threshold, rotations)
    except (TypeError, ValueError) as exc:
        raise PlanError(f"the reviewed groups: {exc}") from None
    return _plan(groups, [], ActionKind(action), roots, roots, db, move_to, reference, params)


def load_plan_document(plan_path: str) -> dict[str, Any]:
    """The ``find --json`` document in ``plan_path``; PlanError if it is not one (or not a file, or too large)."""
    try:
        return load_find_document(plan_path)
    except DocumentError as exc:
        raise PlanError(str(exc)) from None


def _check_document(document: object, name: str) -> None:
    try:
        check_find_document(document, name)
    except DocumentError as exc:
        raise PlanError(str(exc)) from None


def index_roots(db_path: str) -> tuple[str, ...]:
    """The roots recorded in the index (each folder ever scanned into it)."""
    if not os.path.exists(db_path):
        return ()
    with HashIndex(db_path, readonly=True) as index:
        return tuple(r.path for r in index.roots())


def _file_name(path: str, name: str, group_id: object, base: str | None = None) -> str:
    """``path`` made absolute (against the document's ``base``); PlanError if no file can have that name."""
    if "\0" in path:
        raise PlanError(f"{name}: group {group_id} names a file with a NUL byte in its path, which no file name "
                        "can hold")
    try:
        os.fsencode(path)
    except UnicodeEncodeError:
        raise PlanError(f"{name}: group {group_id} names a file whose path is not valid text") from None
    return resolve(path, base)


def _proposed(document: dict[str, Any], name: str) -> tuple[list[Proposed], list[RefusedGroup]]:
    proposed: list[Proposed] = []
    refused: list[RefusedGroup] = []
    try:
        base = document_base(document)
    except ValueError as exc:
        raise PlanError(f"{name}: {exc}") from None
    for group in document_groups(document):
        group_id = group.id
        if group.problem is not None:
            refused.append(RefusedGroup(group_id, f"group {group_id} is malformed: {group.problem}"))
            continue
        members = [(_file_name(m.path, name, group_id, base), m.size or 0, bool(m.keep)) for m in group.members]
        keepers = [m for m in members if m[2]]
        if len(keepers) != 1:
            refused.append(RefusedGroup(
                group_id, f"group {group_id} has {len(keepers)} files marked keep: exactly one is required",
                tuple(k[0] for k in keepers)))
            continue
        keeper = keepers[0]
        proposed.append(Proposed(group_id, group.category, (keeper[0], keeper[1]),
                                 tuple((p, s) for p, s, k in members if not k)))
    return proposed, refused


def plan_from_document(
    document: dict[str, Any],
    action: ActionKind | str,
    *,
    roots: Sequence[str] = (),
    db: str | None = None,
    move_to: str | None = None,
    reference: Sequence[str] = (),
    name: str = "the plan",
    db_path: str | None = None,
) -> ActionPlan:
    """The plan from a ``find --json`` document (parsed JSON) that a person may have edited.

    Each group must have exactly one member marked ``"keep": true``, else the
    whole group is refused. Relative paths are taken from the document's
    ``base`` (the folder ``find`` ran in), else from the current folder. ``roots``: the folders files must lie in; by
    default every root recorded in the index. Keeper and members alike must be
    images of the index (their identities and content hashes come from it), and
    near members must be verified matches of their keeper, recomputed from the
    index with the document's ``threshold`` and ``rotations`` (find's defaults
    when absent; at most the command line's limit). ``reference``: folders
    whose files are never acted on; a group that keeps a file outside them
    while listing one inside them as a copy is refused. ``name`` names the
    document in messages. PlanError if the document cannot be used at all.
    ``db``: the index (``db_path``: its old, deprecated keyword).
    """
    from imgtwin.persistence.location import default_db_path

    kind = ActionKind(action)
    _check_document(document, name)
    try:
        params = plan_params(document.get("threshold"), document.get("rotations"))
    except (TypeError, ValueError) as exc:
        raise PlanError(f"{name}: {exc}") from None
    proposed, refused = _proposed(document, name)
    db = db_keyword(db, db_path, "plan_from_document") or default_db_path()
    abs_roots = tuple(os.path.abspath(r) for r in roots) or index_roots(db)
    return _plan(proposed, refused, kind, abs_roots, tuple(roots) or abs_roots, db, move_to, reference, params)


def plan_from_file(
    plan_path: str,
    action: ActionKind | str,
    *,
    roots: Sequence[str] = (),
    db: str | None = None,
    move_to: str | None = None,
    reference: Sequence[str] = (),
    db_path: str | None = None,
) -> ActionPlan:
    """``plan_from_document`` on the ``find --json`` file at ``plan_path``, from any folder (its ``base``)."""
    db = db_keyword(db, db_path, "plan_from_file")
    return plan_from_document(load_plan_document(expand(plan_path)), action, roots=[expand(r) for r in roots],
                              db=expand(db) if db else None,
                              move_to=expand(move_to) if move_to else None, reference=[expand(r) for r in reference],
                              name=plan_path)
