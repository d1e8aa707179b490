"""How undo reverses one journalled action, judged by what the file system shows now.

Rules, for every action:

* while the set-aside original (``backup``) exists, whole, it goes back to its
  name, and whatever the action had already made is removed: the link at the
  name (links), the hard link and ``.trashinfo`` in the trash (trash), the
  new name or partial copy at the target (move);
* move, once the original is gone from ``backup``: it comes back from the
  target (never over an existing file); empty folders the move made go too;
* trash: the file comes back from the trash folder the journal names, or the
  one whose ``.trashinfo`` names it (same inode) if the run was killed first;
  an interrupted run's temporary or orphaned ``.trashinfo`` files are removed;
* hardlink, symlink, after a complete run: the bytes are restored from the
  keeper, which held the same bytes (checked against the journalled content
  hash before copying), with the original mode and times;
* delete: cannot be undone; reported.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from typing import Any

from imgtwin.actions.apply import link_temp_name
from imgtwin.actions.fileops import FileOps, lstat_or_none, move_no_replace, put_back, remove_if
from imgtwin.actions.journal import JournalEntry

RESTORED, NOT_NEEDED, ALREADY, FAILED, IRREVERSIBLE = (
    "restored", "not_needed", "already_undone", "failed", "irreversible")


class CannotUndo(Exception):
    """An action that cannot be reversed safely now; the message says why."""


def _is_original(st: os.stat_result | None, intent: dict[str, Any]) -> bool:
    """The very file acted on: its device and inode, and its size and mtime too (a freed inode number is
    soon given to a new file)."""
    return st is not None and stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns) == (
        intent["dev"], intent["inode"], intent["size"], intent["mtime_ns"])


def reverse(ops: FileOps, entry: JournalEntry, tag: str) -> tuple[str, str]:
    """Reverse one action (its locks held by the caller); ``(status, reason)``, or raises ``CannotUndo``."""
    intent = entry.intent
    action, path, backup = intent["action"], intent["path"], intent.get("backup")
    if action in ("hardlink", "symlink"):
        _clean_link_leftovers(ops, intent, tag)
    at_backup = lstat_or_none(ops, backup) if backup else None
    if _is_original(at_backup, intent):
        return _from_backup(ops, entry, tag)
    outcome = entry.outcome or {}
    if entry.state == "failed":
        if backup and outcome.get("original_at") == backup and at_backup is not None:
            if os.path.lexists(path):
                raise CannotUndo(f"the file found at {path} while acting is at {backup}; another is at its name")
            put_back(ops, backup, path)  # the file another process swapped in, set aside, back at its name
            return RESTORED, "the file set aside was put back"
        _clean_trash(ops, intent, tag, remove_copies=False)
        _remove_dirs(ops, intent, outcome)
        return NOT_NEEDED, "the action failed: the file was left as it was"
    if backup and at_backup is not None and stat.S_ISREG(at_backup.st_mode) and at_backup.st_size == 0:
        ops.unlink(backup)  # the empty placeholder that reserved the backup name
    handler: Callable[[FileOps, JournalEntry, str], tuple[str, str]] = {
        "move": _undo_move, "copy": _undo_copy, "trash": _undo_trash, "delete": _undo_delete, "hardlink": _undo_link,
        "symlink": _undo_link}[action]
    return handler(ops, entry, tag)


def _our_link(ops: FileOps, intent: dict[str, Any], name: str, st: os.stat_result | None) -> bool:
    """``name`` holds the link this run made to the keeper."""
    if st is None or intent["action"] not in ("hardlink", "symlink"):
        return False
    if intent["action"] == "symlink":
        return stat.S_ISLNK(st.st_mode) and ops.readlink(name) == intent["keeper"]
    return stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) == (intent["keeper_dev"], intent["keeper_inode"])


def _aside(intent: dict[str, Any], tag: str) -> str:
    """The name undo sets a link aside to before removing it (in the file's folder)."""
    return os.path.join(os.path.dirname(intent["path"]), f".imgtwin-undo-{tag}")


def _remove_our_link(ops: FileOps, intent: dict[str, Any], tag: str) -> None:
    """Remove the link at the file's name, judged once it is set aside; CannotUndo if it is not ours."""
    if not remove_if(ops, intent["path"], _aside(intent, tag), lambda name, st: _our_link(ops, intent, name, st)):
        raise CannotUndo(f"{intent['path']} changed since it was linked: left as it is")


def _clean_link_leftovers(ops: FileOps, intent: dict[str, Any], tag: str) -> None:
    """Links a killed run (or undo) left under names of its own: the link being made, a link set aside."""
    names = [_aside(intent, tag)] + ([link_temp_name(intent["backup"])] if intent.get("backup") else [])
    for name in names:
        st = lstat_or_none(ops, name)
        if st is not None and _our_link(ops, intent, name, st):
            ops.unlink(name)


def _from_backup(ops: FileOps, entry: JournalEntry, tag: str) -> tuple[str, str]:
    """The original is whole at ``backup``: remove what the action made, then put it back at its name."""
    intent = entry.intent
    path, backup = intent["path"], intent["backup"]
    at_path = lstat_or_none(ops, path)
    if at_path is not None and not _our_link(ops, intent, path, at_path):
        raise CannotUndo(f"another file is at {path}; the original is at {backup}")
    if at_path is not None:
        _remove_our_link(ops, intent, tag)
    if intent["action"] == "trash":
        _clean_trash(ops, intent, tag, remove_copies=True)
    if intent["action"] == "move":
        target = intent["target"]
        at_target = lstat_or_none(ops, target)
        ours = at_target is not None and (_is_original(at_target, intent) or (
            entry.state != "failed" and _partial_copy(target, backup, at_target)))  # a failed move removed its copy
        if ours:
            ops.unlink(target)  # the new name, or the copy, this run made
    put_back(ops, backup, path)
    _remove_dirs(ops, intent, entry.outcome or {})
    return RESTORED, "from the set-aside original"


def _partial_copy(copy: str, original: str, st: os.stat_result) -> bool:
    """``copy`` holds the first bytes of ``original`` (a copy interrupted or finished, never anyone else's file)."""
    if not stat.S_ISREG(st.st_mode) or st.st_size > os.lstat(original).st_size:
        return False
    with open(copy, "rb") as a, open(original, "rb") as b:
        while chunk := a.read(1 << 20):
            if b.read(len(chunk)) != chunk:
                return False
    return True


def _remove_dirs(ops: FileOps, intent: dict[str, Any], outcome: dict[str, Any]) -> None:
    """Folders the move made (or was about to make), innermost first, where they are empty."""
    folders = set(intent.get("new_dirs") or []) | set(outcome.get("created_dirs") or [])
    for folder in sorted(folders, key=len, reverse=True):
        try:
            ops.rmdir(folder)
        except OSError:
            pass  # not empty (or gone): left as it is


def _clean_trash(ops: FileOps, intent: dict[str, Any], tag: str, *, remove_copies: bool) -> int:
    """Remove what an interrupted trash left: temporary and orphaned ``.trashinfo``, and with
    ``remove_copies``, extra hard links of the original (the original itself is elsewhere). Returns links removed."""
    if intent["action"] != "trash":
        return 0
    from imgtwin.actions.trash import find_trashed, info_temps

    for temp in info_temps(intent["path"], tag):
        ops.unlink(temp)
    removed = 0
    for found in find_trashed(intent["path"], intent["inode"], intent["size"], intent["dev"]):
        if found.info_path is None:
            continue
        if found.path is None:
            ops.unlink(found.info_path)  # a name reserved in the trash, the file never linked in
        elif remove_copies and _is_original(lstat_or_none(ops, found.path), intent):
            ops.unlink(found.path)
            ops.unlink(found.info_path)
            removed += 1
    return removed


def _undo_move(ops: FileOps, entry: JournalEntry, tag: str) -> tuple[str, str]:
    intent, outcome = entry.intent, entry.outcome or {}
    path, target = intent["path"], intent["target"]
    at_path, at_target = lstat_or_none(ops, path), lstat_or_none(ops, target)
    if at_path is None and at_target is not None:
        _check_is_original(ops, target, at_target, intent, "the file at the move target")
        move_no_replace(ops, target, path, intent.get("content_hash"))
        _remove_dirs(ops, intent, outcome)
        return RESTORED, ""
    if at_path is not None and at_target is not None:
        same = (at_path.st_dev, at_path.st_ino) == (at_target.st_dev, at_target.st_ino)
        if same or (entry.state != "done" and _is_original(at_path, intent) and _partial_copy(target, path, at_target)):
            ops.unlink(target)  # interrupted half-way: the name or copy at the target is ours
            _remove_dirs(ops, intent, outcome)
            return RESTORED, "interrupted move: the original was still in place"
        raise CannotUndo(f"files exist at both {path} and {target}: left as they are")
    if at_path is not None:
        if _is_original(at_path, intent):
            _remove_dirs(ops, intent, outcome)
            return NOT_NEEDED, "the file was not moved"
        raise CannotUndo(f"the moved file is no longer at {target}")
    raise CannotUndo(f"the file is neither at {path} nor at {target}")


def _undo_copy(ops: FileOps, entry: JournalEntry, tag: str) -> tuple[str, str]:
    """Remove the copy this run made (its journalled bytes, or a prefix of them if it was interrupted)."""
    intent, outcome = entry.intent, entry.outcome or {}
    path, target = intent["path"], intent["target"]
    at_target = lstat_or_none(ops, target)
    if at_target is None:
        _remove_dirs(ops, intent, outcome)
        return NOT_NEEDED, "the copy is gone already"
    expected = intent.get("content_hash")
    whole = stat.S_ISREG(at_target.st_mode) and not _is_original(at_target, intent) and bool(expected) \
        and at_target.st_size == intent["size"] and ops.content_hash(target) == expected
    at_path = lstat_or_none(ops, path)
    partial = entry.state != "done" and _is_original(at_path, intent) and _partial_copy(target, path, at_target)
    if not (whole or partial):
        raise CannotUndo(f"the file at {target} is not the copy this run made any more: left as it is")
    ops.unlink(target)
    _remove_dirs(ops, intent, outcome)
    return RESTORED, "the copy was removed"


def _check_is_original(ops: FileOps, path: str, st: os.stat_result, intent: dict[str, Any], what: str) -> None:
    """The file about to be put back is the original: its inode, or (a copy) its journalled bytes."""
    if _is_original(st, intent):
        return
    expected = intent.get("content_hash")
    if stat.S_ISREG(st.st_mode) and expected and st.st_size == intent["size"] and ops.content_hash(path) == expected:
        return
    raise CannotUndo(f"{what} ({path}) is not the original any more: left as it is")


def _undo_trash(ops: FileOps, entry: JournalEntry, tag: str) -> tuple[str, str]:
    from imgtwin.actions.trash import find_trashed

    intent, done = entry.intent, entry.outcome if entry.state == "done" else None
    path = intent["path"]
    at_path = lstat_or_none(ops, path)
    if done is not None and done.get("trash_path"):
        locations = [(done["trash_path"], done.get("trash_info"))]
    elif done is not None:
        raise CannotUndo("this system's trash does not say where the file went: restore it from the trash")
    else:
        if _is_original(at_path, intent):  # killed before the file left its name (journal format 1)
            removed = _clean_trash(ops, intent, tag, remove_copies=True)
            if removed:
                return RESTORED, "interrupted: its hard link in the trash was removed, the file is at its place"
            return NOT_NEEDED, "the file was not trashed"
        _clean_trash(ops, intent, tag, remove_copies=False)
        found = find_trashed(path, intent["inode"], intent["size"], intent["dev"])
        locations = [(t.path, t.info_path) for t in found if t.path]
    if not locations or not os.path.lexists(locations[0][0]):
        if _is_original(at_path, intent):
            return NOT_NEEDED, "the file is back at its place"
        raise CannotUndo("the file is no longer in the trash")
    if at_path is not None:
        raise CannotUndo(f"another file is now at {path}: the trashed one stays at {locations[0][0]}")
    trash_path, info_path = locations[0]
    _check_is_original(ops, trash_path, ops.lstat(trash_path), intent, "the file in the trash")
    move_no_replace(ops, trash_path, path, intent.get("content_hash"))
    if info_path and os.path.lexists(info_path):
        ops.unlink(info_path)
    return RESTORED, ""


def _undo_delete(ops: FileOps, entry: JournalEntry, tag: str) -> tuple[str, str]:
    if entry.state != "done" and _is_original(lstat_or_none(ops, entry.intent["path"]), entry.intent):
        return NOT_NEEDED, "the file was not deleted"
    return IRREVERSIBLE, "deleted permanently: delete is the one action that cannot be undone"


def _undo_link(ops: FileOps, entry: JournalEntry, tag: str) -> tuple[str, str]:
    intent = entry.intent
    path = intent["path"]
    at_path = lstat_or_none(ops, path)
    if _is_original(at_path, intent):
        return NOT_NEEDED, "the file was not replaced"
    if at_path is not None and not _our_link(ops, intent, path, at_path):
        raise CannotUndo(f"{path} changed since it was linked: left as it is")
    _restore_from_keeper(ops, entry, tag)
    return RESTORED, "from the keeper's identical bytes"


def _restore_from_keeper(ops: FileOps, entry: JournalEntry, tag: str) -> None:
    """Copy the keeper's bytes (checked equal to the original's) to a new file at the original name.

    The copy is made and checked under a temporary name; then our link is
    removed from the name (judged once set aside) and the copy linked there,
    never over a file another process put there meanwhile.
    """
    intent = entry.intent
    path, keeper, expected = intent["path"], intent["keeper"], intent.get("content_hash")
    if not expected:
        raise CannotUndo("the journal has no content hash to check the keeper's bytes against")
    try:
        if ops.content_hash(keeper) != expected:
            raise CannotUndo(f"the keeper {keeper} changed since: the original bytes are gone")
    except FileNotFoundError:
        raise CannotUndo(f"the keeper {keeper} is gone: the original bytes are gone") from None
    temp = os.path.join(os.path.dirname(path), f".imgtwin-restore-{tag}")
    if os.path.lexists(temp):
        ops.unlink(temp)  # a copy an interrupted undo left
    ops.copy_file(keeper, temp)
    try:
        if ops.content_hash(temp) != expected:
            raise CannotUndo("the copy of the keeper does not match the original's bytes")
        ops.set_meta(temp, intent["mode"], intent["atime_ns"], intent["mtime_ns"])
        if os.path.lexists(path):
            _remove_our_link(ops, intent, tag)
        try:
            put_back(ops, temp, path)
        except FileExistsError:
            raise CannotUndo(f"a file appeared at {path} meanwhile") from None
    except BaseException:
        if os.path.lexists(temp):
            ops.unlink(temp)
        raise
