"""The journal: one JSON object per line, each flushed and fsynced before going on.

An action is journalled before it starts (``intent``) and after it ends
(``done`` or ``failed``), so a run killed at any instant leaves a journal that
says which single item may be half done; undo then looks at the file system to
see how far that item got. Undo appends its own ``undone`` / ``undo_failed``
lines to the same file, so running it twice does not redo work. See the
README ("The journal") for every record type.

Every write is checked: ``write`` may take fewer bytes than asked, and a full
disk or an I/O error raises. A record that cannot be written whole is cut off
again (the file is truncated to where it began) and ``JournalWriteError`` is
raised, so that dedupe stops before acting on what it could not journal.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Self

from platformdirs import user_data_path

from imgtwin.actions.fileops import FileOps, RealFileOps, write_all
from imgtwin.persistence.atomic import fsync_directory

#: 2: every action sets its file aside first (``backup`` in every intent), moves record ``new_dirs``.
JOURNAL_FORMAT = 2
ACTIONS = ("trash", "move", "copy", "hardlink", "symlink", "delete")


def default_journal_path(action: str) -> str:
    """A new file in the user's data folder, named by time (and pid, so two runs never share)."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return str(user_data_path("imgtwin") / "journals" / f"dedupe-{action}-{stamp}-{os.getpid()}.jsonl")


class JournalWriteError(Exception):
    """A journal record could not be written (a full disk, an I/O error): nothing may be done unjournalled."""

    def __init__(self, path: str, exc: OSError, *, torn: bool = False) -> None:
        self.path, self.reason, self.torn = path, exc.strerror or str(exc), torn
        super().__init__(f"cannot write the journal {path}: {self.reason}")


class JournalWriter:
    """Appends records durably; ``create`` refuses an existing file (one journal per run).

    JournalWriteError if the file cannot be opened or a record cannot be written whole.
    """

    def __init__(self, path: str, *, create: bool, ops: FileOps | None = None) -> None:
        self.path = path
        self.ops = ops or RealFileOps()
        self._folder = os.path.dirname(os.path.abspath(path))
        flags = os.O_WRONLY | os.O_APPEND | (os.O_CREAT | os.O_EXCL if create else 0)
        try:
            os.makedirs(self._folder, exist_ok=True)
            self._fd = os.open(path, flags, 0o600)
        except OSError as exc:
            raise JournalWriteError(path, exc) from exc
        if create:
            try:
                fsync_directory(self._folder)
            except OSError as exc:
                self.discard()
                raise JournalWriteError(path, exc) from exc

    def write(self, record: dict[str, Any]) -> None:
        """Append ``record`` as one line and sync it; JournalWriteError if it is not all on disk."""
        line = json.dumps(record, ensure_ascii=True, separators=(",", ":")) + "\n"  # ASCII: any file name survives
        start = os.lseek(self._fd, 0, os.SEEK_END)
        try:
            write_all(self.ops, self._fd, line.encode("ascii"))
            self.ops.fsync(self._fd)
        except OSError as exc:
            raise JournalWriteError(self.path, exc, torn=not self._cut(start)) from exc

    def _cut(self, start: int) -> bool:
        """Remove a partly written record; False if that failed too (a torn line stays)."""
        try:
            os.ftruncate(self._fd, start)
            os.fsync(self._fd)
        except OSError:
            return False
        return True

    def discard(self) -> None:
        """Close and remove a journal that records nothing (its first record could not be written)."""
        self.close()
        try:
            os.unlink(self.path)
            fsync_directory(self._folder)
        except OSError:
            pass

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class JournalEntry:
    """Everything the journal says about one action (one ``seq``)."""

    intent: dict[str, Any]
    outcome: dict[str, Any] | None = None  # the "done" or "failed" record; None: interrupted
    backup_removed: bool = False
    undone: bool = False

    @property
    def seq(self) -> int:
        return int(self.intent["seq"])

    @property
    def state(self) -> str:
        return self.outcome["type"] if self.outcome else "interrupted"


