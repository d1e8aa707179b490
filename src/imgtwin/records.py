"""Immutable records that flow through the pipeline and into persistence.

They are plain frozen dataclasses so that they pickle cheaply between worker
processes and can be compared in tests.
"""

from __future__ import annotations

import enum
import operator
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

_Record = TypeVar("_Record", bound=type)


def pickled_by_fields(cls: _Record) -> _Record:
    """Pickle a record as its class and its field values, rebuilt by its ``__init__``.

    Why: the ``__setstate__`` that dataclasses gives a frozen class with slots calls ``fields()`` for
    every object; the scan's main process unpickles a result of four records per file, and on tiny
    files that was a fifth of its time. Every field must be an ``__init__`` argument, in order.
    """
    values = operator.attrgetter(*(f.name for f in fields(cls)))

    def reduce(self: Any) -> tuple[type, tuple[Any, ...]]:
        return cls, values(self)

    cls.__reduce__ = reduce  # type: ignore[assignment]
    return cls


class FileStatus(str, enum.Enum):
    """What happened to one discovered file."""

    HASHED = "hashed"
    ERROR = "error"
    SKIPPED = "skipped"  # not an image by name nor by content: passed over silently


class ErrorReason(str, enum.Enum):
    """Machine-readable reason a file could not be hashed.

    The values are stable: they are stored in the index and in JSON/CSV outputs.
    """

    NOT_AN_IMAGE = "not_an_image"
    UNSUPPORTED_FORMAT = "unsupported_format"
    TRUNCATED = "truncated"
    DECODE_ERROR = "decode_error"
    TOO_LARGE = "too_large"
    TIMEOUT = "timeout"
    PERMISSION = "permission"
    VANISHED = "vanished"
    CHANGED = "changed_during_scan"
    NOT_A_REGULAR_FILE = "not_a_regular_file"
    IO_ERROR = "io_error"
    WORKER_CRASHED = "worker_crashed"


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class FileError:
    """Why a file failed: a stable code for scripts and a message for people."""

    reason: ErrorReason
    message: str

    def __str__(self) -> str:
        return f"{self.reason.value}: {self.message}"


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class HashSpec:
    """Identifies exactly how a hash was computed.

    Two hashes are only comparable when their specs are equal; the spec's
    ``id`` is stored next to every hash so that a later change of definition
    can never silently mix hashes.
    """

    algorithm: str
    bits: int
    params: str

    @property
    def id(self) -> str:
        return f"{self.algorithm}-{self.bits}-{self.params}"


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class ImageHash:
    """A perceptual hash value together with the spec that produced it."""

    value: int
    spec: HashSpec

    @property
    def hex(self) -> str:
        return format(self.value, f"0{self.spec.bits // 4}x")

    def distance(self, other: ImageHash) -> int:
        if other.spec != self.spec:
            raise ValueError(f"cannot compare {self.spec.id} with {other.spec.id}")
        return (self.value ^ other.value).bit_count()


#: ``decode`` of hashes made from a file's embedded preview (``loading.previews``), not its main image.
PREVIEW_PREFIX = "preview-"


def from_preview(decode: str | None) -> bool:
    """Whether hashes with this ``decode`` came from a preview: no group may be decided on them."""
    return decode is not None and decode.startswith(PREVIEW_PREFIX)


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class ProcessingMetadata:
    """What we know about one file besides its hash.

    ``decode`` records how the pixels were obtained (e.g. ``jpeg-draft-1/8``
    or ``full``), since a scaled JPEG decode gives a slightly different hash
    than a full one; ``loader`` identifies the loader and its settings.
    """

    path: str
    size: int
    mtime_ns: int
    width: int | None = None
    height: int | None = None
    format: str | None = None
    decode: str | None = None
    loader: str | None = None
    dev: int | None = None
    inode: int | None = None
    ctime_ns: int | None = None  # changes on every write, even when mtime is put back
    content_hash: str | None = None  # xxh3-128 of the bytes, hex: finds exact copies and moved files

    @property
    def mtime(self) -> float:
        return self.mtime_ns / 1e9


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class FileResult:
    """The outcome for one file: a hash, an error, or a skip."""

    metadata: ProcessingMetadata
    status: FileStatus
    hash: ImageHash | None = None
    error: FileError | None = None
    features: bytes | None = None  # opaque matching features (see hashing.extractor)
    features_spec: str | None = None
    signals: bytes | None = None  # what the keeper is chosen by (see hashing.signals)
    signals_spec: str | None = None
    # Taken from the index without decoding: ``unchanged`` (same size, mtime and
    # inode: not read at all), ``moved`` (same bytes as an indexed file that is
    # gone) or ``copy`` (same bytes as an indexed file that is still there).
    reused: str | None = None
    # Stored in the row: ``"content"`` when the hashes came from a file with the same bytes.
    answered_by: str | None = None
    # Seconds the worker spent on this file (stat, read, decode, hash): for the
    # metrics histogram. Not part of the outcome, so left out of equality.
    duration_s: float | None = field(default=None, compare=False)
    # Bytes of the file read, where less than its size (a preview): for the summary and metrics.
    bytes_read: int | None = field(default=None, compare=False)
    # The picture inside a framed file (see hashing.framed), stored apart from the row: empty bytes when
    # checked and unframed, None when not checked (a reused row has its record already).
    picture: bytes | None = None
    picture_spec: str | None = None

    @property
    def path(self) -> str:
        return self.metadata.path


