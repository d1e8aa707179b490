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
from PIL import Image

from imgtwin.loading.pillow_loader import UPRIGHT, orientation_of
from imgtwin.loading.strips import KEPT_SHARE, StripStore
from imgtwin.loading.webp import loaded_pixels
from imgtwin.records import FileError

#: Names this check's definition (verdicts of another are never reused).
UPSCALE_SPEC = "upscale-check-v2-top40-windows4x224-tones-best-of-3-filters-margin1.5"
#: The share of the picture's height decoded and compared (from the top: a baseline JPEG stops there).
STRIP = 0.4
#: At or below this, the larger picture holds no detail the smaller lacks. 1 is the balance point; a
#: copy's own re-encoding noise weighs more on e_up (reducing averages it out), so upscales measure up
#: to 0.98 on the shared corpus and 0.92 on real photos, downscales 1.35 and up (1.6 on real photos).
MAX_RATIO = 1.15
#: Below this mean squared difference (grey levels), both ways, the windows are too flat to tell.
MIN_ENERGY = 0.5
#: Compared windows: this many, this large (in the small picture's pixels), spread across the strip.
WINDOWS, WINDOW = 4, 224
#: From this ratio on with one filter, the larger file clearly holds more (no upscale reaches 1.2 with one).
SETTLED_RATIO = 2.0
#: A reduced decode of the large file must stay this many times wider than the small one.
MARGIN = 1.5
_FILTERS = (Image.Resampling.LANCZOS, Image.Resampling.BICUBIC, Image.Resampling.BILINEAR)
_EDGE = 3  # pixels left out at each window's border, where resampling filters differ most


@dataclass(frozen=True, slots=True)
class UpscaleCheck:
    """One question per smaller file: is ``large`` no more detailed than it? (paths, and content hashes)."""

    large: str
    large_hash: str
    smaller: tuple[tuple[str, str], ...]  # (path, content hash) of each smaller file to compare with, largest first
    widths: tuple[int, ...] = ()  # as shown, of ``large`` then of each smaller file, where the index knows them


@dataclass(frozen=True, slots=True)
class UpscaleVerdict:
    """``ratio``: e_up / e_down, or None when it could not be told (flat windows, an unreadable file)."""

    large_hash: str
    small_hash: str
    ratio: float | None

    @property
    def upscaled(self) -> bool:
        return self.ratio is not None and self.ratio <= MAX_RATIO


@dataclass(frozen=True)
class UpscaleTask:
    """``Task`` of the worker pool: the large file decoded once, compared with each smaller one (picklable).

    The smaller files come largest first, and the first the large file is found an upscale of settles it
    (an upscale counts as the largest file it could be made from): those after it are not compared.
    ``strips``: rows this find's candidates' decode kept (``loading.strips``), read instead of decoded.
    """

    strips: StripStore | None = None

    def run(self, item: UpscaleCheck) -> list[UpscaleVerdict]:
        try:
            large, large_height = top_rows(item.large, STRIP, _reduction(item), self.strips)
        except Exception:  # noqa: BLE001 - an unreadable file says nothing about resolution
            return self.failed(item, None)
        verdicts: list[UpscaleVerdict] = []
        for path, digest in item.smaller:
            if verdicts and verdicts[-1].upscaled:
                break
            try:
                ratio = compare(large, large_height, *top_rows(path, STRIP, strips=self.strips))
            except Exception:  # noqa: BLE001 - likewise for a smaller file
                ratio = None
            verdicts.append(UpscaleVerdict(item.large_hash, digest, ratio))
        return verdicts

    def failed(self, item: UpscaleCheck, error: FileError | None) -> list[UpscaleVerdict]:
        return [UpscaleVerdict(item.large_hash, digest, None) for _, digest in item.smaller]


def _reduction(item: UpscaleCheck) -> int:
    """How far the large file may be reduced while decoding (1, 2, 4 or 8) and still show more than the others.

    Detail beyond a small file's resolution only shows at a scale clearly above it: the large file
    is decoded at the smallest JPEG scale that keeps it ``MARGIN`` times wider than the widest of
    them (a 4000 px photo against its 1000 px copy needs no full decode). The widths are the
    index's where it has them all (as shown, like these), else each file's header is read.
    """
    if len(item.widths) == 1 + len(item.smaller):
        return _factor(item.widths[0], max((1, *item.widths[1:])))
    with Image.open(item.large) as image:
        width = image.size[0] if orientation_of(image) < 5 else image.size[1]
    widest = 1
    for path, _ in item.smaller:
        with Image.open(path) as image:
            widest = max(widest, image.size[0] if orientation_of(image) < 5 else image.size[1])
    return _factor(width, widest)


