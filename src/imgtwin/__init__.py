"""imgtwin: find duplicate and near-duplicate images, and act on them safely."""

from imgtwin._version import __version__
from imgtwin.config import ProcessingConfig
from imgtwin.hashing.dct import DCTHasher
from imgtwin.interfaces import HashPersistence, Hasher, ImageLoader, LoadedImage, ParallelProcessor, ProgressReporter
from imgtwin.loading.pillow_loader import StandardImageLoader
from imgtwin.persistence.csv_file import CsvHashPersistence
from imgtwin.persistence.json_file import JsonHashPersistence
from imgtwin.persistence.sqlite import SqliteHashPersistence
from imgtwin.processing.engine import ParallelProcessingEngine
from imgtwin.records import (
    ErrorReason,
    FileError,
    FileResult,
    FileStatus,
    HashSpec,
    ImageHash,
    ProcessingMetadata,
    ProcessingSummary,
)
from imgtwin.reporting.composite import CompositeReporter, NullReporter
from imgtwin.reporting.console import ConsoleProgressReporter
from imgtwin.reporting.logfile import FileProgressReporter

__all__ = [
    "CompositeReporter",
    "ConsoleProgressReporter",
    "CsvHashPersistence",
    "DCTHasher",
    "ErrorReason",
    "FileError",
    "FileProgressReporter",
    "FileResult",
    "FileStatus",
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
    "__version__",
]
