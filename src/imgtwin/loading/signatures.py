"""Recognising image files by content, and by name.

Discovery must not trust extensions alone: a photo saved as ``IMG_1.dat`` is
still a photo, and a ``holiday.jpg`` that is really an HTML error page must be
reported. The table below lists the magic numbers of image formats we know;
``SUPPORTED_FORMATS`` are those we decode (HEIF and RAW only when their optional
plug-in is installed). The others are recognised so that they can be reported
as unsupported instead of passed over, and so that fuzzer-prone decoders (BLP,
DDS, FLI, SGI, PCX, McIDAS) and Ghostscript (EPS) are never reached.

Camera RAW files are mostly TIFF inside (DNG, NEF, ARW, PEF, ...), so only
their name tells them from a TIFF: ``raw_format`` combines both.
"""

from __future__ import annotations

import os
import re

# How many bytes of a file's head ``sniff`` needs (an ISO-BMFF ``ftyp`` box
# lists its compatible brands within the first 64).
HEADER_BYTES = 64

# Pillow format names we decode, passed to ``Image.open(formats=...)`` so that
# Pillow cannot pick another plugin from content.
SUPPORTED_FORMATS: frozenset[str] = frozenset(
    {"JPEG", "MPO", "PNG", "GIF", "WEBP", "BMP", "DIB", "TIFF", "AVIF", "PSD", "ICO", "JPEG2000", "PPM",
     "HEIF", "RAW"}
)

# Camera RAW extensions; their content is TIFF-like or one of _RAW_MAGIC.
RAW_EXTENSIONS: frozenset[str] = frozenset(
    "dng cr2 cr3 crw nef nrw arw srf sr2 orf raf rw2 pef srw x3f erf kdc mrw 3fr mos iiq rwl".split()
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

# Names that promise an image. A file with one of these extensions that cannot
# be read is an error; any other file that is not an image by content is skipped.
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    """
    jpg jpeg jpe jfif jif pjpeg pjp mpo png apng gif webp bmp dib tif tiff avif avifs
    heic heif hif jp2 j2k jpf jpx jpm psd psb ico cur ppm pgm pbm pnm pam qoi tga icb vda
    dds blp sgi rgb rgba bw pcx fli flc eps epsf icns jxl
    dng cr2 cr3 crw nef nrw arw srf sr2 orf raf rw2 pef srw x3f erf kdc mrw 3fr
    """.split()
)


_NETPBM = re.compile(rb"P[1-6][ \t\r\n]+(#|[0-9])")


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


def sniff(head: bytes) -> str | None:
    """The image format a file's first bytes announce, or ``None``.

    Returns a Pillow format name where Pillow has one.
    """
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n") or head.startswith(b"PNG\r\n\x1a\n"):
        return "PNG"  # the second: a PNG whose first signature byte was lost
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "WEBP"
    if head.startswith(b"BM") and len(head) >= 18 and 12 <= int.from_bytes(head[14:18], "little") <= 255:
        return "BMP"
    if head.startswith(b"II*\x00") and head[8:11] == b"CR\x02":
        return "RAW"  # Canon CR2: TIFF with a signature of its own
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    if fmt := _iso_bmff(head):
        return fmt
    if head.startswith(b"\x00\x00\x00\x0cjP  \r\n\x87\n") or head.startswith(b"\xff\x4f\xff\x51"):
        return "JPEG2000"
    if head.startswith(b"8BPS"):
        return "PSD"
    if head[:4] in (b"\x00\x00\x01\x00", b"\x00\x00\x02\x00"):
        return "ICO"
    if _NETPBM.match(head):
        return "PPM"
    if head.startswith(b"icns"):
        return "ICNS"
    if head.startswith(b"qoif"):
        return "QOI"
    if head.startswith(b"\xff\x0a") or head.startswith(b"\x00\x00\x00\x0cJXL \r\n\x87\n"):
        return "JXL"
    if head.startswith(b"DDS "):
        return "DDS"
    if head[:4] in (b"BLP1", b"BLP2"):
        return "BLP"
    if head[:2] == b"\x01\xda":
        return "SGI"
    if len(head) >= 3 and head[0] == 0x0A and head[1] in (0, 2, 3, 4, 5) and head[2] == 1:
        return "PCX"
    if len(head) >= 6 and head[4:6] in (b"\x11\xaf", b"\x12\xaf"):
        return "FLI"
    if head.startswith(b"\x00\x00\x00\x00\x00\x00\x00\x04"):
        return "MCIDAS"
    if head.startswith(b"%!PS") or head.startswith(b"\xc5\xd0\xd3\xc6"):
        return "EPS"
    if head.startswith(_RAW_MAGIC):
        return "RAW"
    return None


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
    if sniffed == "TIFF" and os.path.splitext(path)[1][1:].lower() in RAW_EXTENSIONS:
        return "RAW"
    return sniffed


def has_image_extension(path: str) -> bool:
    ext = os.path.splitext(path)[1]
    return ext[1:].lower() in IMAGE_EXTENSIONS
