"""Carrying out a plan, one file at a time, each step journalled before and after.

Per file: the checks (``checks.py``); an ``intent`` line in the journal; the
action; a ``done`` or ``failed`` line. A failure (a full disk, a permission
error, a file that vanished, a target that exists) costs that file only: it
is left as it was, journalled, and the run goes on.

Links (hardlink, symlink) never destroy the only copy of the replaced bytes
before the link is in place: the file is first renamed aside to a backup
name in its own folder (recorded in the intent), the link is made at its
name and checked to reach the keeper, ``done`` is journalled, and only then
is the backup removed (``backup_removed``). If making the link fails, the
backup is renamed back.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from imgtwin._version import __version__
from imgtwin.actions.checks import CheckContext, Checked, SkipItem, check_item
from imgtwin.actions.fileops import FileOps, RealFileOps, move_no_replace, same_file
from imgtwin.actions.journal import JOURNAL_FORMAT, JournalWriter, default_journal_path, now_iso
from imgtwin.actions.plan import ActionKind, ActionPlan, PlanItem

DONE, WOULD, SKIPPED, FAILED, UNCHANGED = "done", "would", "skipped", "failed", "unchanged"


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    """What happened (or, in a dry run, would happen) to one file."""

    item: PlanItem
    status: str  # done | would | skipped | failed | unchanged
    reason: str = ""
    detail: str | None = None  # where the file went (trash, move target), or a note


@dataclass(frozen=True)
class ApplyReport:
    """The outcome of every item of a plan, in plan order."""

    plan: ActionPlan
    outcomes: tuple[ItemOutcome, ...]
    journal_path: str | None
    dry_run: bool
    cancelled: bool = False

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def bytes(self) -> int:
        """Bytes taken out of the scanned folders (done, or would be in a dry run)."""
        return sum(o.item.file.size for o in self.outcomes if o.status in (DONE, WOULD))

    @property
    def complete(self) -> bool:
        """Every item done (or doable) and no group refused: exit code 0."""
        bad = self.count(SKIPPED) + self.count(FAILED)
        return not bad and not self.plan.refused and not self.cancelled


OnItem = Callable[[ItemOutcome], None]


def preview_plan(plan: ActionPlan, *, ops: FileOps | None = None, on_item: OnItem | None = None) -> ApplyReport:
    """The dry run: every check that needs no reading, nothing written anywhere."""
    ctx = CheckContext(plan, ops or RealFileOps(), verify_content=False)
    outcomes, seen, targets = [], set(), set()
    for item in plan.items:
        try:
            if item.path in seen:
                raise SkipItem("listed twice in the plan")
            seen.add(item.path)
            check_item(item, ctx)
            if item.target and item.target in targets:
                raise SkipItem(f"another file of this plan moves to {item.target}")
            if item.target:
                targets.add(item.target)
            outcome = ItemOutcome(item, WOULD, detail=item.target)
        except SkipItem as skip:
            outcome = ItemOutcome(item, UNCHANGED if skip.nothing_to_do else SKIPPED, skip.reason)
        outcomes.append(outcome)
        if on_item:
            on_item(outcome)
    return ApplyReport(plan, tuple(outcomes), None, dry_run=True)


@dataclass
class _Run:
    plan: ActionPlan
    ops: FileOps
    journal: JournalWriter
    run_id: str
    seq: int = 0
    outcomes: list[ItemOutcome] = field(default_factory=list)


def apply_plan(
    plan: ActionPlan,
    journal_path: str | None = None,
    *,
    ops: FileOps | None = None,
    on_item: OnItem | None = None,
    cancel: threading.Event | None = None,
    allow_delete: bool = False,
) -> ApplyReport:
    """Carry out ``plan``, journalling to ``journal_path`` (a new file; default in the user data folder).

    ``delete`` is refused unless ``allow_delete``: it is the one action undo cannot reverse.
    """
    if plan.action is ActionKind.DELETE and not allow_delete:
        raise ValueError("delete is permanent and cannot be undone: pass allow_delete=True to confirm")
    if plan.action is ActionKind.MOVE and not plan.move_to:
        raise ValueError("the move action needs a move_to folder")
    path = journal_path or default_journal_path(plan.action.value)
    ops = ops or RealFileOps()
    run_id = f"{os.getpid():x}{int.from_bytes(os.urandom(3), 'big'):06x}"
    ctx = CheckContext(plan, ops, verify_content=True)
    cancelled = False
    with JournalWriter(path, create=True) as journal:
        journal.write({"type": "run", "format": JOURNAL_FORMAT, "tool": "imgtwin", "version": __version__,
                       "run_id": run_id, "action": plan.action.value, "started_at": now_iso(),
                       "roots": list(plan.roots), "move_to": plan.move_to})
        for refused in plan.refused:
            journal.write({"type": "refused", "group": refused.group_id, "reason": refused.reason})
        run = _Run(plan, ops, journal, run_id)
        seen: set[str] = set()
        for item in plan.items:
            if cancel is not None and cancel.is_set():
                cancelled = True
                break
            outcome = _one(run, ctx, item, seen)
            run.outcomes.append(outcome)
            if on_item:
                on_item(outcome)
        counts = {s: sum(o.status == s for o in run.outcomes) for s in (DONE, FAILED, SKIPPED, UNCHANGED)}
        journal.write({"type": "end", "finished_at": now_iso(), "cancelled": cancelled, **counts})
    return ApplyReport(plan, tuple(run.outcomes), path, dry_run=False, cancelled=cancelled)


def _one(run: _Run, ctx: CheckContext, item: PlanItem, seen: set[str]) -> ItemOutcome:
    try:
        if item.path in seen:
            raise SkipItem("listed twice in the plan")
        seen.add(item.path)
        checked = check_item(item, ctx)
    except SkipItem as skip:
        run.journal.write({"type": "skipped", "group": item.group_id, "path": item.path, "reason": skip.reason})
        return ItemOutcome(item, UNCHANGED if skip.nothing_to_do else SKIPPED, skip.reason)
    run.seq += 1
    seq = run.seq
    st = checked.file
    intent = {
        "type": "intent", "seq": seq, "action": run.plan.action.value, "group": item.group_id,
        "path": item.path, "keeper": item.keeper.path, "size": st.st_size, "mtime_ns": st.st_mtime_ns,
        "atime_ns": st.st_atime_ns, "mode": st.st_mode, "dev": st.st_dev, "inode": st.st_ino,
        "content_hash": checked.content_hash or item.file.content_hash,
        "keeper_dev": checked.keeper.st_dev, "keeper_inode": checked.keeper.st_ino,
    }
    if item.target:
        intent["target"] = item.target
    if run.plan.action.links:
        intent["backup"] = os.path.join(os.path.dirname(item.path), f".imgtwin-backup-{run.run_id}-{seq}")
    run.journal.write(intent)
    try:
        done, detail, after = _act(run, item, checked, intent)
    except OSError as exc:
        failed = {"type": "failed", "seq": seq, "reason": _os_reason(exc)}
        backup = intent.get("backup")
        if backup and os.path.lexists(backup) and not os.path.lexists(item.path):
            failed["original_at"] = backup
        run.journal.write(failed)
        return ItemOutcome(item, FAILED, failed["reason"], failed.get("original_at"))
    run.journal.write({"type": "done", "seq": seq, **done})
    note = after() if after else None
    return ItemOutcome(item, DONE, note or "", detail)


def _os_reason(exc: OSError) -> str:
    text = exc.strerror or str(exc)
    if exc.filename:
        text += f": {exc.filename}"
    return text


_Act = tuple[dict[str, object], str | None, Callable[[], str | None] | None]


def _act(run: _Run, item: PlanItem, checked: Checked, intent: dict[str, object]) -> _Act:
    """Do the action; returns the ``done`` record's extra fields, a detail, and a clean-up step."""
    ops, action, path = run.ops, run.plan.action, item.path
    if action is ActionKind.TRASH:
        trashed = ops.trash(path)
        return {"trash_path": trashed.path, "trash_info": trashed.info_path}, trashed.path, None
    if action is ActionKind.MOVE:
        assert item.target is not None
        created = move_no_replace(ops, path, item.target, checked.content_hash)
        return {"created_dirs": created}, item.target, None
    if action is ActionKind.DELETE:
        ops.unlink(path)
        ops.sync_dir(os.path.dirname(path))
        return {}, None, None
    backup = str(intent["backup"])
    _link_in_place(ops, action, item, checked, backup)

    def remove_backup() -> str | None:
        try:
            ops.unlink(backup)
        except OSError as exc:
            return f"linked, but the original's bytes are still at {backup} ({exc.strerror or exc})"
        run.journal.write({"type": "backup_removed", "seq": intent["seq"]})
        return None

    return {}, item.keeper.path, remove_backup


def _link_in_place(ops: FileOps, action: ActionKind, item: PlanItem, checked: Checked, backup: str) -> None:
    """Set the file aside as ``backup``, put a link to the keeper at its name, check it."""
    path, keeper = item.path, item.keeper.path
    ops.create_exclusive(backup)  # reserves the name: rename() below replaces only this empty file of ours
    try:
        ops.rename(path, backup)
    except BaseException:
        ops.unlink(backup)
        raise
    linked = False
    try:
        if action is ActionKind.HARDLINK:
            ops.link(keeper, path)
        else:
            ops.symlink(keeper, path)
        linked = True
        if not same_file(ops.stat(path), checked.keeper):
            raise OSError(0, f"the new link does not reach the keeper {keeper}")
        ops.sync_dir(os.path.dirname(path))
    except BaseException:
        if linked:
            ops.unlink(path)
        if not os.path.lexists(path):
            ops.rename(backup, path)  # the original back at its name
        raise
