"""Undoing a dedupe run from its journal, newest action first.

Each entry is judged by what the file system shows now, not only by what the
journal says, so an action interrupted at any instant (an ``intent`` with no
``done``) is undone as far as it got, and running undo twice is harmless.

Rules per action:

* move: the file goes back from the target (never over an existing file);
  a half-done move (both names present) keeps the original and drops the copy.
* trash: the file comes back from the trash folder the journal names, or the
  one whose ``.trashinfo`` names it (same inode) if the run was killed first.
* hardlink, symlink: while the set-aside original (``backup``) exists, it is
  renamed back. After a complete run the backup is gone, and the bytes are
  restored from the keeper, which held the same bytes (checked against the
  journalled content hash before copying), with the original mode and times.
* delete: cannot be undone; reported.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from imgtwin.actions.fileops import FileOps, RealFileOps, lstat_or_none, move_no_replace, remove_empty_dirs
from imgtwin.actions.journal import JournalEntry, JournalWriter, now_iso, read_journal

RESTORED, NOT_NEEDED, ALREADY, FAILED, IRREVERSIBLE = (
    "restored", "not_needed", "already_undone", "failed", "irreversible")


@dataclass(frozen=True, slots=True)
class UndoOutcome:
    seq: int
    action: str
    path: str
    status: str  # restored | not_needed | already_undone | failed | irreversible
    reason: str = ""


@dataclass(frozen=True)
class UndoReport:
    journal_path: str
    outcomes: tuple[UndoOutcome, ...]
    bad_lines: int = 0

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def complete(self) -> bool:
        """Everything the run did is reversed (exit code 0)."""
        return not (self.count(FAILED) or self.count(IRREVERSIBLE))


class _CannotUndo(Exception):
    pass


def undo_journal(
    journal_path: str, *, ops: FileOps | None = None, on_item: Callable[[UndoOutcome], None] | None = None
) -> UndoReport:
    """Reverse every action recorded in ``journal_path``; returns what could and could not be undone."""
    contents = read_journal(journal_path)
    ops = ops or RealFileOps()
    outcomes = []
    with JournalWriter(journal_path, create=False) as journal:
        journal.write({"type": "undo", "started_at": now_iso()})
        for entry in reversed(contents.entries):
            outcome = _undo_entry(ops, entry)
            if outcome.status in (RESTORED, NOT_NEEDED):
                journal.write({"type": "undone", "seq": entry.seq, "how": outcome.status})
            elif outcome.status == FAILED:
                journal.write({"type": "undo_failed", "seq": entry.seq, "reason": outcome.reason})
            outcomes.append(outcome)
            if on_item:
                on_item(outcome)
        journal.write({"type": "undo_end", "finished_at": now_iso(),
                       **{s: sum(o.status == s for o in outcomes) for s in (RESTORED, NOT_NEEDED, FAILED)}})
    return UndoReport(journal_path, tuple(outcomes), contents.bad_lines)


def _undo_entry(ops: FileOps, entry: JournalEntry) -> UndoOutcome:
    intent = entry.intent
    action, path = str(intent.get("action")), str(intent.get("path"))
    if entry.undone:
        return UndoOutcome(entry.seq, action, path, ALREADY)
    handler = {"move": _undo_move, "trash": _undo_trash, "delete": _undo_delete,
               "hardlink": _undo_link, "symlink": _undo_link}.get(action)
    try:
        if handler is None:
            raise _CannotUndo(f"unknown action {action!r}")
        status, reason = handler(ops, entry)
    except _CannotUndo as exc:
        return UndoOutcome(entry.seq, action, path, FAILED, str(exc))
    except OSError as exc:
        text = exc.strerror or str(exc)
        return UndoOutcome(entry.seq, action, path, FAILED, f"{text}: {exc.filename}" if exc.filename else text)
    return UndoOutcome(entry.seq, action, path, status, reason)


def _is_original(st: os.stat_result | None, intent: dict[str, Any]) -> bool:
    return st is not None and stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) == (intent["dev"], intent["inode"])


def _undo_move(ops: FileOps, entry: JournalEntry) -> tuple[str, str]:
    intent = entry.intent
    path, target = intent["path"], intent["target"]
    at_path, at_target = lstat_or_none(ops, path), lstat_or_none(ops, target)
    created = list((entry.outcome or {}).get("created_dirs") or [])
    if at_path is None and at_target is not None:
        move_no_replace(ops, target, path, intent.get("content_hash"))
        remove_empty_dirs(ops, created)
        return RESTORED, ""
    if at_path is not None and at_target is not None:
        if (at_path.st_dev, at_path.st_ino) == (at_target.st_dev, at_target.st_ino) or (
            entry.state != "done" and _is_original(at_path, intent)
        ):
            ops.unlink(target)  # interrupted half-way: the name or copy at the target is ours
            remove_empty_dirs(ops, created)
            return RESTORED, "interrupted move: the original was still in place"
        raise _CannotUndo(f"files exist at both {path} and {target}: left as they are")
    if at_path is not None:
        if _is_original(at_path, intent):
            return NOT_NEEDED, "the file was not moved"
        raise _CannotUndo(f"the moved file is no longer at {target}")
    raise _CannotUndo(f"the file is neither at {path} nor at {target}")


def _undo_trash(ops: FileOps, entry: JournalEntry) -> tuple[str, str]:
    from imgtwin.actions.trash import find_trashed

    intent, done = entry.intent, entry.outcome if entry.state == "done" else None
    path = intent["path"]
    at_path = lstat_or_none(ops, path)
    if done is not None and done.get("trash_path"):
        locations = [(done["trash_path"], done.get("trash_info"))]
    elif done is not None:
        raise _CannotUndo("this system's trash does not say where the file went: restore it from the trash")
    else:
        found = find_trashed(path, intent.get("inode"), intent["size"])
        locations = [(t.path, t.info_path) for t in found if t.path]
        if _is_original(at_path, intent):
            for orphan in (t for t in found if not t.path and t.info_path):
                ops.unlink(orphan.info_path)  # a name reserved in the trash by the killed run
            return NOT_NEEDED, "the file was not trashed"
    if not locations or not os.path.lexists(locations[0][0]):
        if _is_original(at_path, intent):
            return NOT_NEEDED, "the file is back at its place"
        raise _CannotUndo("the file is no longer in the trash")
    if at_path is not None:
        raise _CannotUndo(f"another file is now at {path}: the trashed one stays at {locations[0][0]}")
    trash_path, info_path = locations[0]
    move_no_replace(ops, trash_path, path, intent.get("content_hash"))
    if info_path and os.path.lexists(info_path):
        ops.unlink(info_path)
    return RESTORED, ""


def _undo_delete(ops: FileOps, entry: JournalEntry) -> tuple[str, str]:
    if entry.state != "done" and _is_original(lstat_or_none(ops, entry.intent["path"]), entry.intent):
        return NOT_NEEDED, "the file was not deleted"
    return IRREVERSIBLE, "deleted permanently: delete is the one action that cannot be undone"


def _undo_link(ops: FileOps, entry: JournalEntry) -> tuple[str, str]:
    intent = entry.intent
    path, keeper, backup = intent["path"], intent["keeper"], intent["backup"]
    at_path, at_backup = lstat_or_none(ops, path), lstat_or_none(ops, backup)

    def ours(st: os.stat_result | None) -> bool:
        """The name holds the link this run made to the keeper."""
        if st is None:
            return False
        if intent["action"] == "symlink":
            return stat.S_ISLNK(st.st_mode) and ops.readlink(path) == keeper
        return stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) == (intent["keeper_dev"], intent["keeper_inode"])

    if _is_original(at_backup, intent):  # the original, whole, still set aside
        if at_path is not None and not ours(at_path):
            raise _CannotUndo(f"another file is at {path}; the original is at {backup}")
        if at_path is not None:
            ops.unlink(path)
        ops.rename(backup, path)  # the name is free: checked just above
        ops.sync_dir(os.path.dirname(path))
        return RESTORED, "from the set-aside original"
    if at_backup is not None and stat.S_ISREG(at_backup.st_mode) and at_backup.st_size == 0:
        ops.unlink(backup)  # the empty placeholder that reserved the backup name
    if _is_original(at_path, intent):
        return NOT_NEEDED, "the file was not replaced"
    if at_path is not None and not ours(at_path):
        raise _CannotUndo(f"{path} changed since it was linked: left as it is")
    _restore_from_keeper(ops, entry, at_path is not None)
    return RESTORED, "from the keeper's identical bytes"


def _restore_from_keeper(ops: FileOps, entry: JournalEntry, replace_link: bool) -> None:
    """Copy the keeper's bytes (checked equal to the original's) to a new file at the original name."""
    intent = entry.intent
    path, keeper, expected = intent["path"], intent["keeper"], intent.get("content_hash")
    if not expected:
        raise _CannotUndo("the journal has no content hash to check the keeper's bytes against")
    try:
        if ops.content_hash(keeper) != expected:
            raise _CannotUndo(f"the keeper {keeper} changed since: the original bytes are gone")
    except FileNotFoundError:
        raise _CannotUndo(f"the keeper {keeper} is gone: the original bytes are gone") from None
    temp = os.path.join(os.path.dirname(path), f".imgtwin-restore-{entry.seq}-{os.getpid()}")
    ops.copy_file(keeper, temp)
    try:
        if ops.content_hash(temp) != expected:
            raise _CannotUndo("the copy of the keeper does not match the original's bytes")
        ops.set_meta(temp, intent["mode"], intent["atime_ns"], intent["mtime_ns"])
        if not replace_link and os.path.lexists(path):
            raise _CannotUndo(f"a file appeared at {path} meanwhile")
        ops.rename(temp, path)  # replaces only our link, checked by the caller
    except BaseException:
        if os.path.lexists(temp):
            ops.unlink(temp)
        raise
    ops.sync_dir(os.path.dirname(path))
