"""Local features for ``find --deep``: keypoints with binary descriptors.

A global hash describes the whole frame, so a copy whose frame changed (a
photo straightened and cropped, shown inside a screenshot, cropped by a
quarter, with a sticker on it) lands far from its original.  Keypoints
describe small patches, and enough of them survive such edits for a
geometric fit (``matching.deep``) to say that one picture is, or contains,
the other.

What is computed (OpenCV's ORB, chosen by measurement over AKAZE and SIFT, see
docs/benchmarks.md): the file is decoded a second time at a larger size than
the hash's (about ``side`` x ``3/4 side`` pixels' worth, see
:func:`detection_image`), the strongest ``keypoints``
ORB keypoints are kept (spread over the picture), and for each its position
and the first ``descriptor_bytes`` of its rBRIEF descriptor; and, from the
same pixels, the box of the picture inside a frame (``hashing.picture``).
``LocalSpec.id`` names all of it and is stored beside the bytes, so features
of another definition are never mixed.

Serialised (:meth:`LocalFeatures.to_bytes`) in 20 + 21 bytes per keypoint (a
u16 position pair, a byte of orientation and pyramid level, and the first
128 bits of the descriptor): at most 8,084 bytes for 384 keypoints.  Twice the keypoints with half of each descriptor
found more copies at the same size than 224 full descriptors (screenshots,
where the picture is small, most of all: docs/benchmarks.md).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from PIL import Image

from imgtwin.hashing.extractor import Extraction
from imgtwin.hashing.picture import Box, picture_box
from imgtwin.interfaces import Hasher, LoadedImage
from imgtwin.records import HashSpec, ImageHash

_MAGIC = b"ILF"
_FORMAT_VERSION = 3  # 2: a byte of orientation and pyramid level per keypoint; 3: the picture's box
_HEADER = struct.Struct("<3sBBxHHHHHHH")  # magic, layout version, descriptor bytes, count, width, height, box
_POINT_SCALE = 16  # positions stored in 1/16 px as u16: images up to 4095 px


@dataclass(frozen=True, slots=True)
class LocalSpec:
    """How local features are computed; ``id`` is stored with them."""

    keypoints: int = 384
    side: int = 360  # keypoints are detected on side x 3/4 side pixels' worth of the image (see detection_image)
    detector: str = "orb"
    descriptor_bytes: int = 16  # ORB: the first bytes of rBRIEF (its tests are ordered by information)
    version: int = 3  # 3: the picture's box inside a frame (``hashing.picture``)
    # The features of the picture's mirror image (left and right swapped), in its own pixels: ORB's descriptors
    # and the fit keep the orientation, so a mirrored copy is matched on these (``matching.escalate``).
    mirrored: bool = False

    @property
    def inner_id(self) -> str:
        """The spec of the inner pictures' records (:func:`inner_features`), beside those of ``id``."""
        return f"{self.id}-inner-v{INNER_VERSION}"

    @property
    def id(self) -> str:
        size = "" if self.detector != "orb" or self.descriptor_bytes == 32 else f"x{self.descriptor_bytes}"
        return f"local-v{self.version}-{self.detector}{self.keypoints}{size}-{self.side}px" + \
            ("-mirrored" if self.mirrored else "")

    def __post_init__(self) -> None:
        if self.detector not in DETECTORS:
            raise ValueError(f"unknown detector {self.detector!r} (one of {', '.join(DETECTORS)})")
        if not 32 <= self.side <= 4095 or not 8 <= self.keypoints <= 4096:
            raise ValueError("side must be in 32..4095 and keypoints in 8..4096")
        if self.descriptor_bytes not in (8, 16, 24, 32):
            raise ValueError("descriptor_bytes must be 8, 16, 24 or 32")


