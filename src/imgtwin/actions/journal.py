"""The journal: one JSON object per line, each flushed and fsynced before going on.

An action is journalled before it starts (``intent``) and after it ends
(``done`` or ``failed``), so a run killed at any instant leaves a journal that
says which single item may be half done; undo then looks at the file system to
see how far that item got. Undo appends its own ``undone`` / ``undo_failed``
lines to the same file, so running it twice does not redo work. See the
README ("The journal") for every record type.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from platformdirs import user_data_path

from imgtwin.persistence.atomic import fsync_directory

JOURNAL_FORMAT = 1


def default_journal_path(action: str) -> str:
    """A new file in the user's data folder, named by time (and pid, so two runs never share)."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return str(user_data_path("imgtwin") / "journals" / f"dedupe-{action}-{stamp}-{os.getpid()}.jsonl")


class JournalWriter:
    """Appends records durably; ``create`` refuses an existing file (one journal per run)."""

    def __init__(self, path: str, *, create: bool) -> None:
        self.path = path
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        flags = os.O_WRONLY | os.O_APPEND | (os.O_CREAT | os.O_EXCL if create else 0)
        self._fd = os.open(path, flags, 0o600)
        if create:
            fsync_directory(folder)

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=True, separators=(",", ":")) + "\n"  # ASCII: any file name survives
        os.write(self._fd, line.encode("ascii"))
        os.fsync(self._fd)

    def close(self) -> None:
        os.close(self._fd)

    def __enter__(self) -> JournalWriter:
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
    bad_lines: int = 0  # unreadable lines (a torn last line after a kill is expected)


class JournalError(ValueError):
    """Not a journal imgtwin can read."""


def read_journal(path: str) -> JournalContents:
    with open(path, "rb") as stream:
        raw_lines = stream.read().split(b"\n")
    records: list[dict[str, Any]] = []
    bad = 0
    for raw in raw_lines:
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            bad += 1
            continue
        if isinstance(record, dict):
            records.append(record)
        else:
            bad += 1
    if not records or records[0].get("type") != "run" or records[0].get("tool") != "imgtwin":
        raise JournalError(f"{path} is not an imgtwin journal")
    if records[0].get("format", 0) > JOURNAL_FORMAT:
        raise JournalError(f"{path} was written by a newer imgtwin (journal format {records[0]['format']})")
    contents = JournalContents(records[0], bad_lines=bad)
    by_seq: dict[int, JournalEntry] = {}
    for record in records[1:]:
        kind = record.get("type")
        seq = record.get("seq")
        if kind == "intent" and isinstance(seq, int):
            by_seq[seq] = JournalEntry(record)
            contents.entries.append(by_seq[seq])
        elif kind in ("done", "failed") and seq in by_seq:
            by_seq[seq].outcome = record
        elif kind == "backup_removed" and seq in by_seq:
            by_seq[seq].backup_removed = True
        elif kind == "undone" and seq in by_seq:
            by_seq[seq].undone = True
        elif kind == "skipped":
            contents.skipped.append(record)
        elif kind == "end":
            contents.finished = True
    return contents


def now_iso() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")
