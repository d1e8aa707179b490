"""Effective resolution: an upscale never counts for more than the picture it was made from.

An upscaled copy has more pixels than its source and no more detail, so pixel
counts alone keep the upscale. The scan cannot tell (it decodes JPEGs at 1/8
scale, where both look alike), so the question is asked only where it decides a
keeper: the file with the most pixels of a group against a smaller match that
shows the same content (no crop, border or turn between them). Both are decoded
at full resolution, grey, on a strip of their top rows (for a baseline JPEG only
those rows are decoded), and compared both ways at the two sizes:

* ``e_down``: the large picture reduced to the small one's size, against the small one;
* ``e_up``: the small picture enlarged to the large one's size, against the large one.

The small picture's grey levels are first mapped onto the large one's (it may be
a brightness or gamma edit as well). If the large picture was made from the small
one, enlarging the small one gives it back as well as reducing it gives the small
one back: ``e_up / e_down`` is at most about 1 (0.53-0.99 measured on the shared
corpus's 88 upscales). If the small one was made from the large one, enlarging it
cannot bring back the detail it lost: the ratio is above 1 (1.00-24 for its 428
downscales, thumbnails and resized copies). The boundary is where neither
direction explains the other better, 1.0, less 1 % that says nothing either way;
a strip too flat to tell says nothing.

Checks are jobs of the scan's worker pool (time limit, crash isolation) and their
verdicts are kept in the index, by the two files' content hashes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from imgtwin.records import FileError

#: Names this check's definition (verdicts of another are never reused).
UPSCALE_SPEC = "upscale-check-v1-top20-lanczos-bicubic"
#: The share of the picture's height compared (from the top).
STRIP = 0.20
#: At or below this, the larger picture holds no detail the smaller lacks (1 is the balance point:
#: a ratio within 1 % of it says nothing either way).
MAX_RATIO = 0.99
#: Below this mean squared difference (grey levels), both ways, the strip is too flat to tell.
MIN_ENERGY = 0.5
_EDGE = 4  # pixels left out at the strip's borders, where resampling filters differ most


@dataclass(frozen=True, slots=True)
class UpscaleCheck:
    """One question: is ``large`` no more detailed than ``small``? (paths, and their content hashes)."""

    large: str
    small: str
    large_hash: str
    small_hash: str


@dataclass(frozen=True, slots=True)
class UpscaleVerdict:
    """``ratio``: e_up / e_down, or None when it could not be told (a flat strip, an unreadable file)."""

    large_hash: str
    small_hash: str
    ratio: float | None

    @property
    def upscaled(self) -> bool:
        return self.ratio is not None and self.ratio <= MAX_RATIO


class UpscaleTask:
    """``Task`` of the worker pool: one check per item (picklable, stateless)."""

    def run(self, item: UpscaleCheck) -> UpscaleVerdict:
        try:
            ratio = upscale_ratio(item.large, item.small)
        except Exception:  # an unreadable file says nothing about resolution
            ratio = None
        return UpscaleVerdict(item.large_hash, item.small_hash, ratio)

    def failed(self, item: UpscaleCheck, error: FileError) -> UpscaleVerdict:
        return UpscaleVerdict(item.large_hash, item.small_hash, None)


def upscale_ratio(large_path: str, small_path: str, strip: float = STRIP) -> float | None:
    """``e_up / e_down`` of two files showing the same content (see the module doc)."""
    large, large_height = top_rows(large_path, strip)
    small, small_height = top_rows(small_path, strip)
    share = min(large.size[1] / large_height, small.size[1] / small_height)  # what both strips cover
    large = large.crop((0, 0, large.size[0], max(1, round(share * large_height))))
    small = small.crop((0, 0, small.size[0], max(1, round(share * small_height))))
    if small.size[0] < 32 or small.size[1] < 16 or large.size[0] <= small.size[0]:
        return None
    a = np.asarray(large, dtype=np.float32)
    down = np.asarray(large.resize(small.size, Image.Resampling.LANCZOS), dtype=np.float32)
    # The small file may be a brightness, contrast or gamma edit too: its tones are mapped onto the
    # large one's first, so that only detail is compared.
    s = _match_tones(np.asarray(small, dtype=np.float32), down)
    up = np.asarray(Image.fromarray(s, mode="F").resize(large.size, Image.Resampling.BICUBIC), dtype=np.float32)
    e_down = float(np.mean((down[_EDGE:-_EDGE, _EDGE:-_EDGE] - s[_EDGE:-_EDGE, _EDGE:-_EDGE]) ** 2))
    e_up = float(np.mean((up[_EDGE:-_EDGE, _EDGE:-_EDGE] - a[_EDGE:-_EDGE, _EDGE:-_EDGE]) ** 2))
    if max(e_up, e_down) < MIN_ENERGY:
        return None
    return e_up / max(e_down, 1e-6)


def _match_tones(source: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``source`` remapped so that its grey levels have ``reference``'s distribution (a monotonic map)."""
    order = np.argsort(source, axis=None, kind="stable")
    matched = np.empty(source.size, dtype=np.float32)
    matched[order] = np.sort(reference, axis=None)
    return matched.reshape(source.shape)


def _orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(0x0112, 1)
    except Exception:
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def top_rows(path: str, share: float) -> tuple[Image.Image, int]:
    """The top ``share`` (or a little more) of a picture as displayed, grey, full resolution; and its full height.

    A baseline JPEG shown upright has only those rows decoded (its frame header is
    told the picture ends there, so libjpeg stops); anything else is decoded whole.
    """
    with open(path, "rb") as stream:
        data = stream.read()
    with Image.open(io.BytesIO(data)) as probe:
        orientation = _orientation(probe)
        height = probe.size[1]
    if orientation == 1 and data[:2] == b"\xff\xd8":
        rows = _jpeg_rows(data, max(16, round(height * share)))
        if rows is not None:
            return rows, height
    with Image.open(io.BytesIO(data)) as image:
        grey = ImageOps.exif_transpose(image).convert("L")
    return grey.crop((0, 0, grey.size[0], max(16, round(grey.size[1] * share)))), grey.size[1]


def _jpeg_rows(data: bytes, rows: int) -> Image.Image | None:
    """The first ``rows`` rows (whole MCU rows) of a baseline JPEG, grey; None for any other kind.

    Written by hand because no decoder Pillow exposes stops early: the frame
    header's height is lowered to those rows, in a copy of the bytes.
    """
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:
            at += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            at += 2
            continue
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        if marker in (0xC0, 0xC1):  # baseline or extended sequential, Huffman coded
            height, components = int.from_bytes(data[at + 5 : at + 7], "big"), data[at + 9]
            vertical = max(data[at + 11 + 3 * k] & 0x0F for k in range(components))
            mcu = 8 * max(1, vertical)
            keep = min(height, -(-rows // mcu) * mcu)
            patched = data[: at + 5] + keep.to_bytes(2, "big") + data[at + 7 :]
            image = Image.open(io.BytesIO(patched))
            if image.mode == "RGB":
                image.draft("L", image.size)  # luma only: no colour conversion
            image.load()
            return image.convert("L")
        if 0xC2 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC) or marker == 0xDA:
            return None  # progressive, lossless, arithmetic coded, or no frame header first
        at += 2 + length
    return None
