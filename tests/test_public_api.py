from __future__ import annotations

import types
from pathlib import Path

import imgtwin
from imgtwin import engine
from imgtwin.interfaces import Hasher, HashPersistence, ImageLoader, ProgressReporter

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


def test_concrete_classes_satisfy_their_protocols(tmp_path) -> None:
    assert isinstance(engine.StandardImageLoader(), ImageLoader)
    assert isinstance(engine.DCTHasher(), Hasher)
    assert isinstance(engine.SqliteHashPersistence(str(tmp_path / "x.db")), HashPersistence)
    assert isinstance(engine.ConsoleProgressReporter(show_progress=False), ProgressReporter)
    assert isinstance(engine.NullReporter(), ProgressReporter)
