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
import struct
from typing import BinaryIO

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


def _u16(head: bytes, at: int) -> int:
    return int.from_bytes(head[at : at + 2], "little")


def _u32(head: bytes, at: int) -> int:
    return int.from_bytes(head[at : at + 4], "little")


def _i32(head: bytes, at: int) -> int:
    return int.from_bytes(head[at : at + 4], "little", signed=True)


def _be32(head: bytes, at: int) -> int:
    return int.from_bytes(head[at : at + 4], "big")


def _ico(head: bytes) -> bool:
    """ICO/CUR: a non-empty directory whose first entry points past it.

    The 4-byte magic alone also matches an uncompressed TGA (``00 00 02 00``),
    whose bytes 4-5 (the ICO image count) are zero.
    """
    if head[:4] not in (b"\x00\x00\x01\x00", b"\x00\x00\x02\x00") or len(head) < 22:
        return False
    count = _u16(head, 4)
    return count >= 1 and _u32(head, 14) > 0 and _u32(head, 18) >= 6 + 16 * count


def _dib(head: bytes) -> bool:
    """A BMP info header without the BMP file header (Windows clipboard, ``.dib``)."""
    size = _u32(head, 0)
    if size == 12 and len(head) >= 12:  # OS/2 BITMAPCOREHEADER
        return _u16(head, 4) > 0 and _u16(head, 6) > 0 and _u16(head, 8) == 1 and _u16(head, 10) in (1, 4, 8, 24)
    if size not in (40, 52, 56, 64, 108, 124) or len(head) < 20:
        return False
    return (
        _i32(head, 4) > 0 and _i32(head, 8) != 0 and _u16(head, 12) == 1
        and _u16(head, 14) in (1, 2, 4, 8, 16, 24, 32) and _u32(head, 16) in (0, 1, 2, 3, 4, 5, 6)
    )


def tga_header(head: bytes) -> bool:
    """Whether an 18-byte TGA header is consistent with the format (see ``identify``)."""
    if len(head) < 18:
        return False
    colormap, kind, depth, descriptor = head[1], head[2], head[16], head[17]
    if _u16(head, 12) == 0 or _u16(head, 14) == 0 or descriptor & 0xC0 or (descriptor & 0x0F) > 8:
        return False
    if kind in (1, 9):  # colour-mapped
        return colormap == 1 and depth in (8, 16) and _u16(head, 5) > 0 and head[7] in (15, 16, 24, 32)
    if colormap != 0 or head[3:7] != b"\x00\x00\x00\x00" or head[7] not in (0, 15, 16, 24, 32):
        return False
    if kind in (2, 10):  # true colour
        return depth in (15, 16, 24, 32)
    return kind in (3, 11) and depth in (1, 8, 16)  # grayscale


def _pcx(head: bytes) -> bool:
    """PCX as Pillow accepts it (version byte), with a sane encoding, depth and box."""
    return (
        len(head) >= 12 and head[0] == 0x0A and head[1] in (0, 2, 3, 4, 5) and head[2] in (0, 1)
        and head[3] in (1, 2, 4, 8) and _u16(head, 8) >= _u16(head, 4) and _u16(head, 10) >= _u16(head, 6)
    )


def _fli(head: bytes) -> bool:
    return len(head) >= 16 and head[4:6] in (b"\x11\xaf", b"\x12\xaf") and _u16(head, 14) in (0, 3)


def _gbr(head: bytes, version: int) -> bool:
    """A GIMP brush header; version 2 carries the magic ``GIMP``, version 1 none."""
    if len(head) < 28 or _be32(head, 4) != version or _be32(head, 8) == 0 or _be32(head, 12) == 0:
        return False
    if _be32(head, 16) not in (1, 4):
        return False
    if version == 2:
        return _be32(head, 0) >= 28 and head[20:24] == b"GIMP"
    return _be32(head, 0) >= 20


_ONE_BE, _ONE_LE = struct.pack(">f", 1.0), struct.pack("<f", 1.0)


def _spider(head: bytes) -> bool:
    """A SPIDER 2-D image: no magic, but header words that must be whole numbers."""
    if len(head) < 92 or head[16:20] not in (_ONE_BE, _ONE_LE):  # word 5, the image type, is 1.0
        return False
    for order in (">", "<"):
        h = (0.0, *struct.unpack(order + "23f", head[:92]))  # SPIDER counts words from 1
        if not all(h[i].is_integer() for i in (1, 2, 5, 12, 13, 22, 23)):  # NaN and inf are not
            continue
        if h[1] == 1 and h[5] == 1 and h[2] >= 1 and h[12] >= 1 and h[22] > 0 and h[22] == h[13] * h[23]:
            return True
    return False


