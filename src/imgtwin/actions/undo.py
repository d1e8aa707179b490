"""Undoing a dedupe run from its journal, newest action first.

Each entry is judged by what the file system shows now, not only by what the
journal says, so an action interrupted at any instant (an ``intent`` with no
``done``) is undone as far as it got, and running undo twice is harmless;
each is undone holding dedupe's locks (``exclusive.py``). What is put back
is checked first to be the original: the same device, inode, size and mtime
as journalled, or, for a copy (a move across file systems, bytes restored
from a keeper), the journalled content hash.

How each action is reversed: ``reversal.py``. A line of the journal that
cannot be read is work undo cannot verify: it is reported, and the report is
not complete.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from imgtwin.actions.exclusive import FileBusy, files_locked
from imgtwin.actions.fileops import FileOps, RealFileOps
from imgtwin.actions.journal import JournalEntry, JournalWriteError, JournalWriter, now_iso, read_journal
from imgtwin.actions.reversal import ALREADY, FAILED, IRREVERSIBLE, NOT_NEEDED, RESTORED, CannotUndo, reverse


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
    bad_lines: int = 0  # journal lines that could not be read: work that could not be verified
    journal_error: str | None = None  # undo's own records could not be appended

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def complete(self) -> bool:
        """Everything the run did is verifiably reversed (exit code 0)."""
        return not (self.count(FAILED) or self.count(IRREVERSIBLE) or self.bad_lines or self.journal_error)


def undo_journal(
    journal_path: str, *, ops: FileOps | None = None, on_item: Callable[[UndoOutcome], None] | None = None
) -> UndoReport:
    """Reverse every action recorded in ``journal_path``; returns what could and could not be undone.

    Undo's own records are appended to the journal; if that fails (a full
    disk), the files are restored all the same and ``journal_error`` says so
    (running undo again is harmless).
    """
    contents = read_journal(journal_path)
    ops = ops or RealFileOps()
    run_id = str(contents.header.get("run_id", ""))
    outcomes = []
    error: str | None = None
    try:
        journal: JournalWriter | None = JournalWriter(journal_path, create=False, ops=ops)
    except JournalWriteError as exc:
        journal, error = None, str(exc)

    def record(line: dict[str, Any]) -> None:
        nonlocal error
        if journal is None:
            return
        try:
            journal.write(line)
        except JournalWriteError as exc:
            error = error or str(exc)

    try:
        record({"type": "undo", "started_at": now_iso()})
        for entry in reversed(contents.entries):
            outcome = _undo_entry(ops, entry, run_id)
            if outcome.status in (RESTORED, NOT_NEEDED):
                record({"type": "undone", "seq": entry.seq, "how": outcome.status})
            elif outcome.status == FAILED:
                record({"type": "undo_failed", "seq": entry.seq, "reason": outcome.reason})
            outcomes.append(outcome)
            if on_item:
                on_item(outcome)
        record({"type": "undo_end", "finished_at": now_iso(),
                **{s: sum(o.status == s for o in outcomes) for s in (RESTORED, NOT_NEEDED, FAILED)}})
    finally:
        if journal is not None:
            journal.close()
    return UndoReport(journal_path, tuple(outcomes), contents.bad_lines, error)


def _undo_entry(ops: FileOps, entry: JournalEntry, run_id: str) -> UndoOutcome:
    intent = entry.intent
    action, path = str(intent.get("action")), str(intent.get("path"))
    if entry.undone:
        return UndoOutcome(entry.seq, action, path, ALREADY)
    try:
        with files_locked([p for p in (path, intent.get("keeper"), intent.get("backup")) if isinstance(p, str)]):
            status, reason = reverse(ops, entry, f"{run_id}-{entry.seq}")
    except FileBusy as exc:
        return UndoOutcome(entry.seq, action, path, FAILED, exc.reason)
    except CannotUndo as exc:
        return UndoOutcome(entry.seq, action, path, FAILED, str(exc))
    except OSError as exc:
        text = exc.strerror or str(exc)
        return UndoOutcome(entry.seq, action, path, FAILED, f"{text}: {exc.filename}" if exc.filename else text)
    except (KeyError, TypeError, ValueError) as exc:  # a hand-edited record read_journal let through
        return UndoOutcome(entry.seq, action, path, FAILED, f"the journal entry is malformed ({exc!r})")
    return UndoOutcome(entry.seq, action, path, status, reason)


