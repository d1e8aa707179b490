"""Hostile and unusual files made at test time, and loaders that misbehave on cue.

Module-level so that worker processes can unpickle the loaders.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from imgtwin.interfaces import LoadedImage
from imgtwin.loading.pillow_loader import StandardImageLoader


def png_with_header(width: int, height: int, payload: bytes = b"") -> bytes:
    """A PNG whose IHDR claims ``width`` x ``height`` RGB, with ``payload`` as its (zlib) IDAT."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", payload) + chunk(b"IEND", b"")


def blank_png(width: int, height: int) -> bytes:
    """A valid all-black RGB PNG: a few hundred KB on disk, width*height*3 bytes decoded."""
    compressor = zlib.compressobj(9)
    row = b"\0" * (width * 3 + 1)
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return png_with_header(width, height, body)


def _jpeg_segments(data: bytes) -> list[tuple[bool, bytes]]:
    """(is_scan, bytes) for each marker segment of a JPEG, SOI and EOI excluded."""
    out, i = [], 2
    while i < len(data) and data[i + 1] != 0xD9:
        length = struct.unpack(">H", data[i + 2 : i + 4])[0]
        if data[i + 1] != 0xDA:
            out.append((False, data[i : i + 2 + length]))
            i += 2 + length
            continue
        j = i + 2 + length
        while not (data[j] == 0xFF and data[j + 1] != 0 and not 0xD0 <= data[j + 1] <= 0xD7):
            j += 1
        out.append((True, data[i:j]))
        i = j
    return out


def slow_progressive_jpeg(side: int = 4096, extra_scans: int = 5000) -> bytes:
    """A valid-looking progressive JPEG that repeats one tiny scan thousands of times.

    Each repeat costs libjpeg a pass over every block (about 2 ms at 4096 px),
    so ~100 KB of file keeps a decoder busy for seconds: the per-file time
    budget, not the decoder, must end it.
    """
    buffer = io.BytesIO()
    Image.new("L", (side, side), 128).save(buffer, "JPEG", progressive=True, quality=50)
    segments = _jpeg_segments(buffer.getvalue())
    smallest = min((seg for is_scan, seg in segments[1:] if is_scan), key=len)
    return b"\xff\xd8" + b"".join(seg for _, seg in segments) + smallest * extra_scans + b"\xff\xd9"


def _tiff_ifd(entries: list[tuple[int, int, int, bytes]], offset: int) -> bytes:
    """One little-endian IFD at ``offset``, values over 4 bytes placed right after it."""
    size = 2 + 12 * len(entries) + 4
    body, extra = struct.pack("<H", len(entries)), b""
    for tag, kind, count, value in sorted(entries):
        if len(value) <= 4:
            body += struct.pack("<HHI", tag, kind, count) + value.ljust(4, b"\0")
        else:
            body += struct.pack("<HHII", tag, kind, count, offset + size + len(extra))
            extra += value + b"\0" * (len(value) % 2)
    return body + struct.pack("<I", 0) + extra


def _short(*v: int) -> tuple[int, int, bytes]:
    return 3, len(v), struct.pack(f"<{len(v)}H", *v)


def _long(*v: int) -> tuple[int, int, bytes]:
    return 4, len(v), struct.pack(f"<{len(v)}I", *v)


def _ascii(text: str) -> tuple[int, int, bytes]:
    data = text.encode() + b"\0"
    return 2, len(data), data


def _bytes(*v: int) -> tuple[int, int, bytes]:
    return 1, len(v), bytes(v)


def make_dng(preview: Image.Image | None, *, jpeg: bool = True, orientation: int = 1) -> bytes:
    """A minimal DNG LibRaw accepts: IFD0 an RGB preview (JPEG or raw bytes), SubIFD a CFA mosaic.

    With ``preview=None`` IFD0 is the mosaic itself: a RAW without a preview.
    """
    raw_w, raw_h = 64, 48
    mosaic = np.random.default_rng(0).integers(0, 4000, (raw_h, raw_w), dtype=np.uint16).tobytes()
    cfa = [(254, *_long(0)), (256, *_long(raw_w)), (257, *_long(raw_h)), (258, *_short(16)), (259, *_short(1)),
           (262, *_short(32803)), (277, *_short(1)), (278, *_long(raw_h)), (279, *_long(len(mosaic))),
           (284, *_short(1)), (33421, *_short(2, 2)), (33422, *_bytes(0, 1, 1, 2)), (50717, *_long(4095))]
    camera = [(271, *_ascii("Imgtwin")), (272, *_ascii("Test Camera")), (274, *_short(orientation)),
              (50706, *_bytes(1, 4, 0, 0)), (50708, *_ascii("Imgtwin Test Camera"))]
    if preview is None:
        data_off = 8
        ifd_off = data_off + len(mosaic)
        ifd0 = _tiff_ifd(cfa + camera + [(273, *_long(data_off))], ifd_off)
        return b"II*\0" + struct.pack("<I", ifd_off) + mosaic + ifd0
    rgb = preview.convert("RGB")
    if jpeg:
        buffer = io.BytesIO()
        rgb.save(buffer, "JPEG", quality=92)
        pixels, compression, photometric = buffer.getvalue(), 7, 6
    else:
        pixels, compression, photometric = rgb.tobytes(), 1, 2
    pixels += b"\0" * (len(pixels) % 2)
    mosaic_off = 8 + len(pixels)
    ifd0_off = mosaic_off + len(mosaic)

    def first(sub_off: int) -> bytes:
        return _tiff_ifd(
            camera + [(254, *_long(1)), (256, *_long(rgb.width)), (257, *_long(rgb.height)), (258, *_short(8, 8, 8)),
                      (259, *_short(compression)), (262, *_short(photometric)), (273, *_long(8)),
                      (277, *_short(3)), (278, *_long(rgb.height)), (279, *_long(len(pixels))), (284, *_short(1)),
                      (330, *_long(sub_off))],
            ifd0_off,
        )

    sub_off = ifd0_off + len(first(0))
    sub = _tiff_ifd(cfa + [(273, *_long(mosaic_off))], sub_off)
    return b"II*\0" + struct.pack("<I", ifd0_off) + pixels + mosaic + first(sub_off) + sub


class VanishingLoader(StandardImageLoader):
    """Deletes the file after reading it, before the task's second stat (a user tidying up)."""

    def load(self, path: str) -> LoadedImage:
        loaded = super().load(path)
        os.remove(path)
        return loaded


class ChangingLoader(StandardImageLoader):
    """Appends to the file while it is being read (a sync client or editor writing it)."""

    def load(self, path: str) -> LoadedImage:
        loaded = super().load(path)
        with open(path, "ab") as f:
            f.write(b"more bytes from a writer")
        return loaded


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
