"""Recognising image files by content, and by name.

Discovery must not trust extensions alone: a photo saved as ``IMG_1.dat`` is
still a photo, and a ``holiday.jpg`` that is really an HTML error page must be
reported. ``sniff`` knows the signature of every format Pillow can open (and a
few it cannot), so that nothing Pillow could read is passed over silently;
``formats`` says which of them are decoded. The checks only look at the head
of the file: recognising a format must never run its decoder, so fuzzer-prone
decoders (BLP, DDS, FLI, SGI, PCX, McIdas, ...) and Ghostscript (EPS) are
never reached for formats we do not decode.

Several formats have no magic number (TGA, DIB, SPIDER, IMT): their headers
are checked field by field against what the format allows. TGA's header is too
short to tell it from other binary data, so a file whose head passes the TGA
check is a TGA only if it also ends with the TGA 2.0 footer or is named like
one (``identify``); GIMP brushes of version 1 likewise need their name.

Camera RAW files are mostly TIFF inside (DNG, NEF, ARW, PEF, ...), so only
their name tells them from a TIFF: ``raw_format`` combines both.
"""

from __future__ import annotations

import io
import os
import re
from typing import BinaryIO

from imgtwin.loading.headers import (
    dib_header,
    fits_header,
    fli_header,
    gbr_header,
    ico_header,
    im_header,
    imt_header,
    iptc_header,
    pcx_header,
    spider_header,
    tga_header,
    xbm_header,
)

# How many bytes of a file's head ``sniff`` needs: Photo CD's signature sits at
# offset 2048, and text headers (XBM, IM) may follow a long comment. One read
# of a few KB costs the same as one of 64 bytes.
HEADER_BYTES = 4096

# Camera RAW extensions; their content is TIFF-like or one of _RAW_MAGIC.
RAW_EXTENSIONS: frozenset[str] = frozenset(
    {
        "dng", "cr2", "cr3", "crw", "nef", "nrw", "arw", "srf", "sr2", "orf", "raf", "rw2", "pef", "srw", "x3f",
        "erf", "kdc", "mrw", "3fr", "mos", "iiq", "rwl"
    }
)

# RAW formats with a magic number of their own (not plain TIFF).
_RAW_MAGIC = (
    b"FUJIFILMCCD-RAW",  # RAF
    b"IIRO", b"IIRS", b"MMOR",  # Olympus ORF
    b"IIU\x00",  # Panasonic RW2
    b"II\x1a\x00\x00\x00HEAPCCDR",  # Canon CRW
    b"FOVb",  # Sigma X3F
    b"\x00MRM",  # Minolta MRW
)

# TGA's own extensions (Pillow's list): where the header cannot tell, the name does.
TGA_EXTENSIONS: frozenset[str] = frozenset({"tga", "icb", "vda", "vst"})

# Names that promise an image. A file with one of these extensions that cannot
# be read is an error; any other file that is not an image by content is skipped.
# Every extension Pillow registers for a picture format is here (tests check it).
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {
        "jpg", "jpeg", "jpe", "jfif", "jif", "pjpeg", "pjp", "mpo", "png", "apng", "gif", "webp", "bmp", "dib",
        "tif", "tiff", "avif", "avifs", "heic", "heics", "heif", "heifs", "hif", "jp2", "j2k", "jpc", "j2c", "jpf",
        "jpx", "jpm", "psd", "psb", "ico", "cur", "ppm", "pgm", "pbm", "pnm", "pam", "pfm", "qoi", "tga", "icb",
        "vda", "vst", "pcd", "dds", "blp", "sgi", "rgb", "rgba", "bw", "pcx", "dcx", "fli", "flc", "eps", "epsf",
        "ps", "icns", "jxl", "fit", "fits", "ras", "xbm", "xpm", "im", "msp", "pxr", "gbr", "ftc", "ftu", "iim",
        "wmf", "emf"
    }
) | RAW_EXTENSIONS


# Netpbm as Pillow reads it: P1-P6, grayscale PFM (Pf) and Pillow's own P0/Py modes.
_NETPBM = re.compile(rb"(P[1-6]|Pf|P0CMYK|PyP|PyRGBA|PyCMYK)[ \t\r\n]+(#|[0-9])")
_COLOUR_PFM = re.compile(rb"PF[ \t\r\n]+(#|[0-9])")
_PAM = re.compile(rb"P7[ \t\r\n]")

_HEVC_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx")


def _iso_bmff(head: bytes) -> str | None:
    """HEIF/AVIF/CR3: an ISO-BMFF ``ftyp`` box with an image brand.

    Many AVIF files carry the generic ``mif1`` as major brand and ``avif``
    among the compatible brands, so those are read too.
    """
    if head[4:8] != b"ftyp":
        return None
    major = head[8:12]
    box_end = min(int.from_bytes(head[0:4], "big"), len(head))
    brands = {major} | {head[i : i + 4] for i in range(16, box_end - 3, 4)}
    if major == b"crx ":
        return "RAW"  # Canon CR3
    if major in _HEVC_BRANDS:
        return "HEIF"
    if brands & {b"avif", b"avis"}:
        return "AVIF"
    if major in (b"mif1", b"msf1"):
        return "HEIF"
    return None


