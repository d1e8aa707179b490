from __future__ import annotations

import types
from pathlib import Path

import imgtwin
from imgtwin import engine
from imgtwin.actions.fileops import FileOps, RealFileOps
from imgtwin.interfaces import Hasher, HashPersistence, ImageLoader, ProgressReporter
from tests.protocols import mismatches

PUBLIC = [
    "ActionKind", "ActionPlan", "ApplyReport", "DuplicateGroup", "FindResult", "GroupMember", "Index", "IndexedFile",
    "MatchOptions", "ProcessingSummary", "ScanOptions", "UndoReport", "__version__", "apply_plan", "find_duplicates",
    "plan_actions", "plan_from_file", "preview_plan", "scan", "undo",
]


def test_all_is_small_sorted_and_complete() -> None:
    assert imgtwin.__all__ == sorted(imgtwin.__all__) == PUBLIC  # a new public name is a decision: add it here
    exported = {name for name, value in vars(imgtwin).items()
                if not name.startswith("_") and not isinstance(value, types.ModuleType)}  # submodules aside
    assert exported == set(PUBLIC) - {"__version__"}
    assert engine.__all__ == sorted(engine.__all__) and all(hasattr(engine, n) for n in engine.__all__)


def test_the_package_is_typed() -> None:
    assert (Path(imgtwin.__file__).parent / "py.typed").is_file()


def test_concrete_classes_satisfy_their_protocols() -> None:
    """Every member with the protocol's parameters and types: ``isinstance`` alone checks only the names."""
    for concrete, protocol in [(engine.StandardImageLoader, ImageLoader), (engine.DCTHasher, Hasher),
                               (engine.SqliteHashPersistence, HashPersistence),
                               (engine.ConsoleProgressReporter, ProgressReporter),
                               (engine.NullReporter, ProgressReporter), (RealFileOps, FileOps)]:
        assert mismatches(concrete, protocol) == [], concrete


def test_a_class_that_does_not_fit_is_told_apart() -> None:
    class Reporter:  # the right names; one parameter short, one renamed, one return type wrong, one missing
        def report_started(self) -> None: ...
        def report_progress(self, done: int, total: int) -> None: ...
        def report_error(self, file_path: str, error: str) -> bool:
            return True

    assert [m.split("(")[0].split(":")[0] for m in mismatches(Reporter, ProgressReporter)] == [
        "report_completed", "report_error", "report_progress", "report_started"]
    assert mismatches(engine.NullReporter, HashPersistence)  # another protocol's members
