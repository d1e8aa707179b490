"""Per-image matching features, computed once at scan time from the loader's pixels.

What near-duplicate matching needs beyond the plain pHash, all from the same
decoded grayscale image (so scanning still decodes each file once):

* ``hash``: the ordinary 64-bit DCT pHash of the whole image (``DCTHasher``).
* ``trim_hash``: the pHash after cutting uniform borders (solid frames, padding
  to a square).  A padded copy is ~17 bits from its original on ``hash`` but
  ~0-2 bits on ``trim_hash``.  Equal to ``hash`` when there is no border.
* ``thumb``: the 32 x 32 grayscale pixels of the trimmed image (LANCZOS, as
  pHash step 2), 1,024 bytes.  Everything else derives from it: the trimmed
  DCT block, hence ``trim_hash`` and its 8 rotated/mirrored variants (see
  :func:`dihedral_hashes`: for the DCT-II a flip negates odd-index
  coefficients, a transpose transposes the block, so no second decode), and
  the crop-aligned correlation check in ``imgtwin.matching.verify``.
* ``trim``: the trimmed box as fractions of the image, for reports.

Scan-time cost is one extra 32 x 32 resize and a border scan: well under 1 ms.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
from PIL import Image

from imgtwin.hashing.dct import DCTHasher, dct_matrix

THUMB = 32
HASH_SIZE = 8
FEATURES_VERSION = 2
#: Names the feature definition and its parameters; stored next to the bytes so
#: features computed by another definition are never mixed.  Bump on any change
#: to what :func:`compute_features` produces.
FEATURES_SPEC = "features-v2-phash64-trim2x99-thumb32-full32"

_MAGIC = b"IMF"
_FORMAT_VERSION = 1  # of the byte layout (FEATURES_SPEC names what the values mean)
_HEADER = struct.Struct("<3sBBQQ4H")  # magic, layout version, flags, hash, trim_hash, trim box (x 65535)

# Border detection: a line belongs to the border while >= 99 % of its pixels lie
# within +-2 grey levels of the outermost line's median; at most 40 % of a side
# is ever cut.  Solid frames and padding stay that flat through JPEG at the
# loader's 1/8-scale decode, while skies, walls and studio backdrops rarely do
# (the looser 12 levels / 97 % trimmed 23 % of the benchmark's originals, 1 %
# now).  A false trim costs little: the untrimmed thumbnail is kept as well.
_TRIM_TOLERANCE = 2
_TRIM_FRACTION = 0.99
_TRIM_MAX = 0.40
_TRIM_MIN_LINES = 2  # ignore 1-pixel edges: resampling artefacts, not borders
_TRIM_SHAVE = 0.015  # extra cut on each trimmed side, as a fraction of the image

_BASIS = dct_matrix(THUMB)[:HASH_SIZE]
_WEIGHTS = 1 << np.arange(HASH_SIZE * HASH_SIZE - 1, -1, -1, dtype=np.uint64)
_SIGN = (-1.0) ** np.arange(HASH_SIZE)

# The 8 symmetries of the square, in the order used everywhere in matching.
# Rotation angles are counter-clockwise, as Pillow's ``Transpose.ROTATE_90``.
DIHEDRAL_NAMES = ("identity", "mirror_h", "mirror_v", "rotate180", "transpose", "rotate270", "rotate90", "transverse")


@dataclass(frozen=True, slots=True)
class MatchFeatures:
    """Everything matching needs for one image (see module doc).

    Serialised by :meth:`to_bytes` in 1,053 bytes when nothing was trimmed,
    2,077 bytes when a border was (the untrimmed thumbnail is then stored too).
    """

    hash: int
    trim_hash: int
    thumb: bytes  # THUMB * THUMB uint8, row-major, of the trimmed image
    trim: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)  # left, top, right, bottom
    full_thumb: bytes | None = None  # the untrimmed image's thumbnail; None: same as ``thumb``

    def thumb_array(self) -> np.ndarray:
        return np.frombuffer(self.thumb, dtype=np.uint8).reshape(THUMB, THUMB)

    def full_thumb_array(self) -> np.ndarray:
        return np.frombuffer(self.full_thumb or self.thumb, dtype=np.uint8).reshape(THUMB, THUMB)

    @property
    def trimmed(self) -> bool:
        return self.trim != (0.0, 0.0, 1.0, 1.0)

    def to_bytes(self) -> bytes:
        """Compact, versioned serialisation (one BLOB); :meth:`from_bytes` reads it back.

        Layout (little endian): ``b"IMF"``, format version (u8), flags (u8: bit 0
        = untrimmed thumbnail follows), pHash (u64), trimmed pHash (u64), trim
        box as 4 x u16 (fractions x 65535), the trimmed thumbnail (1,024 bytes),
        then the untrimmed one when flagged.
        """
        full = self.full_thumb if self.full_thumb is not None and self.full_thumb != self.thumb else None
        box = (min(65535, max(0, round(v * 65535))) for v in self.trim)
        head = _HEADER.pack(_MAGIC, _FORMAT_VERSION, 1 if full is not None else 0, self.hash, self.trim_hash, *box)
        return head + self.thumb + (full or b"")

    @classmethod
    def from_bytes(cls, data: bytes) -> MatchFeatures:
        data = bytes(data)
        if len(data) < _HEADER.size or data[:3] != _MAGIC:
            raise ValueError("not serialised match features")
        magic, version, flags, full_hash, trim_hash, *box = _HEADER.unpack_from(data)
        if version != _FORMAT_VERSION:
            raise ValueError(f"match features format v{version} is not supported (expected v{_FORMAT_VERSION})")
        size = THUMB * THUMB
        expected = _HEADER.size + size * (2 if flags & 1 else 1)
        if len(data) != expected:
            raise ValueError(f"match features: expected {expected} bytes, got {len(data)}")
        thumb = data[_HEADER.size : _HEADER.size + size]
        full = data[_HEADER.size + size :] if flags & 1 else None
        return cls(full_hash, trim_hash, thumb, tuple(v / 65535 for v in box), full)  # type: ignore[arg-type]


def _border_lines(lines: np.ndarray, limit: int) -> int:
    """How many leading rows of ``lines`` are near-constant in the first row's colour."""
    if limit <= 0:
        return 0
    head = lines[:limit].astype(np.int16)
    reference = np.median(head[0])
    close = np.abs(head - reference) <= _TRIM_TOLERANCE
    uniform = close.mean(axis=1) >= _TRIM_FRACTION
    count = limit if uniform.all() else int(np.argmin(uniform))
    return count if count >= _TRIM_MIN_LINES else 0


