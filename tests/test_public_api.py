from __future__ import annotations

import os
import types
from pathlib import Path

import imgtwin
from imgtwin import engine
from imgtwin.actions.fileops import FileOps, RealFileOps
from imgtwin.interfaces import Hasher, HashPersistence, ImageLoader, ProgressReporter
from imgtwin.reporting.metrics import MetricsReporter
from tests.helpers import synthetic_photo
from tests.protocols import mismatches

PUBLIC = [
    "ActionKind", "ActionPlan", "ApplyReport", "DuplicateGroup", "FindResult", "GroupMember", "Index", "IndexedFile",
    "MatchOptions", "ProcessingSummary", "ScanOptions", "UndoReport", "__version__", "apply_plan", "find_duplicates",
    "mark_not_duplicates", "plan_actions", "plan_from_file", "preview_plan", "scan", "undo",
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


def test_the_extension_points_hold_what_they_promise() -> None:
    """No dead interface, no hasher advertised that matching would ignore; the live hooks are a Protocol."""
    assert not hasattr(engine, "ParallelProcessor") and "Hasher" not in engine.__all__
    assert mismatches(MetricsReporter, engine.LiveReporter) == []
    assert mismatches(engine.CompositeReporter, engine.LiveReporter) == []
    assert not isinstance(engine.NullReporter(), engine.LiveReporter)  # the hooks stay optional


def test_a_live_reporter_of_ones_own_receives_every_file(tmp_path: Path) -> None:
    """The collector finds the hooks through the Protocol, for any reporter that has them, composed or not."""
    (photos := tmp_path / "photos").mkdir()
    for i in range(3):
        synthetic_photo(i, (64, 48)).save(photos / f"{i}.png")

    class Recorder(engine.NullReporter):
        def __init__(self) -> None:
            self.results: list[str] = []

        def report_result(self, result: engine.FileResult) -> None:
            self.results.append(os.path.basename(result.path))

        def report_queues(self, work_depth: int, result_depth: int, busy: int) -> None:
            pass

    alone, composed = Recorder(), Recorder()
    for reporter in (alone, engine.CompositeReporter([engine.NullReporter(), composed])):
        engine.ParallelProcessingEngine(engine.StandardImageLoader(64), engine.DCTHasher(8)).process_directory(
            str(photos), engine.ProcessingConfig(max_concurrent_tasks=1, executor="thread"), reporter,
            engine.CsvHashPersistence(str(tmp_path / f"{id(reporter)}.csv")))
    assert sorted(alone.results) == sorted(composed.results) == ["0.png", "1.png", "2.png"]


def test_no_top_level_module_shares_its_name_with_one_in_a_subpackage() -> None:
    """``imgtwin.engine`` (the public extension points) and ``imgtwin.options`` (the settings) are the only modules
    of those names: the engine's class lives in ``processing/parallel.py``, the shared flags in ``cli/flags.py``."""
    package = Path(imgtwin.__file__).parent
    top = {p.stem for p in package.glob("*.py")} - {"__init__", "__main__"}
    nested = {p.stem for p in package.glob("*/**/*.py")}
    assert top & nested == set()