@dataclass(frozen=True, slots=True)
class LocalFeatures:
    """Keypoints of one image: positions in the detection image, descriptors, its size."""

    width: int
    height: int
    points: np.ndarray  # (n, 2) float32, x and y in pixels of the width x height image
    descriptors: np.ndarray  # (n, d) uint8
    shape: np.ndarray | None = None  # (n,) uint8: orientation in 32 steps << 3 | pyramid level (0-7)
    picture: Box | None = None  # the picture inside a frame, in these pixels; None: all picture (hashing.picture)
    #: The picture inside the file's frame described on its own (:func:`inner_features`), its keypoints in these
    #: pixels; None: not framed, or not asked for. Not part of :meth:`to_bytes`: it is a record of its own.
    inner: LocalFeatures | None = None

    def __len__(self) -> int:
        return len(self.points)

    def orientation_bins(self) -> np.ndarray:
        return (self.shape if self.shape is not None else np.zeros(len(self), np.uint8)) >> 3

    def levels(self) -> np.ndarray:
        return (self.shape if self.shape is not None else np.zeros(len(self), np.uint8)) & 7

    def with_inner(self, inner: LocalFeatures | None) -> LocalFeatures:
        """These features with ``inner`` (a record of :func:`inner_features`, made on a decode of its own) as
        their inner picture, its keypoints moved to these pixels (the two detection sizes may differ by a pixel's
        rounding); an inner record without keypoints (a framed file whose box the deep pass did not find) is none."""
        if inner is None or not len(inner) or not inner.width or not inner.height:
            return self if self.inner is None else replace(self, inner=None)
        factor = np.array([self.width / inner.width, self.height / inner.height], np.float32)
        moved = LocalFeatures(self.width, self.height, inner.points * factor, inner.descriptors, inner.shape,
                              self.picture)
        return replace(self, inner=moved)

    def to_bytes(self) -> bytes:
        n, d = self.descriptors.shape if len(self.descriptors) else (0, self.descriptors.shape[-1] if
                                                                     self.descriptors.ndim == 2 else 32)
        head = _HEADER.pack(_MAGIC, _FORMAT_VERSION, d, n, self.width, self.height, *(self.picture or (0, 0, 0, 0)))
        xy = np.clip(np.rint(self.points * _POINT_SCALE), 0, 65535).astype("<u2")
        shape = self.shape if self.shape is not None else np.zeros(n, np.uint8)
        result: bytes = head + xy.tobytes() + shape.astype(np.uint8).tobytes() + \
                     np.ascontiguousarray(self.descriptors, dtype=np.uint8).tobytes()
        return result

    @classmethod
    def from_bytes(cls, data: bytes) -> LocalFeatures:
        data = bytes(data)
        if len(data) < _HEADER.size or data[:3] != _MAGIC:
            raise ValueError("not serialised local features")
        _, version, d, n, width, height, *box = _HEADER.unpack_from(data)
        if version != _FORMAT_VERSION:
            raise ValueError(f"local features format v{version} is not supported (expected v{_FORMAT_VERSION})")
        expected = _HEADER.size + n * (5 + d)
        if len(data) != expected:
            raise ValueError(f"local features: expected {expected} bytes, got {len(data)}")
        xy = np.frombuffer(data, dtype="<u2", count=2 * n, offset=_HEADER.size).reshape(n, 2)
        shape = np.frombuffer(data, dtype=np.uint8, count=n, offset=_HEADER.size + 4 * n)
        descriptors = np.frombuffer(data, dtype=np.uint8, count=n * d, offset=_HEADER.size + 5 * n).reshape(n, d)
        picture = (box[0], box[1], box[2], box[3]) if box[2] > box[0] and box[3] > box[1] else None
        return cls(width, height, xy.astype(np.float32) / _POINT_SCALE, descriptors, shape, picture)


def _cv2() -> Any:
    import cv2  # imported on first use: only --deep needs OpenCV

    cv2.setNumThreads(1)  # one worker per core already; OpenCV's own threads would oversubscribe
    return cv2


def detection_size(width: int, height: int, side: int) -> tuple[int, int]:
    """The size :func:`detection_image` reduces a ``width`` x ``height`` image to."""
    budget = side * side * 0.75
    scale = max(math.sqrt(budget / (width * height)), 0.75 * side / min(width, height))
    scale = min(scale, math.sqrt(2 * budget / (width * height)))
    if scale >= 1:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))


