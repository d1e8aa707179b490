"""Acting on duplicates safely: trash, move, hardlink, symlink, delete, and undo.

The promise: no action ever loses the last copy of an image (the keeper must
exist, unchanged, before each file is touched), and every action but
``delete`` can be undone from its journal. ``plan_from_groups`` / ``plan_from_file``
/ ``plan_from_document`` make a plan (``imgtwin.plan_actions``, in ``runs.plan``,
finds the groups first), ``preview_plan`` is the dry run,
``apply_plan`` carries it out, ``undo_journal`` reverses it.
"""

from imgtwin.actions.apply import ApplyReport, ItemOutcome, apply_plan, preview_plan
from imgtwin.actions.fileops import FileOps, RealFileOps, TrashedFile
from imgtwin.actions.journal import JournalError, JournalWriteError, default_journal_path, read_journal
from imgtwin.actions.plan import (
    ActionKind,
    ActionPlan,
    FileState,
    PlanError,
    PlanItem,
    RefusedGroup,
    check_move_to,
    load_plan_document,
    plan_from_document,
    plan_from_file,
    plan_from_groups,
)
from imgtwin.actions.undo import UndoOutcome, UndoReport, undo_journal

__all__ = [
    "ActionKind",
    "ActionPlan",
    "ApplyReport",
    "FileOps",
    "FileState",
    "ItemOutcome",
    "JournalError",
    "JournalWriteError",
    "PlanError",
    "PlanItem",
    "RealFileOps",
    "RefusedGroup",
    "TrashedFile",
    "UndoOutcome",
    "UndoReport",
    "apply_plan",
    "check_move_to",
    "default_journal_path",
    "load_plan_document",
    "plan_from_document",
    "plan_from_file",
    "plan_from_groups",
    "preview_plan",
    "read_journal",
    "undo_journal",
]
