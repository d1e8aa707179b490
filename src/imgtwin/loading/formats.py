"""Which recognised formats are decoded, which are reported, and why.

Every format Pillow can open is recognised by ``signatures`` and listed here,
so that no file Pillow could read is passed over silently. A format is
decoded when it holds photos, scans, screenshots or artwork people keep and
its decoder has a good record; the others are reported as
``unsupported_format`` (counted, stored in the index, listed by ``errors``),
so their fuzzer-prone or exotic decoders are never reached. Formats Pillow only
*identifies* (stub plugins with no pixel decoder) are not pictures and are
treated like any other non-image file. docs/formats-and-limits.md has the
table with the reasons in full.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from imgtwin.loading.errors import LoadError
from imgtwin.records import ErrorReason


class Decision(enum.Enum):
    DECODE = "decode"
    UNSUPPORTED = "unsupported"  # a picture we do not decode: unsupported_format
    NOT_A_PICTURE = "not a picture"  # Pillow identifies it but has no decoder: like a text file


@dataclass(frozen=True, slots=True)
class FormatPolicy:
    decision: Decision
    what: str  # the format, for messages
    why: str = ""  # for UNSUPPORTED and NOT_A_PICTURE: the reason, for messages


def _decode(what: str) -> FormatPolicy:
    return FormatPolicy(Decision.DECODE, what)


def _unsupported(what: str, why: str) -> FormatPolicy:
    return FormatPolicy(Decision.UNSUPPORTED, what, why)


def _not_a_picture(what: str, why: str) -> FormatPolicy:
    return FormatPolicy(Decision.NOT_A_PICTURE, what, why)


# Keyed by the names ``signatures.sniff``/``identify`` return (Pillow's format
# names where Pillow has one). Pillow's CUR opens through the ICO entry and
# MPO through JPEG.
FORMATS: Mapping[str, FormatPolicy] = {
    "JPEG": _decode("JPEG"),
    "MPO": _decode("MPO"),
    "PNG": _decode("PNG"),
    "GIF": _decode("GIF"),
    "WEBP": _decode("WebP"),
    "BMP": _decode("BMP"),
    "DIB": _decode("DIB (BMP without file header)"),
    "TIFF": _decode("TIFF"),
    "AVIF": _decode("AVIF"),
    "HEIF": _decode("HEIF/HEIC"),
    "RAW": _decode("camera RAW"),
    "PSD": _decode("Photoshop PSD"),
    "ICO": _decode("ICO/CUR"),
    "JPEG2000": _decode("JPEG 2000"),
    "PPM": _decode("Netpbm PBM/PGM/PPM/PFM"),
    "TGA": _decode("Truevision TGA"),
    "PCD": _decode("Kodak Photo CD"),
    # Recognised pictures that are not decoded.
    "DDS": _unsupported("DDS", "GPU texture format; fuzzer-prone decoder"),
    "BLP": _unsupported("BLP", "game texture format; fuzzer-prone decoder"),
    "SGI": _unsupported("SGI", "rare; its RLE decoder has had several buffer overflows"),
    "PCX": _unsupported("PCX", "obsolete; its decoder has had buffer overflows"),
    "DCX": _unsupported("DCX", "multi-page PCX fax format; PCX decoder"),
    "FLI": _unsupported("FLI/FLC", "animation format; its decoder has had buffer overflows"),
    "MCIDAS": _unsupported("McIdas", "satellite data format"),
    "EPS": _unsupported("EPS/PostScript", "decoding would run Ghostscript"),
    "ICNS": _unsupported("ICNS", "macOS icon container; fuzzer-prone decoder"),
    "QOI": _unsupported("QOI", "rare; pure-Python decoder"),
    "JXL": _unsupported("JPEG XL", "Pillow has no JPEG XL decoder"),
    "FITS": _unsupported("FITS", "astronomy data: linear sensor values that need a stretch to look like the picture"),
    "SUN": _unsupported("Sun raster", "obsolete workstation format"),
    "XBM": _unsupported("XBM", "X11 icon bitmap written as C source"),
    "XPM": _unsupported("XPM", "X11 icon pixmap written as C source"),
    "IM": _unsupported("LabEye IM", "obsolete; deprecated in Pillow"),
    "MSP": _unsupported("MSP", "Microsoft Paint 1.x/2.x format (1980s)"),
    "PIXAR": _unsupported("PIXAR", "Pixar Image Computer format (1980s)"),
    "SPIDER": _unsupported("SPIDER", "electron-microscopy float data"),
    "GBR": _unsupported("GIMP brush", "a painting tool's brush, not a picture"),
    "IMT": _unsupported("IM Tools", "obsolete raw format"),
    "XVTHUMB": _unsupported("XV thumbnail", "a thumbnail of another picture (xv's .xvpics)"),
    "FTEX": _unsupported("FTEX", "game texture format"),
    "IPTC": _unsupported("IPTC/NAA", "news-wire container; its decoder unpacks the payload to a temporary file"),
    "WMF": _unsupported("WMF/EMF", "vector drawing; Pillow renders it only on Windows"),
    "PAM": _unsupported("PAM", "Pillow has no PAM decoder"),
    "PFM": _unsupported("colour PFM", "Pillow decodes only grayscale PFM"),
    # Identified by Pillow, but not pictures: Pillow has no decoder for them.
    "BUFR": _not_a_picture("BUFR", "weather data; Pillow only identifies it"),
    "GRIB": _not_a_picture("GRIB", "weather data; Pillow only identifies it"),
    "HDF5": _not_a_picture("HDF5", "scientific data container; Pillow only identifies it"),
    "MPEG": _not_a_picture("MPEG", "video stream; Pillow reads only its frame size"),
}

SUPPORTED_FORMATS: frozenset[str] = frozenset(
    name for name, policy in FORMATS.items() if policy.decision is Decision.DECODE
)


#: Formats whose decoder can scale while it decodes (libjpeg's DCT scaling, Pillow's ``draft``): a
#: 12-MP JPEG costs 30-60 ms at 1/8, where a HEIC costs ~560 ms, a full decode with no such shortcut.
SCALED_DECODE = frozenset({"JPEG", "MPO"})


def decode_cost_key(fmt: str | None, size: int) -> tuple[bool, int]:
    """Sorts the files of a pass dearest first (full decodes, then by size), so that no lone 0.5-s HEIC
    is left for the end of a pass while the other cores wait (longest job first)."""
    return (fmt in SCALED_DECODE, -size)


def refusal(fmt: str) -> LoadError:
    """The error for a recognised file whose format ``fmt`` is not decoded."""
    policy = FORMATS.get(fmt)
    if policy is None or policy.decision is Decision.DECODE:
        return LoadError(ErrorReason.UNSUPPORTED_FORMAT, f"{policy.what if policy else fmt} images are not decoded here")
    if policy.decision is Decision.NOT_A_PICTURE:
        return LoadError(ErrorReason.NOT_AN_IMAGE, f"content is {policy.what} ({policy.why}), not a picture")
    return LoadError(ErrorReason.UNSUPPORTED_FORMAT, f"{policy.what} images are not supported ({policy.why})")
