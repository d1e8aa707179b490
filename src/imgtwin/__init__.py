"""imgtwin: find duplicate and near-duplicate images, and act on them safely.

The public API is what ``__all__`` lists: ``scan``, ``find_duplicates`` and
``Index`` (``api``), their settings (``ScanOptions``, ``MatchOptions``) and
results, and the actions (plan, preview, apply, undo). Extension points (the
Protocols, the engine and its standard parts) are in ``imgtwin.engine``.
"""

import os

# numpy's OpenBLAS runs a thread per core on every matrix product. imgtwin's are small (32 x 32 thumbnails,
# blocks of a few thousand files) and its parallel parts have their own threads and processes: on 2 cores
# the BLAS threads only spin, ~2.5x the CPU of deriving find's hypothesis hashes single-threaded, and slower
# (docs/benchmarks.md, issue 26 part 2). Set before numpy is first imported; a value the user set wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from imgtwin._version import __version__
from imgtwin.actions import (
    ActionKind,
    ActionPlan,
    ApplyReport,
    UndoReport,
    apply_plan,
    plan_from_file,
    preview_plan,
)
from imgtwin.actions.undo import undo_journal as undo
from imgtwin.api import Index, find_duplicates, mark_not_duplicates, scan
from imgtwin.options import MatchOptions, ScanOptions
from imgtwin.records import DuplicateGroup, GroupMember, IndexedFile, ProcessingSummary
from imgtwin.runs.find import FindResult
from imgtwin.runs.plan import plan_actions

__all__ = [
    "ActionKind",
    "ActionPlan",
    "ApplyReport",
    "DuplicateGroup",
    "FindResult",
    "GroupMember",
    "Index",
    "IndexedFile",
    "MatchOptions",
    "ProcessingSummary",
    "ScanOptions",
    "UndoReport",
    "__version__",
    "apply_plan",
    "find_duplicates",
    "mark_not_duplicates",
    "plan_actions",
    "plan_from_file",
    "preview_plan",
    "scan",
    "undo",
]
