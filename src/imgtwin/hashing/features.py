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
* ``colour``: the whole picture's CIELAB a* and b* (16 x 16 each), from the
  loader's small colour copy; None for files that hold no colour. The pHash
  and the detail checks see only grey levels, so two flat pictures of
  different hues (orange and green paper, a red and a blue wall) look alike to
  them; verification compares colour too (``matching.colour``).
* ``unstable``: how many of the 64 pHash coefficients lie within
  ``UNSTABLE_MARGIN`` of the block's median: bits that a re-encode or a resize
  can flip. On flat pictures (solid colours, blank pages, plain gradients)
  most bits are such noise.
* ``flat``: the share (percent) of the thumbnail with no local structure. A
  picture that is flat but for a small feature (a dark frame with one light, a
  page with a stamp, an empty screen with a bar) has stable bits, but a crop
  alignment can slide its feature onto another picture's.
  Either way the picture is ``low_detail``: it is matched on pixel agreement,
  never on hash or detail distances alone; so is a picture whose content inside
  a trimmed border is flat (:func:`blank_inside`: a frame around a blank page).

Scan-time cost is one extra 32 x 32 resize, a 16 x 16 colour one and a border
scan: well under 1 ms.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
from PIL import Image

from imgtwin.hashing.dct import DCTHasher, dct_matrix, threshold_bits

THUMB = 32
HASH_SIZE = 8
COLOUR_THUMB = 16
FEATURES_VERSION = 3
#: Names the feature definition and its parameters; stored next to the bytes so
#: features computed by another definition are never mixed.  Bump on any change
#: to what :func:`compute_features` produces.
FEATURES_SPEC = "features-v3-phash64v2-trim2x99bands-thumb32-full32-lab16-unstable24-flat4"

#: A coefficient this close to the block's median (unnormalised DCT of 0-255
#: pixels) can change sides under a re-encode: one grey level of noise on the
#: 32 x 32 pixels moves an AC coefficient by about 16 (its basis' norm).
UNSTABLE_MARGIN = 24.0
#: With this many unstable bits the hash is mostly noise: low detail ...
LOW_DETAIL_BITS = 24
#: ... and with this many there is no structure left to check at all (solid colours, blank pages and plain
#: gradients have 45-63; soft photos with a few real features, 24-40).
FEATURELESS_BITS = 40
#: A thumbnail pixel is flat when its two neighbour differences add up to less than this (grey levels).
FLAT_STEP = 4
#: A picture with at least this share (percent) of flat pixels is low detail: its structure fits in a
#: tenth of the frame (a light, a stamp). 0.2 % of the shared corpus's photos reach it.
LOW_DETAIL_FLAT = 90
#: From this share on a picture is mostly flat (an empty screen, a shape on a plain ground; 3 % of the
#: corpus's photos): matched on structure, but its tones must agree too, since a different flat picture
#: in other shades cannot be told from a brightness edit.
MOSTLY_FLAT = 75

