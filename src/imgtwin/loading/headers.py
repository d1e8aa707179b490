"""Checks of the fixed headers of formats without a reliable magic number (ICO, DIB, TGA, PCX, SPIDER, text headers).

Each says whether a file's first bytes are consistent with one format as
Pillow reads it, so that ``signatures.sniff`` can name formats whose magic
alone would also match other files.
"""

from __future__ import annotations

import re
import struct


def _u16(head: bytes, at: int) -> int:
    return int.from_bytes(head[at : at + 2], "little")


def _u32(head: bytes, at: int) -> int:
    return int.from_bytes(head[at : at + 4], "little")


def _i32(head: bytes, at: int) -> int:
    return int.from_bytes(head[at : at + 4], "little", signed=True)


def _be32(head: bytes, at: int) -> int:
    return int.from_bytes(head[at : at + 4], "big")


def ico_header(head: bytes) -> bool:
    """ICO/CUR: a non-empty directory whose first entry points past it.

    The 4-byte magic alone also matches an uncompressed TGA (``00 00 02 00``),
    whose bytes 4-5 (the ICO image count) are zero.
    """
    if head[:4] not in (b"\x00\x00\x01\x00", b"\x00\x00\x02\x00") or len(head) < 22:
        return False
    count = _u16(head, 4)
    return count >= 1 and _u32(head, 14) > 0 and _u32(head, 18) >= 6 + 16 * count


def dib_header(head: bytes) -> bool:
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


def pcx_header(head: bytes) -> bool:
    """PCX as Pillow accepts it (version byte), with a sane encoding, depth and box."""
    return (
        len(head) >= 12 and head[0] == 0x0A and head[1] in (0, 2, 3, 4, 5) and head[2] in (0, 1)
        and head[3] in (1, 2, 4, 8) and _u16(head, 8) >= _u16(head, 4) and _u16(head, 10) >= _u16(head, 6)
    )


def fli_header(head: bytes) -> bool:
    return len(head) >= 16 and head[4:6] in (b"\x11\xaf", b"\x12\xaf") and _u16(head, 14) in (0, 3)


def gbr_header(head: bytes, version: int) -> bool:
    """A GIMP brush header; version 2 carries the magic ``GIMP``, version 1 none."""
    if len(head) < 28 or _be32(head, 4) != version or _be32(head, 8) == 0 or _be32(head, 12) == 0:
        return False
    if _be32(head, 16) not in (1, 4):
        return False
    if version == 2:
        return _be32(head, 0) >= 28 and head[20:24] == b"GIMP"
    return _be32(head, 0) >= 20


_ONE_BE, _ONE_LE = struct.pack(">f", 1.0), struct.pack("<f", 1.0)


def spider_header(head: bytes) -> bool:
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


def imt_header(head: bytes) -> bool:
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


def im_header(head: bytes) -> bool:
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


def xbm_header(head: bytes) -> bool:
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


def fits_header(head: bytes) -> bool:
    """FITS: the first 80-byte card is ``SIMPLE = T``."""
    return head[:8].strip() == b"SIMPLE" and head[8:80].split(b"/")[0].strip().lstrip(b"=").strip() == b"T"


def iptc_header(head: bytes) -> bool:
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
