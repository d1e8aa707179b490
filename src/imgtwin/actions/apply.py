"""Carrying out a plan, one file at a time, each step journalled before and after.

Per file, holding a lock on it and its keeper that every imgtwin run takes
(``exclusive.py``): the checks (``checks.py``); an ``intent`` line in the
journal; the action; a ``done`` or ``failed`` line. A failure (a full disk, a permission
error, a file that vanished, a target that exists) costs that file only: it
is left as it was, journalled, and the run goes on. A journal line that
cannot be written stops the run: nothing is done that the journal does not
hold (``ApplyReport.journal_error`` says where it stopped).

Every action starts by setting the file aside: it is renamed, in its own
folder, to a name reserved with ``O_EXCL`` (``backup`` in the intent). A
rename moves whatever the name holds at that instant, atomically, so the file
set aside is then compared (device, inode, size, mtime) with the one the
checks verified; if another process swapped in another file meanwhile, that
file is put back at its name (never over a file that appeared there) and left
alone. Only the verified inode is then trashed, moved, deleted or replaced.

Links (hardlink, symlink) never destroy the only copy of the replaced bytes
before the link is in place: the link is made under a name of this run's,
checked to reach the keeper, linked to the file's name, ``done`` is
journalled, and only then is the set-aside original removed
(``backup_removed``). If making the link fails, the original is put back.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from imgtwin._version import __version__
from imgtwin.actions.checks import CheckContext, Checked, SkipItem, Verdict, check_item
from imgtwin.actions.exclusive import FileBusy, files_locked
from imgtwin.actions.fileops import (
    FileOps,
    RealFileOps,
    copy_no_replace,
    identity,
    lstat_or_none,
    move_no_replace,
    put_back,
    same_file,
)
from imgtwin.actions.journal import (
    JOURNAL_FORMAT,
    JournalWriteError,
    JournalWriter,
    default_journal_path,
    now_iso,
)
from imgtwin.actions.model import ActionKind, ActionPlan, PlanItem
from imgtwin.actions.trash import trash_records_location

DONE, WOULD, SKIPPED, FAILED, UNCHANGED, PROTECTED = "done", "would", "skipped", "failed", "unchanged", "protected"


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    """What happened (or, in a dry run, would happen) to one file."""

    item: PlanItem
    status: str  # done | would | skipped | failed | unchanged | protected
    reason: str = ""
    detail: str | None = None  # where the file went (trash, move target), or a note


@dataclass(frozen=True)
class ApplyReport:
    """The outcome of every item of a plan, in plan order (up to where the run stopped)."""

    plan: ActionPlan
    outcomes: tuple[ItemOutcome, ...]
    journal_path: str | None
    dry_run: bool
    cancelled: bool = False
    journal_error: str | None = None  # the run stopped: a journal line could not be written

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def bytes(self) -> int:
        """Bytes taken out of the scanned folders (done, or would be in a dry run)."""
        return sum(o.item.file.size for o in self.outcomes if o.status in (DONE, WOULD))

    @property
    def complete(self) -> bool:
        """Every item done (or doable, or protected) and no group refused: exit code 0."""
        bad = self.count(SKIPPED) + self.count(FAILED)
        return not bad and not self.plan.refused and not self.cancelled and not self.journal_error


OnItem = Callable[[ItemOutcome], None]


def _left_alone(item: PlanItem, skip: SkipItem) -> ItemOutcome:
    status = {Verdict.UNCHANGED: UNCHANGED, Verdict.PROTECTED: PROTECTED}.get(skip.verdict, SKIPPED)
    return ItemOutcome(item, status, skip.reason)


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
            outcome = _left_alone(item, skip)
        outcomes.append(outcome)
        if on_item:
            on_item(outcome)
    return ApplyReport(plan, tuple(outcomes), None, dry_run=True)


class _Raced(Exception):
    """The name held another file than the one verified when it was set aside; that file was put back
    (``kept_at`` None) or, if its name was taken meanwhile, kept at ``kept_at``."""

    def __init__(self, reason: str, kept_at: str | None = None) -> None:
        super().__init__(reason)
        self.kept_at = kept_at


class _Stopped(Exception):
    """A journal line could not be written: the run ends here."""

    def __init__(self, message: str, outcome: ItemOutcome | None = None) -> None:
        super().__init__(message)
        self.message, self.outcome = message, outcome


@dataclass
class _Run:
    plan: ActionPlan
    ops: FileOps
    journal: JournalWriter
    run_id: str
    lock_wait: float | None = None  # None: $IMGTWIN_LOCK_WAIT or the default
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
    lock_wait: float | None = None,
) -> ApplyReport:
    """Carry out ``plan``, journalling to ``journal_path`` (a new file; default in the user data folder).

    ``delete`` is refused unless ``allow_delete``: it is the one action undo
    cannot reverse. ``JournalWriteError`` if the journal cannot even be begun
    (nothing was done, and no journal is left); a journal that fails later
    stops the run, reported in ``journal_error``. Each file is acted on holding a lock on it and its
    keeper; one another run holds for over ``lock_wait`` seconds is skipped (``exclusive.lock_wait``).
    """
    if plan.action is ActionKind.DELETE and not allow_delete:
        raise ValueError("delete is permanent and cannot be undone: pass allow_delete=True to confirm")
    if plan.action.to_folder and not plan.move_to:
        raise ValueError(f"the {plan.action.value} action needs a move_to folder")
    path = journal_path or default_journal_path(plan.action.value)
    ops = ops or RealFileOps()
    run_id = f"{os.getpid():x}{int.from_bytes(os.urandom(3), 'big'):06x}"
    ctx = CheckContext(plan, ops, verify_content=True)
    cancelled, stopped = False, None
    journal = JournalWriter(path, create=True, ops=ops)
    with journal:
        try:
            journal.write({"type": "run", "format": JOURNAL_FORMAT, "tool": "imgtwin", "version": __version__,
                           "run_id": run_id, "action": plan.action.value, "started_at": now_iso(),
                           "roots": list(plan.roots), "move_to": plan.move_to, "reference": list(plan.reference)})
        except JournalWriteError:
            journal.discard()  # it would record nothing: no empty journal is left for undo to reject
            raise
        run = _Run(plan, ops, journal, run_id, lock_wait)
        try:
            for refused in plan.refused:
                _write(run, {"type": "refused", "group": refused.group_id, "reason": refused.reason},
                       "before acting on any file")
            seen: set[str] = set()
            for item in plan.items:
                if cancel is not None and cancel.is_set():
                    cancelled = True
                    break
                outcome = _one(run, ctx, item, seen)
                run.outcomes.append(outcome)
                if on_item:
                    on_item(outcome)
        except _Stopped as stop:
            stopped = stop.message
            if stop.outcome is not None:
                run.outcomes.append(stop.outcome)
                if on_item:
                    on_item(stop.outcome)
        counts = {s: sum(o.status == s for o in run.outcomes) for s in (DONE, FAILED, SKIPPED, UNCHANGED, PROTECTED)}
        try:
            journal.write({"type": "end", "finished_at": now_iso(), "cancelled": cancelled,
                           "stopped": stopped is not None, **counts})
        except JournalWriteError as exc:
            stopped = stopped or f"{exc}: the run's last line is missing (undo still works)"
    return ApplyReport(plan, tuple(run.outcomes), path, dry_run=False, cancelled=cancelled, journal_error=stopped)


def _write(run: _Run, record: dict[str, object], where: str, outcome: ItemOutcome | None = None) -> None:
    try:
        run.journal.write(record)
    except JournalWriteError as exc:
        raise _Stopped(f"{exc}: stopped {where}", outcome) from exc


def _missing_dirs(folder: str) -> list[str]:
    """``folder`` and its parents that do not exist yet, outermost first."""
    missing = []
    while folder and not os.path.lexists(folder) and os.path.dirname(folder) != folder:
        missing.append(folder)
        folder = os.path.dirname(folder)
    return list(reversed(missing))


def _one(run: _Run, ctx: CheckContext, item: PlanItem, seen: set[str]) -> ItemOutcome:
    """Checks and acts on ``item`` holding the lock on it and on its keeper (``exclusive.py``): no other
    imgtwin run can remove the keeper between its check and the action."""
    try:
        if item.path in seen:
            raise SkipItem("listed twice in the plan")
        seen.add(item.path)
        with files_locked((item.path, item.keeper.path), run.lock_wait):
            return _checked_and_done(run, item, check_item(item, ctx))
    except FileBusy as busy:
        skip = SkipItem(busy.reason)
    except SkipItem as failed_check:
        skip = failed_check
    record: dict[str, object] = {"type": "skipped", "group": item.group_id, "path": item.path, "reason": skip.reason}
    if skip.verdict is Verdict.PROTECTED:
        record["protected"] = True
    _write(run, record, f"at {item.path}, before acting on it")
    return _left_alone(item, skip)


def _checked_and_done(run: _Run, item: PlanItem, checked: Checked) -> ItemOutcome:
    run.seq += 1
    seq = run.seq
    st = checked.file
    intent: dict[str, object] = {
        "type": "intent", "seq": seq, "action": run.plan.action.value, "group": item.group_id,
        "path": item.path, "keeper": item.keeper.path, "size": st.st_size, "mtime_ns": st.st_mtime_ns,
        "atime_ns": st.st_atime_ns, "mode": st.st_mode, "dev": st.st_dev, "inode": st.st_ino,
        "content_hash": checked.content_hash or item.file.content_hash,
        "keeper_dev": checked.keeper.st_dev, "keeper_inode": checked.keeper.st_ino,
    }
    if item.target:
        intent["target"] = item.target
        intent["new_dirs"] = _missing_dirs(os.path.dirname(item.target))
    if run.plan.action is ActionKind.COPY:
        pass  # nothing is set aside: the file stays where it is
    elif run.plan.action is not ActionKind.TRASH or trash_records_location():
        intent["backup"] = os.path.join(os.path.dirname(item.path), f".imgtwin-backup-{run.run_id}-{seq}")
    _write(run, intent, f"before acting on {item.path}")
    try:
        done, detail, after = _act(run, item, checked, intent)
    except (_Raced, OSError) as exc:
        reason = _os_reason(exc) if isinstance(exc, OSError) else str(exc)
        kept_at = exc.kept_at if isinstance(exc, _Raced) else _original_at(run.ops, intent.get("backup"), st)
        failed: dict[str, object] = {"type": "failed", "seq": seq, "reason": reason}
        if kept_at:
            failed["original_at"] = kept_at
            reason += f"; the file is kept at {kept_at}"
        status = SKIPPED if isinstance(exc, _Raced) and not kept_at else FAILED
        outcome = ItemOutcome(item, status, reason, kept_at)
        _write(run, failed, f"after {item.path}", outcome)
        return outcome
    kept = f"the original is kept at {intent.get('backup')}" if after else None
    _write(run, {"type": "done", "seq": seq, **done}, f"after {item.path}", ItemOutcome(item, DONE, kept or "", detail))
    note = after() if after else None
    return ItemOutcome(item, DONE, note or "", detail)


def _original_at(ops: FileOps, backup: object, verified: os.stat_result) -> str | None:
    """``backup`` if the original is still set aside there after a failure (it could not be put back)."""
    if not isinstance(backup, str):
        return None
    at = lstat_or_none(ops, backup)
    return backup if at is not None and identity(at) == identity(verified) else None


def _os_reason(exc: OSError) -> str:
    text = exc.strerror or str(exc)
    if exc.filename:
        text += f": {exc.filename}"
    return text


_Act = tuple[dict[str, object], str | None, Callable[[], str | None] | None]


def _act(run: _Run, item: PlanItem, checked: Checked, intent: dict[str, object]) -> _Act:
    """Do the action; returns the ``done`` record's extra fields, a detail, and a clean-up step."""
    ops, action, path = run.ops, run.plan.action, item.path
    tag = f"{run.run_id}-{intent['seq']}"
    backup = intent.get("backup")
    if action is ActionKind.COPY:
        assert item.target is not None
        return {"created_dirs": copy_no_replace(ops, path, item.target, checked.content_hash)}, item.target, None
    if not isinstance(backup, str):  # a platform trash that does not say where files go: nothing to set aside to
        if identity(ops.lstat(path)) != identity(checked.file):
            raise _Raced("it was replaced by another file just now: left alone")
        trashed = ops.trash(path, path, tag)
        return {"trash_path": trashed.path, "trash_info": trashed.info_path}, trashed.path, None
    _set_aside(ops, path, backup, checked.file)
    try:
        if action is ActionKind.TRASH:
            trashed = ops.trash(backup, path, tag)
            return {"trash_path": trashed.path, "trash_info": trashed.info_path}, trashed.path, None
        if action is ActionKind.MOVE:
            assert item.target is not None
            created = move_no_replace(ops, backup, item.target, checked.content_hash)
            return {"created_dirs": created}, item.target, None
        if action is ActionKind.DELETE:
            ops.unlink(backup)
            ops.sync_dir(os.path.dirname(path))
            return {}, None, None
        _link_at(ops, action, item, checked, backup)
    except BaseException:
        at_backup = lstat_or_none(ops, backup)
        if at_backup is not None and identity(at_backup) == identity(checked.file):
            put_back(ops, backup, path)  # the original back at its name (never over a file that appeared)
        raise

    def remove_backup() -> str | None:
        try:
            ops.unlink(backup)
        except OSError as exc:
            return f"linked, but the original's bytes are still at {backup} ({exc.strerror or exc})"
        _write(run, {"type": "backup_removed", "seq": intent["seq"]}, f"after {path}",
               ItemOutcome(item, DONE, "", item.keeper.path))
        return None

    return {}, item.keeper.path, remove_backup