# Formats with a magic number, as Pillow's own ``_accept`` checks know them:
# (prefix, format), tried in order.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"8BPS", "PSD"),
    (b"icns", "ICNS"),
    (b"qoif", "QOI"),
    (b"\xff\x0a", "JXL"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "JXL"),
    (b"DDS ", "DDS"),
    (b"BLP1", "BLP"),
    (b"BLP2", "BLP"),
    (b"\x01\xda", "SGI"),
    (b"\x00\x00\x00\x00\x00\x00\x00\x04", "MCIDAS"),
    (b"%!PS", "EPS"),
    (b"\xc5\xd0\xd3\xc6", "EPS"),
    (b"\x59\xa6\x6a\x95", "SUN"),
    (b"/* XPM */", "XPM"),
    (b"DanM", "MSP"),
    (b"LinS", "MSP"),
    (b"\xb1\x68\xde\x3a", "DCX"),
    (b"\x80\xe8\x00\x00", "PIXAR"),
    (b"P7 332", "XVTHUMB"),
    (b"FTEX", "FTEX"),
    (b"\xd7\xcd\xc6\x9a\x00\x00", "WMF"),
    (b"\x89HDF\r\n\x1a\n", "HDF5"),
    (b"BUFR", "BUFR"),
    (b"ZCZC", "BUFR"),
    (b"\x00\x00\x01\xb3", "MPEG"),
)
_MAGIC_PREFIXES = tuple(prefix for prefix, _ in _MAGIC)


def sniff(head: bytes) -> str | None:
    """The image format a file's first bytes announce, or ``None``.

    Returns a Pillow format name where Pillow has one. TGA and GIMP brushes
    of version 1 are never returned: their headers need ``identify``.
    """
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith((b"\x89PNG\r\n\x1a\n", b"PNG\r\n\x1a\n")):
        return "PNG"  # the second: a PNG whose first signature byte was lost
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "WEBP"
    if head.startswith(b"BM") and len(head) >= 18 and 12 <= int.from_bytes(head[14:18], "little") <= 255:
        return "BMP"
    if head.startswith(b"II*\x00") and head[8:11] == b"CR\x02":
        return "RAW"  # Canon CR2: TIFF with a signature of its own
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+", b"MM*\x00", b"II\x00*"):
        return "TIFF"  # the last two: byte order marks Pillow reads although they are invalid
    if fmt := _iso_bmff(head):
        return fmt
    if head.startswith((b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51")):
        return "JPEG2000"
    if ico_header(head):
        return "ICO"
    if _NETPBM.match(head):
        return "PPM"
    if head.startswith(_MAGIC_PREFIXES):
        return next(fmt for prefix, fmt in _MAGIC if head.startswith(prefix))
    return _sniff_structure(head)


def _sniff_structure(head: bytes) -> str | None:
    """Formats told by the structure of their header rather than a magic number."""
    if head.startswith(_RAW_MAGIC):
        return "RAW"
    if _COLOUR_PFM.match(head):
        return "PFM"
    if _PAM.match(head):
        return "PAM"
    if pcx_header(head):
        return "PCX"
    if fli_header(head):
        return "FLI"
    if head.startswith(b"GRIB") and len(head) >= 8 and head[7] == 1:
        return "GRIB"
    if head.startswith(b"\x01\x00\x00\x00") and head[40:44] == b" EMF":
        return "WMF"
    if head.startswith(b"SIMPLE") and fits_header(head):
        return "FITS"
    if head[:1] == b"\x1c" and iptc_header(head):
        return "IPTC"
    if head[2048:2052] == b"PCD_":
        return "PCD"
    if gbr_header(head, 2):
        return "GBR"
    if dib_header(head):
        return "DIB"
    if spider_header(head):
        return "SPIDER"
    if head[:1].isalpha() and im_header(head):
        return "IM"
    if head[:1] in b" \t\r\n/#" and xbm_header(head):
        return "XBM"
    if imt_header(head):
        return "IMT"
    return None


def _extension(path: str) -> str:
    return os.path.splitext(path)[1][1:].lower()


def _tga_footer(stream: BinaryIO) -> bool:
    """Whether the file ends with the TGA 2.0 footer signature."""
    try:
        size = stream.seek(0, io.SEEK_END)
        if size < 18 + 26:
            return False
        stream.seek(size - 18)
        return stream.read(18) == b"TRUEVISION-XFILE.\x00"
    except OSError:
        return False


def identify(stream: BinaryIO, head: bytes, path: str) -> str | None:
    """The format of an open file from its head (``sniff``), its name and, for TGA, its footer.

    Leaves the stream's position anywhere.
    """
    fmt = sniff(head)
    if fmt is None:
        extension = _extension(path)
        if tga_header(head) and (extension in TGA_EXTENSIONS or _tga_footer(stream)):
            fmt = "TGA"
        elif extension == "gbr" and gbr_header(head, 1):
            fmt = "GBR"
    return raw_format(path, fmt)


def declared_length(head: bytes) -> int | None:
    """The total file length a RIFF (WebP) header declares, or None.

    libwebp reports a cut file only as "could not create decoder object"; the
    declared length tells a truncated file from a corrupt one.
    """
    if head.startswith(b"RIFF") and len(head) >= 8:
        return int.from_bytes(head[4:8], "little") + 8
    return None


def raw_format(path: str, sniffed: str | None) -> str | None:
    """``"RAW"`` for a camera RAW file, else ``sniffed`` unchanged.

    A TIFF-like file named like a RAW (``.dng``, ``.nef``, ...) is a RAW: its
    first TIFF page is usually a tiny thumbnail or undecodable sensor data.
    """
    if sniffed == "TIFF" and _extension(path) in RAW_EXTENSIONS:
        return "RAW"
    return sniffed


def has_image_extension(path: str) -> bool:
    return _extension(path) in IMAGE_EXTENSIONS