_IMT_FIELD = re.compile(rb"([a-z]*) ([^ \r\n]*)")


def _imt(head: bytes) -> bool:
    """An IM Tools header: ``width N``, ``height N``, ``pixel n8`` lines, then a form feed."""
    end = head.find(b"\x0c")
    if end <= 0 or b"\n" not in head[:100]:
        return False
    fields: dict[bytes, bytes] = {}
    for line in head[:end].split(b"\n"):
        if m := _IMT_FIELD.fullmatch(line.rstrip(b"\r")):
            fields[m.group(1)] = m.group(2)
    return fields.get(b"pixel") == b"n8" and fields.get(b"width", b"").isdigit() and fields.get(b"height", b"").isdigit()


# A line of a LabEye IM header ("Key: value"), and the keys Pillow counts.
_IM_LINE = re.compile(rb"([A-Za-z][^:\r\n]*):[ \t]*[^\r\n]*")
_IM_KEYS = frozenset(
    {b"Image type", b"Image size (x*y)", b"Name", b"Comment", b"Date", b"Equipment",
     b"File size (no of images)", b"Lut", b"Scale (x*y)"}
)


def _im(head: bytes) -> bool:
    """A LabEye IM header: "Key: value" lines naming the image type, ended by NUL or 0x1A."""
    end = min((i for i in (head.find(b"\x00"), head.find(b"\x1a")) if i >= 0), default=-1)
    if end <= 0 or b"\x1a" not in head:
        return False
    keys = []
    for line in head[:end].replace(b"\r", b"").split(b"\n"):
        if not line:
            continue
        m = _IM_LINE.fullmatch(line)
        if m is None or len(line) > 100:  # Pillow reads lines of up to 100 bytes
            return False
        keys.append(m.group(1))
    return bool(keys) and keys[0] in _IM_KEYS and b"Image type" in keys


# XBM is C source: after any leading comments, ``#define NAME_width N`` and
# ``#define NAME_height N``.
_XBM_SIZE = re.compile(rb"#define[ \t]+\S*width[ \t]+[0-9]+\s+#define[ \t]+\S*height[ \t]+[0-9]+")


def _xbm(head: bytes) -> bool:
    at = 0
    while True:  # skip whitespace and /* comments */ by hand: a regex could backtrack badly
        while at < len(head) and head[at] in b" \t\r\n":
            at += 1
        if not head.startswith(b"/*", at):
            break
        close = head.find(b"*/", at + 2)
        if close < 0:
            return False
        at = close + 2
    return _XBM_SIZE.match(head, at) is not None


def _fits(head: bytes) -> bool:
    """FITS: the first 80-byte card is ``SIMPLE = T``."""
    return head[:8].strip() == b"SIMPLE" and head[8:80].split(b"/")[0].strip().lstrip(b"=").strip() == b"T"


def _iptc(head: bytes) -> bool:
    """IPTC/NAA: at least two 0x1C-tagged fields with valid record numbers in a row."""
    records = (1, 2, 3, 4, 5, 6, 7, 8, 9, 240)
    at = fields = 0
    while at + 5 <= len(head) and fields < 3:
        if head[at] != 0x1C or head[at + 1] not in records:
            return False
        if head[at + 3] > 132:  # Pillow refuses lengths with more than 4 extension bytes
            return False
        if head[at + 3] >= 128:  # an extended length (a large field): stop here
            return fields >= 1
        at += 5 + int.from_bytes(head[at + 3 : at + 5], "big")
        fields += 1
    return fields >= 2


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
    if _ico(head):
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
    if _pcx(head):
        return "PCX"
    if _fli(head):
        return "FLI"
    if head.startswith(b"GRIB") and len(head) >= 8 and head[7] == 1:
        return "GRIB"
    if head.startswith(b"\x01\x00\x00\x00") and head[40:44] == b" EMF":
        return "WMF"
    if head.startswith(b"SIMPLE") and _fits(head):
        return "FITS"
    if head[:1] == b"\x1c" and _iptc(head):
        return "IPTC"
    if head[2048:2052] == b"PCD_":
        return "PCD"
    if _gbr(head, 2):
        return "GBR"
    if _dib(head):
        return "DIB"
    if _spider(head):
        return "SPIDER"
    if head[:1].isalpha() and _im(head):
        return "IM"
    if head[:1] in b" \t\r\n/#" and _xbm(head):
        return "XBM"
    if _imt(head):
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
        elif extension == "gbr" and _gbr(head, 1):
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