_MAGIC = b"IMF"
_FORMAT_VERSION = 2  # of the byte layout (FEATURES_SPEC names what the values mean)
# magic, layout version, flags, hash, trim_hash, trim box (x 65535), unstable bits, flat percent
_HEADER = struct.Struct("<3sBBQQ4HBB")
_HAS_FULL, _HAS_COLOUR = 1, 2  # flags

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
_TRIM_BLEND = 2  # lines passed over between two bands of a border
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

    Serialised by :meth:`to_bytes` in 1,567 bytes for a colour picture with
    nothing trimmed (1,055 without colour), plus 1,024 when a border was
    trimmed (the untrimmed thumbnail is then stored too).
    """

    hash: int
    trim_hash: int
    thumb: bytes  # THUMB * THUMB uint8, row-major, of the trimmed image
    trim: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)  # left, top, right, bottom
    full_thumb: bytes | None = None  # the untrimmed image's thumbnail; None: same as ``thumb``
    colour: bytes | None = None  # 2 x COLOUR_THUMB**2 int8: a* then b* of the whole picture; None: no colour
    unstable: int = 0  # pHash bits within UNSTABLE_MARGIN of the median
    flat: int = 0  # percent of the untrimmed thumbnail without local structure

    @property
    def low_detail(self) -> bool:
        """Hash and detail distances say little here: match this picture on pixels only."""
        return self.unstable >= LOW_DETAIL_BITS or self.flat >= LOW_DETAIL_FLAT

    @property
    def featureless(self) -> bool:
        """No structure to verify (a solid colour, a blank page, a gradient, a frame with one small light)."""
        return self.unstable >= FEATURELESS_BITS or self.flat >= LOW_DETAIL_FLAT

    @property
    def mostly_flat(self) -> bool:
        """Matched on structure, but never to other tones (see MOSTLY_FLAT)."""
        return self.flat >= MOSTLY_FLAT

    def colour_array(self) -> np.ndarray | None:
        """(2, 16, 16) float a*, b* or None."""
        if self.colour is None:
            return None
        return np.frombuffer(self.colour, dtype=np.int8).reshape(2, COLOUR_THUMB, COLOUR_THUMB).astype(np.float32)

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
        = untrimmed thumbnail follows, bit 1 = colour follows), pHash (u64),
        trimmed pHash (u64), trim box as 4 x u16 (fractions x 65535), unstable
        bits (u8), flat percent (u8), the trimmed thumbnail (1,024 bytes), the colour thumbnail
        (512 bytes) when flagged, then the untrimmed thumbnail when flagged.
        """
        full = self.full_thumb if self.full_thumb is not None and self.full_thumb != self.thumb else None
        box = (min(65535, max(0, round(v * 65535))) for v in self.trim)
        flags = (_HAS_FULL if full is not None else 0) | (_HAS_COLOUR if self.colour is not None else 0)
        head = _HEADER.pack(_MAGIC, _FORMAT_VERSION, flags, self.hash, self.trim_hash, *box, min(self.unstable, 64),
                            min(self.flat, 100))
        return head + self.thumb + (self.colour or b"") + (full or b"")

    @classmethod
    def from_bytes(cls, data: bytes) -> MatchFeatures:
        data = bytes(data)
        if len(data) < _HEADER.size or data[:3] != _MAGIC:
            raise ValueError("not serialised match features")
        _magic, version, flags, full_hash, trim_hash, *box, unstable, flat = _HEADER.unpack_from(data)
        if version != _FORMAT_VERSION:
            raise ValueError(f"match features format v{version} is not supported (expected v{_FORMAT_VERSION})")
        size, colour_size = THUMB * THUMB, 2 * COLOUR_THUMB * COLOUR_THUMB
        with_colour = colour_size if flags & _HAS_COLOUR else 0
        expected = _HEADER.size + size * (2 if flags & _HAS_FULL else 1) + with_colour
        if len(data) != expected:
            raise ValueError(f"match features: expected {expected} bytes, got {len(data)}")
        at = _HEADER.size
        thumb = data[at : at + size]
        colour = data[at + size : at + size + with_colour] if with_colour else None
        full = data[at + size + with_colour :] if flags & _HAS_FULL else None
        trim = tuple(v / 65535 for v in box)
        return cls(full_hash, trim_hash, thumb, trim, full, colour, unstable, flat)


def _border_lines(lines: np.ndarray, limit: int) -> int:
    """How many leading rows of ``lines`` are near-constant in the first row's colour.

    The first ``_TRIM_MIN_LINES`` rows are looked at alone first: most pictures
    have no border, and this keeps the scan from converting 40 % of each side.
    """
    if limit < _TRIM_MIN_LINES:
        return 0
    reference = _median(lines[0])
    if not _uniform_rows(lines[:_TRIM_MIN_LINES], reference).all():
        return 0
    uniform = _uniform_rows(lines[:limit], reference)
    count = limit if uniform.all() else int(np.argmin(uniform))
    return count if count >= _TRIM_MIN_LINES else 0


