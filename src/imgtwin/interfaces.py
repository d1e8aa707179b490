"""The small interfaces the engine is built from (the seed's abstractions).

Each is a ``typing.Protocol`` so that any object with the right methods fits,
test doubles included; nothing needs to inherit from these classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from imgtwin.loading.facts import SourceFacts
from imgtwin.records import FileResult, HashSpec, ImageHash, ProcessingSummary

if TYPE_CHECKING:
    from PIL import Image


@dataclass(frozen=True, slots=True)
class LoadedImage:
    """Pixels ready for hashing, plus what the loader learnt about the file.

    ``width``/``height`` are the file's displayed dimensions (after EXIF
    orientation), not those of the possibly reduced ``image``. ``colour``: the
    picture in RGB at most ``COLOUR_SIZE`` px (None when the file holds no
    colour), from the same decode, for colour checks and the keeper; ``facts``:
    what the file's headers say (mode, palette, JPEG quality, camera EXIF).
    A preview (``loading.previews``) has the main image's ``width``, ``height`` and facts.
    """

    image: Image.Image
    width: int
    height: int
    format: str
    decode: str
    colour: Image.Image | None = None
    facts: SourceFacts | None = None
    loader: str | None = None  # the decode path, where it is not the loader's ``decode_id`` (a preview)
    bytes_read: int | None = None  # of the file, where less than all of it (a preview)
    content_hash: str | None = None  # of the file's bytes, where the loader read them all (``hashing.content``)


@runtime_checkable
class ImageLoader(Protocol):
    """Turns a file into (reduced) pixels. Raises ``LoadError`` on failure."""

    @property
    def decode_id(self) -> str:
        """Identifies the loader's decode path and parameters, stored per hash."""
        ...

    def load(self, path: str) -> LoadedImage: ...


@runtime_checkable
class Hasher(Protocol):
    """Computes one perceptual hash from pixels.

    Internal, not an extension point: matching compares the 64-bit DCT hash
    (``hashing.dct.DCTHasher(8)``) only and treats another hasher's rows as stale.
    """

    @property
    def spec(self) -> HashSpec: ...

    def hash(self, image: Image.Image) -> ImageHash: ...


@runtime_checkable
class ProgressReporter(Protocol):
    """Receives progress events. Called from the collector thread only."""

    def report_started(self, total_files: int) -> None: ...

    def report_progress(self, completed: int, total: int) -> None: ...

    def report_error(self, file_path: str, error: str) -> None: ...

    def report_completed(self, summary: ProcessingSummary) -> None: ...


@runtime_checkable
class LiveReporter(ProgressReporter, Protocol):
    """A reporter that also wants every finished file and the queues' depths (``reporting.metrics``).

    Optional: the collector calls these hooks only on a reporter that has them
    (``isinstance(reporter, LiveReporter)``), so a plain ``ProgressReporter`` stays small.
    """

    def report_result(self, result: FileResult) -> None: ...

    def report_queues(self, work_depth: int, result_depth: int, busy: int) -> None:
        """Work queue depth, result queue depth, busy workers: sampled every ``QUEUE_REPORT_SECONDS``."""
        ...


@runtime_checkable
class HashPersistence(Protocol):
    """Stores results. ``store_batch`` is atomic: all of a batch or none of it."""

    def store_batch(self, results: Sequence[FileResult]) -> None: ...

    def finalize(self) -> None:
        """Make everything stored durable and visible; called once at the end."""
        ...