def _set_aside(ops: FileOps, path: str, backup: str, verified: os.stat_result) -> None:
    """Rename the file to ``backup`` (a name reserved first) and check it is the inode verified."""
    ops.create_exclusive(backup)  # reserves the name: rename() below replaces only this empty file of ours
    try:
        ops.rename(path, backup)
    except BaseException:
        ops.unlink(backup)
        raise
    if identity(ops.lstat(backup)) != identity(verified):
        try:
            put_back(ops, backup, path)  # someone else's file: back at its name
        except OSError as exc:
            raise _Raced("it was replaced by another file while being acted on, and that file could not be put "
                         f"back ({_os_reason(exc)})", kept_at=backup) from exc
        raise _Raced("it was replaced by another file while being acted on: put back, left alone")


def link_temp_name(backup: str) -> str:
    """Where a link to the keeper is made and checked before it is put at the file's name."""
    return backup + "-link"


def _link_at(ops: FileOps, action: ActionKind, item: PlanItem, checked: Checked, backup: str) -> None:
    """Put a link to the keeper at the file's (now free) name, checked to reach the keeper.

    The link is made under a name of this run's (``link_temp_name``) and
    checked there, then linked to the file's name, which ``link`` never
    replaces: a name another process may be at work on is never checked and
    then acted on.
    """
    path, keeper = item.path, item.keeper.path
    temp = link_temp_name(backup)
    if action is ActionKind.HARDLINK:
        ops.link(keeper, temp)
    else:
        ops.symlink(keeper, temp)
    try:
        if not same_file(ops.stat(temp), checked.keeper):
            raise OSError(0, f"the new link does not reach the keeper {keeper} (it was replaced meanwhile)")
        put_back(ops, temp, path)
    except BaseException:
        if os.path.lexists(temp):
            ops.unlink(temp)
        raise
