"""Extension points: the Protocols the scan engine is built from, the engine, and the standard parts.

``imgtwin`` itself offers ``scan``, ``find_duplicates`` and ``Index``; this
module is for building a scan of your own (another loader, storage, progress
display or file source) with constructor injection. Pass ``DCTHasher(8)`` and
``features=MatchFeatureExtractor()`` to the engine so that ``find_duplicates``
can compare what it stores: the hasher is not an extension point, because
matching compares 64-bit DCT hashes only (rows of another hasher are stale).
"""

from imgtwin.actions import FileOps, RealFileOps
from imgtwin.config import ProcessingConfig
from imgtwin.hashing.dct import DCTHasher
from imgtwin.hashing.extractor import FeatureExtractor, MatchFeatureExtractor
from imgtwin.interfaces import (
    HashPersistence,
    ImageLoader,
    LiveReporter,
    LoadedImage,
    ProgressReporter,
)
from imgtwin.loading.pillow_loader import StandardImageLoader
from imgtwin.persistence.csv_file import CsvHashPersistence
from imgtwin.persistence.json_file import JsonHashPersistence
from imgtwin.persistence.sqlite import SqliteHashPersistence
from imgtwin.processing.discovery import FileFilter
from imgtwin.processing.parallel import ParallelProcessingEngine
from imgtwin.processing.source import FileSource, LocalFileSource
from imgtwin.records import ErrorReason, FileError, FileResult, FileStatus, HashSpec, ImageHash, ProcessingMetadata
from imgtwin.reporting.composite import CompositeReporter, NullReporter
from imgtwin.reporting.console import ConsoleProgressReporter
from imgtwin.reporting.logfile import FileProgressReporter

__all__ = [
    "CompositeReporter",
    "ConsoleProgressReporter",
    "CsvHashPersistence",
    "DCTHasher",
    "ErrorReason",
    "FeatureExtractor",
    "FileError",
    "FileFilter",
    "FileOps",
    "FileProgressReporter",
    "FileResult",
    "FileSource",
    "FileStatus",
    "HashPersistence",
    "HashSpec",
    "ImageHash",
    "ImageLoader",
    "JsonHashPersistence",
    "LiveReporter",
    "LoadedImage",
    "LocalFileSource",
    "MatchFeatureExtractor",
    "NullReporter",
    "ParallelProcessingEngine",
    "ProcessingConfig",
    "ProcessingMetadata",
    "ProgressReporter",
    "RealFileOps",
    "SqliteHashPersistence",
    "StandardImageLoader",
]
