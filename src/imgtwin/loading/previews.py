"""The previews cameras and phones embed: the cheapest faithful view of a photo, where it is faithful.

A camera JPEG carries a ~160 x 120 JPEG in its EXIF block (IFD1), read with the
header in the first few KB; a HEIC carries a ~320 px thumbnail item. Decoding
them costs 0.2 ms and ~5 ms where the main image costs 30-60 ms (JPEG at 1/8)
and ~560 ms (HEIC). Most files of a library have no duplicate, so for them a
preview's hash is all that is ever needed (``runs.find`` decodes the main image
of every file in a candidate pair before anything is decided).

Previews can lie: an edit that kept the EXIF block keeps the old thumbnail, and
some tools copy another file's EXIF block whole. A preview is taken only where
it agrees with the main image's header, and is otherwise ignored:

* the EXIF block's own record of the picture's size (PixelXDimension /
  PixelYDimension), where present, is the main image's size: an editor that
  cropped or resized the picture and kept the block kept a stale preview;
* the preview's aspect, once letterbox bars (uniform bands some makes add to fit
  160 x 120) are removed, is the main image's, within two pixels of the preview;
* it is a JPEG that decodes, at least ``MIN_SIDE`` px on its short side.

The main image's EXIF orientation is applied to an EXIF thumbnail as to the
picture (cameras store both the sensor's way); libheif applies a HEIF's
transforms to its thumbnail items itself.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import ExifTags, Image

#: A preview's short side must hold at least the 32 px the DCT hash reads.
MIN_SIDE = 32
#: How far (px) a preview's side may be from the picture's aspect: rounding to whole, or even, pixels.
ASPECT_SLACK = 2.0
#: Letterbox bars: 90 % of a band's pixels within this many grey levels of its median (half that on average).
BAR_SPREAD = 12.0

_THUMB_OFFSET, _THUMB_LENGTH, _COMPRESSION = 0x0201, 0x0202, 0x0103
_PIXEL_X, _PIXEL_Y = 0xA002, 0xA003


@dataclass(frozen=True, slots=True)
class Preview:
    """A preview's pixels (in the main image's stored orientation for EXIF, upright for HEIF) and its name."""

    image: Image.Image
    view: str  # "preview-exif-160x120", stored in the index's ``decode`` column


def may_have_exif_thumbnail(head: bytes) -> bool:
    """False when a JPEG's first bytes show it has no EXIF thumbnail; True when it may have one.

    Written by hand because Pillow parses the whole header to answer (0.2 ms, 2 % of a draft decode,
    spent on every file without a preview); the segment walk and the IFD0 link need microseconds.
    """
    pos = 2
    while pos + 4 <= len(head) and head[pos] == 0xFF:
        marker, length = head[pos + 1], int.from_bytes(head[pos + 2 : pos + 4], "big")
        if marker == 0xDA:  # the picture's data begins: no EXIF block before it
            return False
        if marker == 0xE1 and head[pos + 4 : pos + 10] == b"Exif\x00\x00":
            return _ifd0_links_on(head[pos + 10 : pos + 2 + length])
        pos += 2 + length
    return pos + 4 > len(head)  # the head ended first: cannot tell


def _ifd0_links_on(tiff: bytes) -> bool:
    """Whether a TIFF structure's first IFD links to a second one (IFD1, the thumbnail's); True if cut short."""
    order = {b"II": "little", b"MM": "big"}.get(tiff[:2])
    if order is None or len(tiff) < 8:
        return len(tiff) < 8
    ifd0 = int.from_bytes(tiff[4:8], order)  # type: ignore[arg-type]
    if ifd0 + 2 > len(tiff):
        return True
    entries = int.from_bytes(tiff[ifd0 : ifd0 + 2], order)  # type: ignore[arg-type]
    link = ifd0 + 2 + 12 * entries
    if link + 4 > len(tiff):
        return True
    return int.from_bytes(tiff[link : link + 4], order) != 0  # type: ignore[arg-type]


def exif_thumbnail(image: Image.Image) -> Preview | None:
    """The IFD1 thumbnail of an opened (not decoded) JPEG, where it agrees with the main image; else None."""
    raw = image.info.get("exif")
    if not isinstance(raw, bytes) or not raw.startswith(b"Exif\x00\x00"):
        return None
    try:
        exif = image.getexif()
        ifd1: dict[int, Any] = dict(exif.get_ifd(ExifTags.IFD.IFD1))
        sub: dict[int, Any] = dict(exif.get_ifd(ExifTags.IFD.Exif))
    except Exception:  # noqa: BLE001 - a corrupt EXIF block costs the preview, never the picture
        return None
    offset, length = ifd1.get(_THUMB_OFFSET), ifd1.get(_THUMB_LENGTH)
    if not isinstance(offset, int) or not isinstance(length, int) or length <= 0 or ifd1.get(_COMPRESSION, 6) != 6:
        return None
    if not _size_recorded_matches(sub, image.size):
        return None
    data = raw[6 + offset : 6 + offset + length]
    if len(data) != length:
        return None
    thumb = _decode_jpeg(data)
    if thumb is None:
        return None
    fitted = fit_to(thumb, *image.size)
    return None if fitted is None else Preview(fitted, f"preview-exif-{fitted.width}x{fitted.height}")


def _size_recorded_matches(sub: dict[int, Any], size: tuple[int, int]) -> bool:
    """Whether the EXIF block's record of the picture's size, where it has one, is the file's."""
    recorded = sub.get(_PIXEL_X), sub.get(_PIXEL_Y)
    if not all(isinstance(v, int) and v > 0 for v in recorded):
        return True  # many writers leave it out: the aspect check still applies
    return recorded == size