def detection_image(image: Image.Image, side: int) -> np.ndarray:
    """8-bit grayscale pixels reduced to ``side`` x ``3/4 side`` pixels' worth of area.

    An area budget rather than a long side, and for elongated images (phone
    screenshots are 9:19.5) a short side of at least ``3/4 side``, within twice
    the budget: the picture a screenshot shows across its width keeps enough
    pixels for keypoints.  Area resampling, as a viewer shrinks; never enlarged.
    """
    if image.mode != "L":
        image = image.convert("L")
    pixels = np.asarray(image)
    height, width = pixels.shape
    size = detection_size(width, height, side)
    if size != (width, height):
        pixels = _cv2().resize(pixels, size, interpolation=_cv2().INTER_AREA)
    return np.ascontiguousarray(pixels)


def _detect_orb(pixels: np.ndarray, count: int) -> tuple[list[Any], np.ndarray | None]:
    cv2 = _cv2()
    # Six times the keypoints needed, then a spatially spread subset (see
    # _spread): ORB's own cut keeps the strongest responses, which crowd into
    # the most contrasted patch (text, UI, foliage) and leave soft parts of the
    # picture without a single keypoint.  Soft pictures (upscaled, blurred,
    # hazy) have few FAST corners at the usual contrast threshold: they are
    # detected again at lower ones.
    for threshold in _FAST_THRESHOLDS:
        orb = cv2.ORB_create(nfeatures=count * 6, scaleFactor=1.2, nlevels=8, edgeThreshold=19, patchSize=19,
                             fastThreshold=threshold)
        keypoints = orb.detect(pixels, None)
        if len(keypoints) >= 2 * count:
            break
    keypoints = _spread(keypoints, pixels.shape, count)
    result: tuple[list[Any], np.ndarray | None] = orb.compute(pixels, keypoints)
    return result


_FAST_THRESHOLDS = (3, 1)


def _detect_akaze(pixels: np.ndarray, count: int) -> tuple[list[Any], np.ndarray | None]:
    cv2 = _cv2()
    akaze = cv2.AKAZE_create(threshold=0.0005)
    keypoints = _spread(akaze.detect(pixels, None), pixels.shape, count)
    result: tuple[list[Any], np.ndarray | None] = akaze.compute(pixels, keypoints)
    return result


def _detect_sift(pixels: np.ndarray, count: int) -> tuple[list[Any], np.ndarray | None]:
    cv2 = _cv2()
    sift = cv2.SIFT_create(nfeatures=count * 3)
    keypoints = _spread(sift.detect(pixels, None), pixels.shape, count)
    keypoints, descriptors = sift.compute(pixels, keypoints)
    if descriptors is not None:  # SIFT's values are 0..~255 after its own clamp: bytes lose nothing that matters
        descriptors = np.clip(np.rint(descriptors), 0, 255).astype(np.uint8)
    return keypoints, descriptors


DETECTORS = {"orb": _detect_orb, "akaze": _detect_akaze, "sift": _detect_sift}

_GRID = 4  # spread: at most count / (GRID * GRID) * 2 keypoints per cell in the first round