def _factor(width: int, widest: int) -> int:
    for factor in (8, 4, 2):
        if width / factor >= MARGIN * widest:
            return factor
    return 1


def upscale_ratio(large_path: str, small_path: str, strip: float = STRIP) -> float | None:
    """``e_up / e_down`` of two files showing the same content (see the module doc)."""
    return compare(*top_rows(large_path, strip), *top_rows(small_path, strip))


def compare(large: Image.Image, large_height: int, small: Image.Image, small_height: int) -> float | None:
    """``e_up / e_down`` of two top strips (each with its picture's full height), over a few windows."""
    share = min(large.size[1] / large_height, small.size[1] / small_height)  # what both strips cover
    rows = int(share * small_height) - 1
    scale = (large.size[0] / small.size[0], large_height / small_height)  # large pixels per small pixel
    if small.size[0] < 48 or rows < 24 or min(scale) <= 1.0:
        return None
    size = min(WINDOW, small.size[0] // 2, rows - 2)
    boxes = []
    for k in range(WINDOWS):
        # Windows spread over the strip's width, and down it: one sky or one wall does not decide.
        x = round((small.size[0] - size) * (k + 0.5) / WINDOWS)
        y = round((rows - size) * (0.25 + 0.5 * k / max(1, WINDOWS - 1)))
        boxes.append((x, y, x + size, y + size))
    # One filter first: every other filter could only lower e_up, so a clear surplus of detail is settled.
    # The others are added to the first one's errors (the same numbers: computed once).
    windows = [_window_errors(large, small, scale, box, _FILTERS[:1]) for box in boxes]
    ratio = _ratio(windows)
    if ratio is not None and ratio >= SETTLED_RATIO:
        return ratio
    return _ratio([first + _window_errors(large, small, scale, box, _FILTERS[1:], first.tones)
                   for box, first in zip(boxes, windows)])


@dataclass(frozen=True, slots=True)
class _Errors:
    """One window's squared errors both ways, per filter tried; ``tones``: the small picture's tone map."""

    downs: tuple[float, ...]
    ups: tuple[float, ...]
    tones: np.ndarray

    def __add__(self, other: _Errors) -> _Errors:
        return _Errors(self.downs + other.downs, self.ups + other.ups, self.tones)

    @property
    def e_down(self) -> float:
        return min(self.downs)  # each way gets the best filter: whichever made the copy explains it

    @property
    def e_up(self) -> float:
        return min(self.ups)


def _ratio(errors: list[_Errors]) -> float | None:
    e_down, e_up = sum(e.e_down for e in errors), sum(e.e_up for e in errors)
    if max(e_up, e_down) < MIN_ENERGY * len(errors):
        return None
    return e_up / max(e_down, 1e-6)


def _window_errors(large: Image.Image, small: Image.Image, scale: tuple[float, float],
                   box: tuple[int, int, int, int], filters: tuple[Image.Resampling, ...],
                   table: np.ndarray | None = None) -> _Errors:  # fmt: skip
    """Both ways' errors on one window, per filter: ``box`` in the small picture, the same region of the large one.

    ``table``: the small picture's tone map on this window, when already made (from the first filter's reduction).
    """
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    sx, sy = scale
    region = (x0 * sx, y0 * sy, min(x1 * sx, large.size[0]), min(y1 * sy, large.size[1]))  # in large pixels
    wide = (round(region[0]), round(region[1]), int(region[2]), int(region[3]))
    target = np.asarray(large.crop(wide), dtype=np.float32)
    s = np.asarray(small.crop(box), dtype=np.float32)
    # Around the window, a margin of the small picture, for the filters' reach when enlarging.
    margin = (max(0, x0 - 4), max(0, y0 - 4), min(small.size[0], x1 + 4), min(small.size[1], y1 + 4))
    around = np.asarray(small.crop(margin), dtype=np.float32)
    back = (wide[0] / sx - margin[0], wide[1] / sy - margin[1], min(wide[2] / sx, margin[2]) - margin[0],
            min(wide[3] / sy, margin[3]) - margin[1])
    inner = (slice(_EDGE, -_EDGE), slice(_EDGE, -_EDGE))
    downs = [np.asarray(large.resize((w, h), method, box=region), dtype=np.float32) for method in filters]
    # The small file may be a brightness, contrast or gamma edit too: its tones are mapped onto the large
    # one's (reduced with the first filter) first, so that only detail is compared.
    table = _tone_map(s, downs[0]) if table is None else table
    toned, toned_around = table[_levels(s)], Image.fromarray(table[_levels(around)], mode="F")
    e_downs = tuple(float(np.mean((down[inner] - toned[inner]) ** 2)) for down in downs)
    e_ups = tuple(
        float(np.mean((np.asarray(toned_around.resize(target.shape[::-1], method, box=back), dtype=np.float32)[inner]
                       - target[inner]) ** 2))
        for method in filters
    )
    return _Errors(e_downs, e_ups, table)


def _tone_map(source: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The monotonic map taking ``source``'s grey levels to ``reference``'s distribution (quantile matching):
    a table of 256 values, indexed by ``_levels``."""
    picks = np.linspace(0, source.size - 1, 65).astype(np.int64)
    inputs = np.sort(source, axis=None)[picks]
    outputs = np.sort(reference, axis=None)[np.linspace(0, reference.size - 1, 65).astype(np.int64)]
    inputs = np.maximum.accumulate(inputs + np.arange(len(inputs)) * 1e-6)  # strictly increasing for interp
    table: np.ndarray = np.interp(np.arange(256, dtype=np.float32), inputs, outputs).astype(np.float32)
    return table  # grey levels 0-255


def _levels(values: np.ndarray) -> np.ndarray:
    levels: np.ndarray = np.clip(values, 0, 255).astype(np.uint8)
    return levels


def top_rows(path: str, share: float, reduce: int = 1, strips: StripStore | None = None) -> tuple[Image.Image, int]:
    """The top ``share`` (or a little more) of a picture as displayed, grey, at 1/``reduce`` of its resolution;
    and the whole picture's height at that scale.

    A baseline JPEG shown upright has only those rows decoded (its frame header is
    told the picture ends there, so libjpeg stops) and is reduced by libjpeg's DCT
    scaling; rows this ``find`` has kept (``strips``: a HEIC's, from the candidates'
    decode) are read back; anything else is decoded whole.
    """
    kept = strips.top(path) if strips is not None and share <= KEPT_SHARE else None
    if kept is not None:
        return _strip(*kept, share, reduce)
    with open(path, "rb") as stream:
        data = stream.read()
    if data[:2] == b"\xff\xd8":  # only a JPEG is probed: a PNG's EXIF read before its pixels decodes them all
        with Image.open(io.BytesIO(data)) as probe:
            orientation, height = orientation_of(probe), probe.size[1]
        if orientation == 1:
            rows = _jpeg_rows(data, max(16 * reduce, round(height * share)), reduce)
            if rows is not None:
                return rows, -(-height // reduce)
    with Image.open(io.BytesIO(data)) as image:
        pixels = loaded_pixels(image, data)  # before the EXIF: a PNG's may follow its pixels
        turn = UPRIGHT.get(orientation_of(image))
        grey = pixels.convert("L")  # grey first: a third of the pixels to turn, and no copy where none is needed
    if turn is not None:
        grey = grey.transpose(turn)
    return _strip(grey, grey.size[1], share, reduce)


def _strip(grey: Image.Image, height: int, share: float, reduce: int) -> tuple[Image.Image, int]:
    """The top ``share`` of an upright grey picture ``height`` rows high (``grey``: all of it, or its top rows),
    reduced by ``reduce``; and its height at that scale. Box reduction works from the top, so its top rows
    are the same whether the rows below were there or not."""
    if reduce > 1:
        grey = grey.reduce(reduce)
        height = -(-height // reduce)
    return grey.crop((0, 0, grey.size[0], max(16, round(height * share)))), height


def _jpeg_rows(data: bytes, rows: int, reduce: int = 1) -> Image.Image | None:
    """The first ``rows`` rows (whole MCU rows) of a baseline JPEG, grey, at 1/``reduce``; None for another kind.

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
            target = (max(1, image.size[0] // reduce), max(1, image.size[1] // reduce))
            image.draft("L" if image.mode == "RGB" else image.mode, target)  # luma only, DCT-scaled
            image.load()
            return image.convert("L")
        if 0xC2 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC) or marker == 0xDA:
            return None  # progressive, lossless, arithmetic coded, or no frame header first
        at += 2 + length
    return None