def _decode_jpeg(data: bytes) -> Image.Image | None:
    try:
        thumb = Image.open(io.BytesIO(data), formats=("JPEG",))
        if max(thumb.size) > 1024:  # a preview, not a second picture: a larger one is no cheaper
            return None
        thumb.load()
    except Exception:  # noqa: BLE001 - a corrupt thumbnail is no preview; the main image decides
        return None
    return thumb if thumb.mode in ("L", "RGB") else thumb.convert("RGB")


def fit_to(preview: Image.Image, width: int, height: int) -> Image.Image | None:
    """``preview`` cut to the picture of a ``width`` x ``height`` image (letterbox bars removed), or None
    when its aspect does not agree with that image's."""
    pw, ph = preview.size
    if min(pw, ph) < MIN_SIDE or pw > width or ph > height:
        return None
    if _aspect_agrees(pw, ph, width, height):
        return preview
    # Letterboxed: the picture, at its own aspect, centred; the bands around it uniform.
    if width * ph > height * pw:  # wider than the preview: bars above and below
        inner = round(pw * height / width)
        box = (0, (ph - inner) // 2, pw, (ph - inner) // 2 + inner)
    else:
        inner = round(ph * width / height)
        box = (((pw - inner) // 2), 0, (pw - inner) // 2 + inner, ph)
    if min(box[2] - box[0], box[3] - box[1]) < MIN_SIDE or not _bars_uniform(preview, box):
        return None
    return preview.crop(box)


def _aspect_agrees(pw: int, ph: int, width: int, height: int) -> bool:
    """Within ``ASPECT_SLACK`` px of the preview: thumbnails are rounded to whole pixels, HEVC ones to even
    sizes (a 3:2 photo's 320 px thumbnail item is 320 x 212, not 320 x 213.3)."""
    return abs(pw * height / width - ph) <= ASPECT_SLACK and abs(ph * width / height - pw) <= ASPECT_SLACK


def _bars_uniform(preview: Image.Image, box: tuple[int, int, int, int]) -> bool:
    """Whether the bands outside ``box`` are flat: a tone with the ringing a JPEG encoder leaves next to an edge
    (up to ~50 levels within a block of the picture), not picture."""
    grey = np.asarray(preview.convert("L"), dtype=np.float32)
    left, top, right, bottom = box
    bands = [grey[:top], grey[bottom:], grey[:, :left], grey[:, right:]]
    bands = [b for b in bands if b.size]
    if not bands:
        return False
    for band in bands:
        spread = np.abs(band - np.median(band))
        if float(np.percentile(spread, 90)) > BAR_SPREAD or float(spread.mean()) > BAR_SPREAD / 2:
            return False
    return True


def heif_thumbnail(heif_image: Any, width: int, height: int) -> Preview | None:
    """The largest thumbnail item of a pillow-heif ``HeifImage`` (its primary image, ``width`` x ``height`` as
    displayed) that agrees with it; else None."""
    sizes = heif_image.info.get("thumbnails") or []
    for index in sorted(range(len(sizes)), key=lambda k: -int(sizes[k] or 0)):
        try:
            thumb = heif_image.get_thumbnail(index).to_pillow()
        except Exception:  # noqa: BLE001, S112 - a broken thumbnail item is no preview; the main image decides
            continue
        if thumb.mode not in ("L", "RGB"):
            thumb = thumb.convert("RGB")
        fitted = fit_to(thumb, width, height)
        if fitted is not None:
            return Preview(fitted, f"preview-heif-{fitted.width}x{fitted.height}")
    return None