def trim_box(pixels: np.ndarray) -> tuple[int, int, int, int]:
    """The box ``(left, top, right, bottom)`` left after cutting uniform borders.

    Each side is scanned independently (a border need not be the same width on
    all sides, nor the same colour: padding to a square touches two sides).
    """
    height, width = pixels.shape
    top = _border_lines(pixels, int(height * _TRIM_MAX))
    bottom = _border_lines(pixels[::-1], int(height * _TRIM_MAX))
    left = _border_lines(pixels.T, int(width * _TRIM_MAX))
    right = _border_lines(pixels.T[::-1], int(width * _TRIM_MAX))
    # A trimmed side loses a little more: the last border lines blur into the
    # picture (JPEG ringing, resampling) and a leftover dark/bright line would
    # dominate the thumbnail's gradients; verification absorbs the extra crop.
    def shave(count: int, size: int) -> int:
        return count + max(_TRIM_MIN_LINES, round(size * _TRIM_SHAVE)) if count else 0

    left, right = shave(left, width), shave(right, width)
    top, bottom = shave(top, height), shave(bottom, height)
    return left, top, width - right, height - bottom


def block_hash(block: np.ndarray) -> int:
    """pHash bits of one 8 x 8 DCT block (median threshold, first bit most significant)."""
    bits = (block > np.median(block)).ravel()
    return int(np.sum(_WEIGHTS[bits], dtype=np.uint64))


def compute_features(image: Image.Image, hasher: DCTHasher | None = None) -> MatchFeatures:
    """Features of the loader's (grayscale, <= 512 px) image."""
    hasher = hasher or DCTHasher()
    if image.mode not in ("L", "F"):
        image = image.convert("L")
    prepared = hasher.prepare(image)
    full_hash = hasher.hash_block(hasher.low_frequencies(prepared)).value  # == hasher.hash(image)
    pixels = np.asarray(image if image.mode == "L" else image.convert("L"))
    left, top, right, bottom = trim_box(pixels)
    height, width = pixels.shape
    box = (left, top, right, bottom)
    full_thumb = _thumb(prepared)
    if right - left < 8 or bottom - top < 8 or box == (0, 0, width, height):
        thumb, trim, full = full_thumb, (0.0, 0.0, 1.0, 1.0), None
    else:
        thumb = _thumb(hasher.prepare(image.crop(box)))
        # Quantised as stored, so that from_bytes(to_bytes(f)) == f.
        trim = tuple(round(v * 65535) / 65535 for v in (left / width, top / height, right / width, bottom / height))
        full = full_thumb.tobytes()
    trim_hash = block_hash(_BASIS @ thumb.astype(np.float64) @ _BASIS.T)
    return MatchFeatures(full_hash, trim_hash, thumb.tobytes(), trim, full)  # type: ignore[arg-type]


def _thumb(prepared: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(prepared), 0, 255).astype(np.uint8)


def dihedral_blocks(thumbs: np.ndarray) -> np.ndarray:
    """The 8 x 8 DCT blocks of the 8 dihedral transforms of each thumb: (n, 8, 8, 8).

    Derived from one block per image: flipping columns negates odd columns of
    the block, flipping rows negates odd rows, transposing transposes it.
    Order as :data:`DIHEDRAL_NAMES` (which also name the transform applied to
    the pixels: ``dihedral_pixels(x)[k]`` has block ``dihedral_blocks(x)[k]``).
    """
    x = np.asarray(thumbs, dtype=np.float64).reshape(-1, THUMB, THUMB)
    block = _BASIS @ x @ _BASIS.T
    flip_cols = _SIGN[None, None, :]
    flip_rows = _SIGN[None, :, None]
    out = []
    for b in (block, np.swapaxes(block, 1, 2)):
        out += [b, b * flip_cols, b * flip_rows, b * flip_rows * flip_cols]
    return np.stack(out, axis=1)


def dihedral_pixels(thumb: np.ndarray) -> list[np.ndarray]:
    """The 8 dihedral transforms of pixels (last two axes), same order as the blocks."""
    out = []
    for t in (thumb, np.swapaxes(thumb, -1, -2)):
        out += [t, t[..., :, ::-1], t[..., ::-1, :], t[..., ::-1, ::-1]]
    return out


def hashes_of_blocks(blocks: np.ndarray) -> np.ndarray:
    """Vectorised pHash bits of (..., 8, 8) blocks as uint64."""
    flat = blocks.reshape(*blocks.shape[:-2], HASH_SIZE * HASH_SIZE)
    median = np.median(flat, axis=-1, keepdims=True)
    bits = (flat > median).astype(np.uint64)
    return (bits * _WEIGHTS).sum(axis=-1, dtype=np.uint64)


def dihedral_hashes(thumbs: np.ndarray) -> np.ndarray:
    """(n, 8) uint64: the trimmed pHash of each image under each dihedral transform."""
    return hashes_of_blocks(dihedral_blocks(thumbs))
