"""Real files of every format Pillow can open (and a few it cannot), made at test time.

Pillow writes most of them; for the formats it only reads, minimal valid files
are written by hand from each format's header layout (the same fields Pillow's
plugin reads). Each builder takes a picture and returns the file's bytes.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

TGA_FOOTER_BYTES = 26  # extension and developer offsets, then "TRUEVISION-XFILE.\0"


def saved(picture: Image.Image, fmt: str, mode: str | None = None, **options: object) -> bytes:
    buffer = io.BytesIO()
    (picture.convert(mode) if mode else picture).save(buffer, fmt, **options)
    return buffer.getvalue()


def gray(picture: Image.Image) -> np.ndarray:
    return np.asarray(picture.convert("L"), dtype=np.uint8)


def tga_without_footer(picture: Image.Image, mode: str = "RGB", rle: bool = False) -> bytes:
    """A TGA 1.0 file, as many older tools and games write it: no footer."""
    return saved(picture, "TGA", mode, rle=rle)[:-TGA_FOOTER_BYTES]


def pcd(picture: Image.Image) -> bytes:
    """A Kodak Photo CD image pack: signature at 2048, the 768x512 base image at 96 sectors."""
    luma = gray(picture.resize((768, 512)))
    head = bytearray(96 * 2048)
    head[2048:2055] = b"PCD_IPI"
    rows = bytearray()
    for y in range(0, 512, 2):  # two luma rows, then the two half-width chroma rows (neutral)
        rows += luma[y].tobytes() + luma[y + 1].tobytes() + bytes([156]) * 384 + bytes([137]) * 384
    return bytes(head + rows)


def sun_raster(picture: Image.Image) -> bytes:
    """An 8-bit grayscale Sun raster file (rows padded to 16 bits)."""
    pixels = gray(picture)
    height, width = pixels.shape
    if width % 2:
        pixels = np.pad(pixels, ((0, 0), (0, 1)))
    data = pixels.tobytes()
    return struct.pack(">8I", 0x59A66A95, width, height, 8, len(data), 1, 0, 0) + data


def xpm(picture: Image.Image) -> bytes:
    """An XPM with a 16-grey palette, one character per pixel."""
    levels = gray(picture) // 16
    chars = "abcdefghijklmnop"
    lines = [f'"{picture.width} {picture.height} 16 1",']
    lines += [f'"{chars[i]} c #{i * 17:02X}{i * 17:02X}{i * 17:02X}",' for i in range(16)]
    lines += ['"' + "".join(chars[v] for v in row) + '",' for row in levels]
    return ("/* XPM */\nstatic char *picture[] = {\n" + "\n".join(lines) + "\n};\n").encode()


def fits(picture: Image.Image) -> bytes:
    """A FITS primary HDU of 8-bit pixels (FITS rows go bottom-up)."""
    pixels = gray(picture)[::-1]
    cards = [
        "SIMPLE  =                    T", "BITPIX  =                    8", "NAXIS   =                    2",
        f"NAXIS1  = {pixels.shape[1]:20d}", f"NAXIS2  = {pixels.shape[0]:20d}", "END",
    ]
    header = "".join(card.ljust(80) for card in cards).encode().ljust(2880, b" ")
    data = pixels.tobytes()
    return header + data + bytes(-len(data) % 2880)


def dcx(picture: Image.Image) -> bytes:
    """A one-page DCX: the magic, a page offset table, then a PCX page."""
    page = saved(picture, "PCX")
    table = struct.pack("<II", 0x3ADE68B1, 12) + struct.pack("<I", 0)
    return table + page


def pixar(picture: Image.Image) -> bytes:
    header = bytearray(1024)
    header[0:4] = b"\x80\xe8\x00\x00"
    struct.pack_into("<HH", header, 416, picture.height, picture.width)
    struct.pack_into("<HH", header, 424, 14, 2)  # RGB
    return bytes(header) + picture.convert("RGB").tobytes()


def gimp_brush(picture: Image.Image, version: int = 2) -> bytes:
    name = b"brush\x00"
    pixels = gray(picture).tobytes()
    if version == 2:
        header_size = 28 + len(name)
        return struct.pack(">5I", header_size, 2, picture.width, picture.height, 1) + b"GIMP" + struct.pack(
            ">I", 10) + name + pixels
    return struct.pack(">5I", 20 + len(name), 1, picture.width, picture.height, 1) + name + pixels


def imt(picture: Image.Image) -> bytes:
    return f"width {picture.width}\nheight {picture.height}\npixel n8\n".encode() + b"\x0c" + gray(picture).tobytes()


def xv_thumbnail(picture: Image.Image) -> bytes:
    header = f"P7 332\n#XVVERSION:Version 3.10a\n#END_OF_COMMENTS\n{picture.width} {picture.height} 255\n"
    return header.encode() + gray(picture).tobytes()  # 3-3-2 colour bytes; grey levels will do


def ftex(picture: Image.Image) -> bytes:
    """An uncompressed FTEX texture with one mipmap."""
    data = picture.convert("RGB").tobytes()
    where = 32
    return (b"FTEX" + struct.pack("<i2i2i2i", 0, picture.width, picture.height, 1, 1, 1, where)
            + struct.pack("<i", len(data)) + data)


def iptc(picture: Image.Image) -> bytes:
    """An IPTC/NAA file: envelope and image-parameter records, then the raw pixels."""
    def field(record: int, dataset: int, value: bytes) -> bytes:
        if len(value) < 0x8000:
            return struct.pack(">BBBH", 0x1C, record, dataset, len(value)) + value
        return struct.pack(">BBBB", 0x1C, record, dataset, 0x84) + b"\x00" + struct.pack(">I", len(value)) + value

    fields = [
        field(1, 0, b"\x00\x04"), field(2, 0, b"\x00\x04"), field(3, 60, b"\x01\x00"),
        field(3, 20, struct.pack(">H", picture.width)), field(3, 30, struct.pack(">H", picture.height)),
        field(3, 120, b"\x01"), field(8, 10, gray(picture).tobytes()),
    ]
    return b"".join(fields)


def mcidas(picture: Image.Image) -> bytes:
    """A McIdas AREA file: a 64-word big-endian directory, then 8-bit pixels."""
    words = [0] * 64
    words[1] = 4  # w[2]: the area format (the magic's last byte)
    words[8], words[9], words[10], words[13], words[14], words[33] = (
        picture.height, picture.width, 1, 1, 0, 256)  # lines, elements, bytes/element, bands, prefix, data offset
    return struct.pack(">64i", *words) + gray(picture).tobytes()


def fli(picture: Image.Image) -> bytes:
    """An FLI header and one empty frame (all the plugin reads to open it)."""
    header = bytearray(128)
    struct.pack_into("<IHHHHHH", header, 0, 128 + 16, 0xAF11, 1, picture.width, picture.height, 8, 0)
    frame = struct.pack("<IHH8x", 16, 0xF1FA, 0)
    return bytes(header) + frame


def wmf(picture: Image.Image) -> bytes:
    """A placeable WMF header followed by a standard metafile header."""
    placeable = struct.pack("<IHhhhhHIH", 0x9AC6CDD7, 0, 0, 0, picture.width, picture.height, 72, 0, 0)
    standard = struct.pack("<HHHIHIH", 1, 9, 0x300, 9, 0, 0, 0)
    return placeable + standard + bytes(64)


def emf(picture: Image.Image) -> bytes:
    header = struct.pack("<II4i4i", 1, 88, 0, 0, picture.width, picture.height, 0, 0, 2000, 1500)
    return header + b" EMF" + bytes(44)


def pam(picture: Image.Image) -> bytes:
    header = f"P7\nWIDTH {picture.width}\nHEIGHT {picture.height}\nDEPTH 1\nMAXVAL 255\nTUPLTYPE GRAYSCALE\nENDHDR\n"
    return header.encode() + gray(picture).tobytes()


def colour_pfm(picture: Image.Image) -> bytes:
    pixels = np.asarray(picture.convert("RGB"), dtype="<f4")[::-1] / 255.0
    return f"PF\n{picture.width} {picture.height}\n-1.0\n".encode() + pixels.tobytes()


def cur(picture: Image.Image) -> bytes:
    """A cursor: an ICO with BMP entries, marked as type 2 (hotspots in place of planes/depth)."""
    data = bytearray(saved(picture.resize((32, 32)), "ICO", sizes=[(32, 32)], bitmap_format="bmp"))
    data[2] = 2
    return bytes(data)


def psd(picture: Image.Image) -> bytes:
    """A flat 8-bit grayscale Photoshop file (Pillow reads PSD but does not write it)."""
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 1, picture.height, picture.width, 8, 1)
    sections = struct.pack(">III", 0, 0, 0)  # colour mode data, image resources, layers: all empty
    return header + sections + struct.pack(">H", 0) + gray(picture).tobytes()


def mpeg(picture: Image.Image) -> bytes:
    """An MPEG-1 video sequence header (what Pillow's MPEG plugin reads)."""
    size = (picture.width << 12) | picture.height
    return b"\x00\x00\x01\xb3" + size.to_bytes(3, "big") + b"\x13\xff\xff\xe0\x18" + bytes(64)


@dataclass(frozen=True)
class FormatCase:
    """A real file of one format: how to make it, what Pillow calls it and what we do with it."""

    name: str  # file name (its extension matters for TGA without footer and GIMP brush v1)
    build: Callable[[Image.Image], bytes]
    pillow: str | None  # Image.open(...).format, or None where Pillow cannot open it
    ours: str  # what signatures.identify returns
    decision: str  # "decode", "unsupported" or "not a picture" (formats.Decision values)


def _pillow(fmt: str, mode: str | None = None, **options: object) -> Callable[[Image.Image], bytes]:
    return lambda picture: saved(picture, fmt, mode, **options)


CASES: tuple[FormatCase, ...] = (
    # Decoded: newly (TGA, DIB, Photo CD, PFM), and the formats decoded before.
    FormatCase("photo.jpg", _pillow("JPEG", "RGB", quality=90), "JPEG", "JPEG", "decode"),
    FormatCase("stereo.mpo", lambda p: saved(p, "MPO", save_all=True, append_images=[p]), "MPO", "JPEG", "decode"),
    FormatCase("photo.png", _pillow("PNG"), "PNG", "PNG", "decode"),
    FormatCase("photo.gif", _pillow("GIF"), "GIF", "GIF", "decode"),
    FormatCase("photo.webp", _pillow("WEBP", quality=90), "WEBP", "WEBP", "decode"),
    FormatCase("photo.tif", _pillow("TIFF"), "TIFF", "TIFF", "decode"),
    FormatCase("photo.avif", _pillow("AVIF", quality=90), "AVIF", "AVIF", "decode"),
    FormatCase("photo.jp2", _pillow("JPEG2000"), "JPEG2000", "JPEG2000", "decode"),
    FormatCase("layers.psd", psd, "PSD", "PSD", "decode"),
    FormatCase("shot.tga", _pillow("TGA", "RGB"), "TGA", "TGA", "decode"),
    FormatCase("rle.tga", _pillow("TGA", "RGBA", rle=True), "TGA", "TGA", "decode"),
    FormatCase("gray.tga", _pillow("TGA", "L", rle=True), "TGA", "TGA", "decode"),
    FormatCase("palette.tga", _pillow("TGA", "P"), "TGA", "TGA", "decode"),
    FormatCase("footer-renamed.dat", _pillow("TGA", "RGB"), "TGA", "TGA", "decode"),
    FormatCase("v1.tga", tga_without_footer, "TGA", "TGA", "decode"),
    FormatCase("v1-rle.icb", lambda p: tga_without_footer(p, "RGB", rle=True), "TGA", "TGA", "decode"),
    FormatCase("clip.dib", _pillow("DIB"), "DIB", "DIB", "decode"),
    FormatCase("clipboard.dat", _pillow("DIB"), "DIB", "DIB", "decode"),
    FormatCase("scan.pcd", pcd, "PCD", "PCD", "decode"),
    FormatCase("depth.pfm", lambda p: saved(p.convert("F"), "PPM"), "PPM", "PPM", "decode"),
    FormatCase("photo.ppm", _pillow("PPM", "RGB"), "PPM", "PPM", "decode"),
    FormatCase("photo.bmp", _pillow("BMP", "RGB"), "BMP", "BMP", "decode"),
    FormatCase("icon.ico", _pillow("ICO", sizes=[(64, 64)]), "ICO", "ICO", "decode"),
    FormatCase("pointer.cur", cur, "CUR", "ICO", "decode"),
    # Recognised, reported as unsupported_format.
    FormatCase("old.ras", sun_raster, "SUN", "SUN", "unsupported"),
    FormatCase("icon.xpm", xpm, "XPM", "XPM", "unsupported"),
    FormatCase("icon.xbm", _pillow("XBM", "1"), "XBM", "XBM", "unsupported"),
    FormatCase("sky.fits", fits, "FITS", "FITS", "unsupported"),
    FormatCase("lab.im", _pillow("IM", "RGB"), "IM", "IM", "unsupported"),
    FormatCase("paint.msp", _pillow("MSP", "1"), "MSP", "MSP", "unsupported"),
    FormatCase("fax.dcx", dcx, "DCX", "DCX", "unsupported"),
    FormatCase("render.pxr", pixar, "PIXAR", "PIXAR", "unsupported"),
    FormatCase("micrograph.spi", _pillow("SPIDER", "F"), "SPIDER", "SPIDER", "unsupported"),
    FormatCase("brush.gbr", gimp_brush, "GBR", "GBR", "unsupported"),
    FormatCase("brush-v1.gbr", lambda p: gimp_brush(p, 1), "GBR", "GBR", "unsupported"),
    FormatCase("tools.imt", imt, "IMT", "IMT", "unsupported"),
    FormatCase("thumb.xv", xv_thumbnail, "XVThumb", "XVTHUMB", "unsupported"),
    FormatCase("texture.ftc", ftex, "FTEX", "FTEX", "unsupported"),
    FormatCase("wire.iim", iptc, "IPTC", "IPTC", "unsupported"),
    FormatCase("area.mcidas", mcidas, "MCIDAS", "MCIDAS", "unsupported"),
    FormatCase("anim.fli", fli, "FLI", "FLI", "unsupported"),
    FormatCase("clipart.wmf", wmf, "WMF", "WMF", "unsupported"),
    FormatCase("clipart.emf", emf, "WMF", "WMF", "unsupported"),
    FormatCase("old.pcx", _pillow("PCX", "RGB"), "PCX", "PCX", "unsupported"),
    FormatCase("old.sgi", _pillow("SGI", "RGB"), "SGI", "SGI", "unsupported"),
    FormatCase("new.qoi", _pillow("QOI", "RGB"), "QOI", "QOI", "unsupported"),
    FormatCase("game.dds", _pillow("DDS", "RGB"), "DDS", "DDS", "unsupported"),
    FormatCase("game.blp", _pillow("BLP", "P"), "BLP", "BLP", "unsupported"),
    FormatCase("app.icns", lambda p: saved(p.resize((64, 64)), "ICNS"), "ICNS", "ICNS", "unsupported"),
    FormatCase("print.eps", _pillow("EPS", "RGB"), "EPS", "EPS", "unsupported"),
    FormatCase("tuple.pam", pam, None, "PAM", "unsupported"),
    FormatCase("colour.pfm", colour_pfm, None, "PFM", "unsupported"),
    # Identified by Pillow's stub plugins, which decode nothing: not pictures.
    FormatCase("clip.mpg", mpeg, "MPEG", "MPEG", "not a picture"),
    FormatCase("model.h5", lambda p: b"\x89HDF\r\n\x1a\n" + bytes(512), "HDF5", "HDF5", "not a picture"),
    FormatCase("weather.bufr", lambda p: b"BUFR" + bytes(512), "BUFR", "BUFR", "not a picture"),
    FormatCase("weather.grib", lambda p: b"GRIB\x00\x00\x00\x01" + bytes(512), "GRIB", "GRIB", "not a picture"),
)