@dataclass
class JournalContents:
    header: dict[str, Any]
    entries: list[JournalEntry] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    finished: bool = False
    bad_lines: int = 0  # unreadable or malformed lines: work undo cannot verify


class JournalError(ValueError):
    """Not a journal imgtwin can read."""


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_name(value: object) -> bool:
    return isinstance(value, str) and bool(value) and "\0" not in value


_INTENT_INTS = ("seq", "size", "mtime_ns", "atime_ns", "mode", "dev", "inode", "keeper_dev", "keeper_inode")


def valid_intent(record: dict[str, Any]) -> bool:
    """An intent undo can act on: every field it reads present, of its type."""
    action = record.get("action")
    if action not in ACTIONS or not all(_is_int(record.get(k)) for k in _INTENT_INTS):
        return False
    if not _is_name(record.get("path")) or not _is_name(record.get("keeper")):
        return False
    if record.get("content_hash") is not None and not isinstance(record["content_hash"], str):
        return False
    if record.get("backup") is not None and not _is_name(record["backup"]):
        return False
    if action in ("hardlink", "symlink") and record.get("backup") is None:
        return False
    if action in ("move", "copy") and not _is_name(record.get("target")):
        return False
    dirs = record.get("new_dirs", [])
    return isinstance(dirs, list) and all(_is_name(d) for d in dirs)


def _valid_outcome(record: dict[str, Any]) -> bool:
    for key in ("trash_path", "trash_info", "original_at"):
        if record.get(key) is not None and not _is_name(record[key]):
            return False
    dirs = record.get("created_dirs", [])
    return isinstance(dirs, list) and all(_is_name(d) for d in dirs)


def _header(records: list[dict[str, Any]], path: str) -> dict[str, Any]:
    if not records or records[0].get("type") != "run" or records[0].get("tool") != "imgtwin":
        raise JournalError(f"{path} is not an imgtwin journal")
    header = records[0]
    version = header.get("format")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise JournalError(f"{path} is not a journal imgtwin can read (journal format {version!r})")
    if version > JOURNAL_FORMAT:
        raise JournalError(f"{path} was written by a newer imgtwin (journal format {version})")
    if header.get("action") not in ACTIONS or not isinstance(header.get("run_id", ""), str):
        raise JournalError(f"{path} is not a journal imgtwin can read (its first line is malformed)")
    return header


def read_journal(path: str) -> JournalContents:
    """Every record of the journal at ``path``; JournalError if it is not one.

    Lines that are not JSON, and records without the fields undo needs, are
    counted in ``bad_lines``: what they record cannot be verified.
    """
    with open(path, "rb") as stream:
        raw_lines = stream.read().split(b"\n")
    records: list[dict[str, Any]] = []
    bad = 0
    for raw in raw_lines:
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except (ValueError, RecursionError):  # not JSON, not UTF-8, a number of thousands of digits; too deep
            bad += 1
            continue
        if isinstance(record, dict):
            records.append(record)
        else:
            bad += 1
    contents = JournalContents(_header(records, path))
    by_seq: dict[int, JournalEntry] = {}
    for record in records[1:]:
        kind = record.get("type")
        seq = record.get("seq")
        if kind == "intent":
            if not valid_intent(record) or not isinstance(seq, int) or seq in by_seq:
                bad += 1
                continue
            by_seq[seq] = JournalEntry(record)
            contents.entries.append(by_seq[seq])
        elif kind in ("done", "failed") and _is_int(seq) and seq in by_seq:
            if _valid_outcome(record):
                by_seq[seq].outcome = record
            else:
                bad += 1
        elif kind == "backup_removed" and _is_int(seq) and seq in by_seq:
            by_seq[seq].backup_removed = True
        elif kind == "undone" and _is_int(seq) and seq in by_seq:
            by_seq[seq].undone = True
        elif kind == "skipped":
            contents.skipped.append(record)
        elif kind == "end":
            contents.finished = True
    contents.bad_lines = bad
    return contents


def now_iso() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")