def _median(row: np.ndarray) -> float | np.ndarray:
    """``np.median`` of a row of integers (the same float), without its overhead (the scan calls it per side);
    of each row, for a stack of rows (``hashing.batched``)."""
    ordered = np.sort(row, axis=-1).astype(np.int64)
    length = row.shape[-1]
    middle: float | np.ndarray = (ordered[..., (length - 1) // 2] + ordered[..., length // 2]) / 2
    return middle


def _uniform_rows(rows: np.ndarray, reference: float | np.ndarray) -> np.ndarray:
    """Which ``rows`` (integers, the last axis a row) have ``_TRIM_FRACTION`` of their pixels within
    ``_TRIM_TOLERANCE`` of ``reference`` (a number, or one per stacked picture, broadcast)."""
    low = np.maximum(np.ceil(np.subtract(reference, _TRIM_TOLERANCE)), 0)
    high = np.minimum(np.floor(np.add(reference, _TRIM_TOLERANCE)), 255)
    close = ((rows >= low) & (rows <= high)).sum(axis=-1)
    result: np.ndarray = close / rows.shape[-1] >= _TRIM_FRACTION
    return result


def _border_run(lines: np.ndarray, limit: int) -> int:
    """Leading rows of ``lines`` in uniform bands, one after another (a status bar, then a black bar).

    Between two bands, a line or two blended by resampling or JPEG ringing may be passed over.
    """
    total = 0
    while total < limit:
        for skip in range(_TRIM_BLEND + 1 if total else 1):
            count = _border_lines(lines[total + skip :], limit - total - skip)
            if count:
                total += skip + count
                break
        else:
            break
    return total


def trim_box(pixels: np.ndarray) -> tuple[int, int, int, int]:
    """The box ``(left, top, right, bottom)`` left after cutting uniform borders.

    Each side is scanned independently (a border need not be the same width on
    all sides, nor the same colour: padding to a square touches two sides), and
    a border may be several bands of different colours (a screenshot's status
    bar over its black letterbox).
    """
    height, width = pixels.shape
    top = _border_run(pixels, int(height * _TRIM_MAX))
    bottom = _border_run(pixels[::-1], int(height * _TRIM_MAX))
    left = _border_run(pixels.T, int(width * _TRIM_MAX))
    right = _border_run(pixels.T[::-1], int(width * _TRIM_MAX))
    # A trimmed side loses a little more: the last border lines blur into the
    # picture (JPEG ringing, resampling) and a leftover dark/bright line would
    # dominate the thumbnail's gradients; verification absorbs the extra crop.
    def shave(count: int, size: int) -> int:
        return count + max(_TRIM_MIN_LINES, round(size * _TRIM_SHAVE)) if count else 0

    left, right = shave(left, width), shave(right, width)
    top, bottom = shave(top, height), shave(bottom, height)
    return left, top, width - right, height - bottom


def block_hash(block: np.ndarray) -> int:
    """pHash bits of one 8 x 8 DCT block (tie-stable median threshold, first bit most significant)."""
    return int(np.sum(_WEIGHTS[threshold_bits(block)], dtype=np.uint64))


def unstable_bits(block: np.ndarray) -> int:
    """How many coefficients of an 8 x 8 block lie within ``UNSTABLE_MARGIN`` of its median."""
    flat = block.ravel()
    return int(np.count_nonzero(np.abs(flat - np.median(flat)) < UNSTABLE_MARGIN))


def compute_features(image: Image.Image, hasher: DCTHasher | None = None,
                     colour: Image.Image | None = None) -> MatchFeatures:  # fmt: skip
    """Features of the loader's (grayscale, <= 512 px) image and its small colour copy (if any)."""
    from imgtwin.hashing.batched import compute_features_many  # it builds on this module

    return compute_features_many([image], hasher, [colour])[0]


def flat_percent(thumb: np.ndarray) -> int:
    """Percent of a thumbnail's pixels whose right and lower neighbours differ by less than FLAT_STEP in all."""
    return int(flat_percents(thumb[None])[0])


def flat_percents(thumbs: np.ndarray) -> np.ndarray:
    """:func:`flat_percent` of each of (n, h, w) thumbnails at once."""
    x = thumbs.astype(np.int16)
    steps = np.abs(np.diff(x, axis=2))[:, :-1, :] + np.abs(np.diff(x, axis=1))[:, :, :-1]
    result: np.ndarray = np.round(100 * (steps < FLAT_STEP).mean(axis=(1, 2))).astype(np.int64)
    return result


def blank_inside(thumbs: np.ndarray, trimmed: np.ndarray) -> np.ndarray:
    """(n,) bool: pictures whose content, once their border is cut, is flat (``LOW_DETAIL_FLAT``).

    A frame drawn around a blank page, a bar above an empty screen: the frame or the bar is all the
    structure there is, and a crop alignment slides one frame onto another, so such a picture is
    low-detail and featureless like a blank page (matched on its untrimmed pixels, unaligned).
    ``thumbs``: the trimmed thumbnails; ``trimmed``: which pictures had a border cut.
    """
    result = np.zeros(len(thumbs), dtype=bool)
    if trimmed.any():
        result[trimmed] = flat_percents(thumbs[trimmed]) >= LOW_DETAIL_FLAT
    return result


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of sRGB values in [0, 1], shape (..., 3).

    Written out because it is six lines: Pillow's ImageCms would need an ICC
    profile round trip per image for the same numbers.
    """
    return linear_to_lab(_linear(rgb))


def _linear(rgb: np.ndarray) -> np.ndarray:
    """sRGB values in [0, 1] made linear (the transfer curve undone)."""
    result: np.ndarray = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return result


#: ``_linear`` of each 8-bit level k (k / 255 in float32), computed by the same array arithmetic: the colour
#: thumbnails hold such levels only, and a table look-up costs a tenth of the power (~17 us a scanned tile).
LINEAR_LEVELS = _linear(np.arange(256, dtype=np.float32) / 255.0)


def linear_to_lab(linear: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of linear sRGB values, shape (..., 3): ``srgb_to_lab`` after the transfer curve."""
    xyz = linear @ np.array([[0.4124564, 0.2126729, 0.0193339], [0.3575761, 0.7151522, 0.1191920],
                             [0.1804375, 0.0721750, 0.9503041]], dtype=np.float32)
    xyz /= np.array([0.95047, 1.0, 1.08883], dtype=np.float32)
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


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
    """Vectorised pHash bits of (..., 8, 8) blocks as uint64 (the same rule as ``DCTHasher``)."""
    bits = threshold_bits(blocks).astype(np.uint64)
    result: np.ndarray = (bits * _WEIGHTS).sum(axis=-1, dtype=np.uint64)
    return result


def dihedral_hashes(thumbs: np.ndarray) -> np.ndarray:
    """(n, 8) uint64: the trimmed pHash of each image under each dihedral transform."""
    return hashes_of_blocks(dihedral_blocks(thumbs))