@dataclass(frozen=True, slots=True)
class ProcessingSummary:
    """Totals of one run, returned by ``process_directory``."""

    processed_files: int
    error_count: int
    skipped: int
    total_processing_time_ms: float
    bytes_read: int = 0
    cancelled: bool = False
    reused: int = 0  # of processed_files + error_count: known to the index (unchanged or moved), not read again
    copies: int = 0  # of processed_files + error_count: byte copies of indexed files, read but not decoded
    previews: int = 0  # of processed_files: answered by their embedded previews (``loading.previews``)

    @property
    def throughput(self) -> float:
        """Images (hashed, failed or reused from the index) per second."""
        seconds = self.total_processing_time_ms / 1000
        return (self.processed_files + self.error_count) / seconds if seconds > 0 else 0.0

    @property
    def bytes_per_second(self) -> float:
        seconds = self.total_processing_time_ms / 1000
        return self.bytes_read / seconds if seconds > 0 else 0.0


@dataclass(frozen=True, slots=True)
class GroupMember:
    """One file of a duplicate group, as reported to people and scripts.

    ``distance`` is in bits from the keeper's hash (0 for the keeper and for
    byte-identical copies); ``transform`` says how the member's picture relates
    to the keeper's: ``None`` (same orientation), ``"rotate90"``,
    ``"rotate180"``, ``"rotate270"`` (counter-clockwise), ``"mirror"`` (left-right),
    ``"flip"`` (top-bottom), ``"transpose"`` or ``"transverse"``. ``reason``: what matched it where its
    distance alone would not say (a low-detail picture, a crop, local features), in words; None otherwise.
    """

    path: str
    size: int
    width: int | None
    height: int | None
    format: str | None
    mtime_ns: int
    distance: int
    keep: bool
    transform: str | None = None
    exact: bool = False  # its bytes equal the keeper's (the keeper itself included)
    reference: bool = False  # under a --reference folder: never acted on
    linked: bool = False  # the keeper's own file under another name (a hard link): nothing to reclaim
    reason: str | None = None
    # What acting needs of the file as indexed (``path`` is as the user wrote the roots; these are not shown):
    content_hash: str | None = None
    dev: int | None = None
    inode: int | None = None

    @property
    def reclaimable(self) -> bool:
        """Whether acting on it frees its bytes: not the keeper, not a reference file, not a link to the keeper."""
        return not self.keep and not self.reference and not self.linked


@dataclass(frozen=True, slots=True)
class DuplicateGroup:
    """Files that show the same picture; exactly one is marked ``keep``.

    ``category`` is ``"exact"`` when every member has the keeper's bytes, else
    ``"near"``. ``keeper_confidence`` is ``"low"`` when the keeper is in doubt
    (``matching.keeper.Ranking.confidence``: told from the next best file only by
    format, size or path, or the evidence points both ways): a reviewer should look there first.
    ``decided``: the group as it would be without a person's "not duplicates" decisions
    (``find --show-decided``): shown, never acted on, nothing reclaimable. ``keeper_rule`` names the rule
    that chose the keeper and ``keeper_reason`` says it in words
    (``matching.keeper_words``); ``keeper_lacks``: the metadata (``"gps"``,
    ``"date_taken"``, ``"camera"``) that a copy to be removed carries and the keeper lacks.
    """

    id: int
    category: str
    members: tuple[GroupMember, ...]
    keeper_confidence: str = "high"
    decided: bool = False
    keeper_rule: str = ""
    keeper_reason: str = ""
    keeper_lacks: tuple[str, ...] = ()

    @property
    def keeper(self) -> GroupMember:
        return next(m for m in self.members if m.keep)

    @property
    def reference_only(self) -> bool:
        """Every file is under a reference folder: listed, and left alone by every action."""
        return all(m.reference for m in self.members)

    @property
    def exact_copies(self) -> int:
        """Members other than the keeper with the keeper's bytes."""
        return sum(m.exact and not m.keep for m in self.members)

    @property
    def reclaimable_bytes(self) -> int:
        """Bytes an action would free: every member but the keeper, reference files and links to the keeper."""
        return 0 if self.decided else sum(m.size for m in self.members if m.reclaimable)

    @property
    def linked_copies(self) -> int:
        """Members that are the keeper's file under another name (already linked, as by ``dedupe --action hardlink``)."""
        return sum(m.linked for m in self.members)


@dataclass(frozen=True, slots=True)
class IndexedFile:
    """One file as the index records it: the one record of an indexed file.

    Built only by ``persistence`` from the index's row (persistence is the only
    code that speaks SQL); scans, find, plans, the API and the review app all
    read this. ``hash`` is the perceptual hash in hex (None where the file
    could not be read: ``error_reason`` says why); ``features`` and ``signals``
    are None where the query left the blobs out (``HashIndex.files_under``).
    """

    path: str
    size: int
    mtime_ns: int
    dev: int | None = None
    inode: int | None = None
    ctime_ns: int | None = None
    content_hash: str | None = None
    width: int | None = None
    height: int | None = None
    format: str | None = None
    decode: str | None = None
    loader: str | None = None
    hash: str | None = None
    hash_spec: str | None = None
    features: bytes | None = field(default=None, repr=False)
    features_spec: str | None = None
    signals: bytes | None = field(default=None, repr=False)
    signals_spec: str | None = None
    answered_by: str | None = None
    error_reason: str | None = None
    error_message: str | None = None
    vanished: bool = False  # a later scan found it gone

    @property
    def mtime(self) -> float:
        """Seconds since the epoch."""
        return self.mtime_ns / 1e9

    @property
    def error(self) -> str | None:
        """Why it could not be read (the stable reason code), or None."""
        return self.error_reason

    @property
    def file_id(self) -> tuple[int, int] | None:
        """(device, inode) as scanned: hard links to one file share it; None where unknown."""
        return (self.dev, self.inode) if self.dev is not None and self.inode is not None else None
