"""imgtwin: find duplicate and near-duplicate images, and act on them safely."""

from imgtwin._version import __version__
from imgtwin.actions import (
    ActionKind,
    ActionPlan,
    ApplyReport,
    FileOps,
    UndoReport,
    apply_plan,
    plan_actions,
    plan_from_file,
    preview_plan,
)
from imgtwin.actions.undo import undo_journal as undo
from imgtwin.config import ProcessingConfig
from imgtwin.finding import FindResult, find_duplicates
from imgtwin.hashing.dct import DCTHasher
from imgtwin.interfaces import HashPersistence, Hasher, ImageLoader, LoadedImage, ParallelProcessor, ProgressReporter
from imgtwin.loading.pillow_loader import StandardImageLoader
from imgtwin.persistence.csv_file import CsvHashPersistence
from imgtwin.persistence.json_file import JsonHashPersistence
from imgtwin.persistence.sqlite import SqliteHashPersistence
from imgtwin.processing.engine import ParallelProcessingEngine
from imgtwin.records import (
    DuplicateGroup,
    ErrorReason,
    FileError,
    FileResult,
    FileStatus,
    GroupMember,
    HashSpec,
    ImageHash,
    ProcessingMetadata,
    ProcessingSummary,
)
from imgtwin.reporting.composite import CompositeReporter, NullReporter
from imgtwin.reporting.console import ConsoleProgressReporter
from imgtwin.reporting.logfile import FileProgressReporter

__all__ = [
    "ActionKind",
    "ActionPlan",
    "ApplyReport",
    "CompositeReporter",
    "ConsoleProgressReporter",
    "CsvHashPersistence",
    "DCTHasher",
    "DuplicateGroup",
    "ErrorReason",
    "FileError",
    "FileOps",
    "FileProgressReporter",
    "FileResult",
    "FileStatus",
    "FindResult",
    "GroupMember",
    "HashPersistence",
    "HashSpec",
    "Hasher",
    "ImageHash",
    "ImageLoader",
    "JsonHashPersistence",
    "LoadedImage",
    "NullReporter",
    "ParallelProcessingEngine",
    "ParallelProcessor",
    "ProcessingConfig",
    "ProcessingMetadata",
    "ProcessingSummary",
    "ProgressReporter",
    "SqliteHashPersistence",
    "StandardImageLoader",
    "UndoReport",
    "__version__",
    "apply_plan",
    "find_duplicates",
    "plan_actions",
    "plan_from_file",
    "preview_plan",
    "undo",
]