def _spread(keypoints: Any, shape: tuple[int, ...], count: int) -> list[Any]:
    """``count`` keypoints, strongest first, but no cell of a 4 x 4 grid holding more than its share.

    Crops, stickers and screenshots keep or hide whole regions: keypoints
    spread over the picture keep enough of them in whatever part survives.
    Cells with too few keypoints leave their share to the others.
    """
    if len(keypoints) <= count:
        return sorted(keypoints, key=lambda k: -k.response)
    # Vectorised (a Python loop over ~2,000 keypoints was a tenth of a file's ORB time); the same choice:
    # strongest first (a stable sort), each cell's first ``cap``, then the strongest of the rest.
    response = np.array([k.response for k in keypoints], dtype=np.float64)
    xy = _points(keypoints).astype(np.float64)
    order = np.argsort(-response, kind="stable")
    height, width = shape[:2]
    cx = np.minimum(_GRID - 1, (xy[order, 0] * _GRID / width).astype(np.int64))
    cy = np.minimum(_GRID - 1, (xy[order, 1] * _GRID / height).astype(np.int64))
    cell = cy * _GRID + cx
    by_cell = np.argsort(cell, kind="stable")  # each cell's keypoints, strongest first
    starts = np.searchsorted(cell[by_cell], cell[by_cell])
    rank = np.empty(len(cell), np.int64)
    rank[by_cell] = np.arange(len(cell)) - starts
    within = rank < max(1, (2 * count) // (_GRID * _GRID))
    chosen = order[within][:count]
    picked = np.concatenate([chosen, order[~within][: count - len(chosen)]])
    return [keypoints[int(k)] for k in picked]


def _points(keypoints: Any) -> np.ndarray:
    """The keypoints' positions, (n, 2) float32: the values ``KeyPoint.pt`` gives (its floats are float32 too),
    read by OpenCV at once instead of a Python attribute per keypoint (half of :func:`_spread`'s time)."""
    points: np.ndarray = _cv2().KeyPoint_convert(keypoints).reshape(-1, 2).astype(np.float32, copy=False)
    return points


def extract_local(image: Image.Image, spec: LocalSpec = LocalSpec()) -> LocalFeatures:
    """Local features of a decoded image (any mode; reduced to ``spec.side`` first)."""
    return features_of(detection_image(image, spec.side), spec)


def features_of(pixels: np.ndarray, spec: LocalSpec = LocalSpec()) -> LocalFeatures:
    """Local features of a detection image (:func:`detection_image`), or of its mirror image (``spec.mirrored``)."""
    if spec.mirrored:
        pixels = np.ascontiguousarray(pixels[:, ::-1])
    keypoints, descriptors = DETECTORS[spec.detector](pixels, spec.keypoints)
    height, width = pixels.shape
    if descriptors is None or not keypoints:
        size = {"orb": spec.descriptor_bytes, "akaze": 64, "sift": 128}[spec.detector]
        return LocalFeatures(width, height, np.zeros((0, 2), np.float32), np.zeros((0, size), np.uint8),
                             picture=picture_box(pixels))
    points = _points(keypoints)
    angle = np.array([k.angle for k in keypoints], dtype=np.float64)
    level = np.array([k.octave & 0xFF for k in keypoints], dtype=np.int64)  # SIFT packs more into octave
    shape = ((np.floor(np.mod(angle, 360.0) / 11.25).astype(np.int64) & 31) << 3 | np.clip(level, 0, 7)).astype(np.uint8)
    if spec.detector == "orb":
        descriptors = descriptors[:, : spec.descriptor_bytes]
    elif spec.detector == "akaze":  # 486 bits in 61 bytes: zero-padded to 64 for 64-bit words
        descriptors = np.pad(descriptors, ((0, 0), (0, 64 - descriptors.shape[1])))
    return LocalFeatures(width, height, points, np.ascontiguousarray(descriptors, dtype=np.uint8), shape,
                         picture_box(pixels))


class LocalFeatureExtractor:
    """The scan engine's hook for ``--deep``: local features instead of the matching features.

    Used by the deep pass (``runs.deep``) with a loader that decodes at
    ``spec.side``; it computes no hash (:meth:`extract`).
    """

    def __init__(self, spec: LocalSpec = LocalSpec()) -> None:
        self.local_spec = spec

    @property
    def spec(self) -> str:
        return self.local_spec.id

    @property
    def signals_spec(self) -> None:
        return None  # the deep pass records local features only

    @property
    def picture_spec(self) -> None:
        return None

    def extract(self, loaded: LoadedImage, hasher: Hasher) -> Extraction:
        """The features, and no hash: the deep pass stores the features only (``persistence.local_features``),
        and a hash of the detection image was 3 % of a file's time for a value no one read. The result's hash is
        :data:`NOT_HASHED`, whose spec no hasher has, so matching would take it for a stale row, never compare it."""
        features = features_of(detection_image(loaded.image, self.local_spec.side), self.local_spec)
        return Extraction(NOT_HASHED, features.to_bytes())


#: The hash a local-features result carries (``LocalFeatureExtractor.extract``): none computed.
NOT_HASHED = ImageHash(0, HashSpec("none", 64, "local-features-only"))


#: Version of the inner pictures' records (:func:`inner_features`, ``LocalSpec.inner_id``); bump on any change.
INNER_VERSION = 1
#: The frame is searched for its picture on a copy of at most this many pixels a side: the scan's decode
#: (``runs.scan``), on which ``hashing.framed`` found the boxes that send a file to the inner pass.
FRAME_SEARCH = 512


def inner_features(image: Image.Image, spec: LocalSpec = LocalSpec()) -> LocalFeatures:
    """The local features of the picture inside a framed file (a screenshot's photo, a bordered print), described
    as a file of its own, with their positions in the whole file's detection pixels (:func:`detection_size`).

    Why: the whole file's features (:func:`extract_local`) spend the detector's pixel budget on the whole frame,
    so a photo shown on a fifth of a phone screen or a tenth of a desktop keeps a fifth or a tenth of it: 60-120
    keypoints at half its original's scale, too few of which repeat for a fit. Here the box
    (``hashing.framed.inner_boxes``, the scan's rule, on a copy of the scan's size) is cut out of ``image`` (a
    larger decode: ``runs.deep.inner_loader``) and given the whole budget, as its original has. No box: a
    record without keypoints (the file was looked at).
    """
    from imgtwin.hashing.framed import inner_boxes, maybe_framed  # framed imports the match features: only here

    if image.mode != "L":
        image = image.convert("L")
    pixels = np.asarray(image)
    height, width = pixels.shape
    frame_width, frame_height = detection_size(width, height, spec.side)
    search = pixels
    if max(width, height) > FRAME_SEARCH:
        factor = FRAME_SEARCH / max(width, height)
        search = _cv2().resize(pixels, (max(1, round(width * factor)), max(1, round(height * factor))),
                               interpolation=_cv2().INTER_AREA)
    search = np.ascontiguousarray(search)
    boxes = inner_boxes(search) if maybe_framed([search])[0] else []  # the scan's rule (``framed.framed_pictures``)
    empty = LocalFeatures(frame_width, frame_height, np.zeros((0, 2), np.float32),
                          np.zeros((0, spec.descriptor_bytes), np.uint8))
    if not boxes:
        return empty
    sx, sy = width / search.shape[1], height / search.shape[0]
    left, top, right, bottom = boxes[0]  # the bands' box where there is one, else the island's
    left, top = int(left * sx), int(top * sy)
    right, bottom = max(left + 1, round(right * sx)), max(top + 1, round(bottom * sy))
    crop = detection_image(Image.fromarray(np.ascontiguousarray(pixels[top:bottom, left:right])), spec.side)
    found = features_of(crop, spec)
    if not len(found):
        return empty
    # crop pixels -> decode pixels -> the whole file's detection pixels
    scale = np.array([(right - left) / crop.shape[1] * frame_width / width,
                      (bottom - top) / crop.shape[0] * frame_height / height], np.float64)
    offset = np.array([left * frame_width / width, top * frame_height / height], np.float64)
    points = (found.points.astype(np.float64) * scale + offset).astype(np.float32)
    return LocalFeatures(frame_width, frame_height, points, found.descriptors, found.shape)


class InnerFeatureExtractor(LocalFeatureExtractor):
    """The deep pass's hook for the inner pictures of framed files (:func:`inner_features`), stored under
    ``LocalSpec.inner_id`` beside the whole files' features."""

    @property
    def spec(self) -> str:
        return self.local_spec.inner_id

    def extract(self, loaded: LoadedImage, hasher: Hasher) -> Extraction:
        return Extraction(NOT_HASHED, inner_features(loaded.image, self.local_spec).to_bytes())
