"""What a file says about its own quality and history, read from the opened image for free.

The keeper (``matching.keeper``) must tell an original from the copies made of
it; much of the evidence sits in the file's headers, which the loader has
parsed anyway: the colour mode and palette (a GIF or PNG-8 copy holds at most
256 colours), the bit depth, the JPEG quantisation tables (quality) and chroma
subsampling, and the EXIF block (a camera's make and model and the time the
picture was taken survive in originals and are often lost in re-saves; an
editor names itself in ``Software``). Nothing here decodes pixels.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

# IJG's example luminance quantisation table (ITU T.81, Annex K), row-major: the
# table every libjpeg-based encoder scales by its quality setting.
_IJG_LUMA = (
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
)  # fmt: skip


def _scaled_tables() -> np.ndarray:
    """(100, 64): the IJG luminance table as libjpeg scales it for qualities 1..100."""
    quality = np.arange(1, 101, dtype=np.float64)[:, None]
    scale = np.where(quality < 50, 5000 / quality, 200 - 2 * quality)
    result: np.ndarray = np.clip((np.array(_IJG_LUMA)[None, :] * scale + 50) // 100, 1, 255)
    return result


_TABLES = _scaled_tables()

# EXIF tags (TIFF/EXIF numbering).
_MAKE, _MODEL, _SOFTWARE, _EXIF_IFD, _DATE_TAKEN, _GPS_IFD = 0x010F, 0x0110, 0x0131, 0x8769, 0x9003, 0x8825
_LATITUDE = 2  # GPSLatitude in the GPS IFD: a position, not only a GPS version tag

_SUBSAMPLING = {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}

# Pillow modes by how much colour they can hold (the keeper's colour-depth scale).
BILEVEL, GREY, PALETTE, COLOUR = 1, 2, 3, 4
_MODE_DEPTH = {"1": BILEVEL, "L": GREY, "LA": GREY, "La": GREY, "I": GREY, "I;16": GREY, "I;16B": GREY,
               "I;16L": GREY, "I;16N": GREY, "F": GREY, "P": PALETTE, "PA": PALETTE}


@dataclass(frozen=True, slots=True)
class SourceFacts:
    """Header facts of one file (``None``: the format does not say)."""

    mode: str  # Pillow's mode of the stored pixels, e.g. RGB, L, P, 1, I;16, CMYK
    colour_depth: int  # BILEVEL, GREY, PALETTE or COLOUR, from the mode (and palette size)
    bits: int = 8  # bits per sample: 16 for 16-bit TIFF/PNG
    palette_size: int | None = None  # entries in the palette of a P image
    jpeg_quality: float | None = None  # estimated IJG quality (1-100) from the luminance table
    subsampling: str | None = None  # JPEG chroma subsampling, e.g. "4:2:0"
    camera: bool = False  # EXIF make or model present
    taken: bool = False  # EXIF date taken (DateTimeOriginal) present
    software: str | None = None  # EXIF Software: the program that last wrote the file
    gps: bool = False  # EXIF GPS position (latitude) present


def jpeg_quality(table: list[int] | tuple[int, ...]) -> float | None:
    """The IJG quality (1-100) whose scaled standard table is closest to ``table``.

    Encoders that use their own tables (some cameras, Photoshop) still get the
    closest IJG quality: a rank, not an exact setting.
    """
    return _closest_quality(tuple(table)) if len(table) == 64 else None


@functools.lru_cache(maxsize=256)
def _closest_quality(table: tuple[int, ...]) -> float:
    """Cached: a collection's files share a handful of tables, and the comparison costs more than a tiny decode."""
    errors = np.abs(_TABLES - np.asarray(table, dtype=np.float64)[None, :]).sum(axis=1)
    return float(np.argmin(errors) + 1)


def _exif_facts(image: Image.Image) -> tuple[bool, bool, str | None, bool]:
    try:
        exif = image.getexif()
        camera = bool(str(exif.get(_MAKE, "")).strip() or str(exif.get(_MODEL, "")).strip())
        taken = bool(str(exif.get_ifd(_EXIF_IFD).get(_DATE_TAKEN, "")).strip())
        software = str(exif.get(_SOFTWARE, "")).strip().replace("\x00", "") or None
        gps = exif.get_ifd(_GPS_IFD).get(_LATITUDE) is not None
    except Exception:  # noqa: BLE001 - a corrupt EXIF block says nothing; it never costs the image
        return False, False, None, False
    return camera, taken, software[:64] if software else None, gps


def colour_depth_of(mode: str) -> int:
    """BILEVEL, GREY, PALETTE or COLOUR for a Pillow mode (a palette's size may lower PALETTE: ``read_facts``)."""
    return _MODE_DEPTH.get(mode, COLOUR)


def read_facts(image: Image.Image) -> SourceFacts:
    """The header facts of an opened image, before any draft changes its mode; no EXIF yet (see ``with_exif``).

    EXIF is read apart because Pillow's PNG plugin loads the pixels to find it:
    before ``load()``, a decode error there would be taken for a corrupt EXIF.
    """
    mode = image.mode
    depth = colour_depth_of(mode)
    palette_size = None
    if mode in ("P", "PA"):
        palette = image.getpalette() or []
        palette_size = len(palette) // 3 or None
        if palette_size is not None and palette_size <= 2:
            depth = BILEVEL
    bits = 16 if mode.startswith("I;16") or mode in ("I", "F") else 8
    quality = subsampling = None
    tables = getattr(image, "quantization", None)
    if isinstance(tables, dict) and tables:
        quality = jpeg_quality(list(tables[0] if 0 in tables else tables[min(tables)]))
        from PIL import JpegImagePlugin

        subsampling = _SUBSAMPLING.get(JpegImagePlugin.get_sampling(image))
    return SourceFacts(mode, depth, bits, palette_size, quality, subsampling)


def with_exif(facts: SourceFacts, image: Image.Image) -> SourceFacts:
    """``facts`` with what the EXIF block of the loaded ``image`` says."""
    found = _exif_facts(image)
    if found == (facts.camera, facts.taken, facts.software, facts.gps):
        return facts  # no EXIF (a web tile, a screenshot): a ``replace`` costs more than reading none
    camera, taken, software, gps = found
    return replace(facts, camera=camera, taken=taken, software=software, gps=gps)
