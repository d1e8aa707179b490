"""StandardImageLoader: Pillow, never decoding more pixels than the hash needs."""

from __future__ import annotations

import io
import os
from dataclasses import replace
from typing import BinaryIO, Literal

import numpy as np
from PIL import Image, ImageFile

from imgtwin.hashing.content import content_hash_of
from imgtwin.interfaces import LoadedImage
from imgtwin.loading.errors import LoadError, classify_decode_error, classify_os_error
from imgtwin.loading.facts import GREY, SourceFacts, read_facts, with_exif
from imgtwin.loading.formats import SCALED_DECODE, SUPPORTED_FORMATS, refusal
from imgtwin.loading.plugins import missing_plugin_message
from imgtwin.loading.raw import read_preview
from imgtwin.loading.signatures import HEADER_BYTES, declared_length, identify
from imgtwin.loading.strips import KEPT_FORMATS, StripStore
from imgtwin.loading.webp import loaded_pixels
from imgtwin.records import ErrorReason

# Pillow's own decompression-bomb error threshold (2 x MAX_IMAGE_PIXELS).
DEFAULT_MAX_PIXELS = 178_956_970

#: A file up to this size is read whole and once: its bytes are decoded and hashed (``LoadedImage.content_hash``)
#: together. On 3-9 KB tiles the opens (preview, decode, hash) and Pillow's marker parse on a file cost 15 % of
#: a file's read and decode (docs/benchmarks.md); a larger file is decoded from the file, where a preview (its
#: first 64 KB) or a RAW's need not read all of it.
WHOLE_READ_BYTES = 1 << 16

#: Longest side of ``LoadedImage.colour``: colour checks and the keeper read a 16 x 16
#: thumbnail of it, so 64 px is plenty and costs nothing next to the decode.
COLOUR_SIZE = 64

#: EXIF orientation -> the transpose that makes the image display upright.
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

# Pillow plugin names that may open a file of a sniffed family.
# MPO files open through the JPEG plugin (Pillow registers no opener named "MPO").
_PLUGINS = {"ICO": ("ICO", "CUR"), "BMP": ("BMP", "DIB")}

_HIGH_DEPTH_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")


def orientation_of(image: Image.Image) -> int:
    """The EXIF orientation (2-8) that turns the opened ``image`` upright; 1 when none or corrupt."""
    try:
        value = image.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - a corrupt EXIF block never costs the image itself
        return 1
    return value if isinstance(value, int) and value in UPRIGHT else 1


def _high_depth_to_float(image: Image.Image) -> Image.Image:
    """16/32-bit and float pixels as a 0-255 float image, keeping precision.

    16-bit data is scaled by its nominal range (as a viewer shows it); float
    data, which has no nominal range, by its own min..max.
    """
    pixels = np.asarray(image, dtype=np.float64)
    finite = np.isfinite(pixels)
    if not finite.all():
        pixels = np.where(finite, pixels, 0.0)
    if image.mode == "F" or pixels.max(initial=0) > 65535 or pixels.min(initial=0) < 0:
        low, high = float(pixels.min(initial=0)), float(pixels.max(initial=0))
        scaled = (pixels - low) * (255.0 / (high - low)) if high > low else np.zeros_like(pixels)
    else:
        scaled = pixels * (255.0 / 65535.0)
    return Image.fromarray(scaled.astype(np.float32), mode="F")


def _to_target_mode(image: Image.Image, mode: Literal["L", "RGB"]) -> Image.Image:
    """Any Pillow mode as ``mode`` (or ``F`` for high bit depths in grayscale)."""
    if image.mode == mode:
        return image
    if image.mode in _HIGH_DEPTH_MODES:
        flat = _high_depth_to_float(image)
        return flat if mode == "L" else flat.convert("L").convert("RGB")
    if image.mode == "LAB":
        lightness = image.getchannel(0)
        return lightness if mode == "L" else lightness.convert("RGB")
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if "A" in image.mode or image.mode in ("RGBa", "La", "PA"):
        # Flatten transparency over white, as most viewers and converters do.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB")  # CMYK, YCbCr, HSV, 1, ...
    return image if image.mode == mode else image.convert(mode)


def _reduce(pixels: Image.Image, width: int, height: int, max_dimension: int) -> Image.Image:
    """``pixels`` (a decode of a ``width`` x ``height`` image) reduced to fit ``max_dimension``.

    A box reduction by a whole factor: the hash's own Lanczos resize to 32 px
    follows, so a Lanczos pass here only cost time (11 % of a medium-corpus
    scan) for 0.04 bits of hash on average. A reduction by a factor that does
    not divide the size (libjpeg's DCT scaling is one) leaves a last row and
    column that cover only part of a box; counted whole, they stretch the
    picture by up to a pixel of the reduced size. That was the main difference
    between draft and full decodes (0.83 bits on average over 5,243 JPEGs,
    0.41 once the edge is resampled to the picture's exact extent, as here;
    docs/formats-and-limits.md). Sizes that divide (most camera originals)
    cost nothing more.
    """
    scale = max(1, round(width / pixels.size[0]))  # 1, or the JPEG draft's 2, 4 or 8
    if max(pixels.size) > max_dimension:
        factor = -(-max(pixels.size) // max_dimension)
        pixels = pixels.reduce(factor)
        scale *= factor
    if width % scale == 0 and height % scale == 0:
        return pixels
    extent = (width / scale, height / scale)
    size = (max(1, round(extent[0])), max(1, round(extent[1])))
    return pixels.resize(size, Image.Resampling.BICUBIC, box=(0.0, 0.0, *extent))


def _truncation_by_length(stream: BinaryIO, head: bytes, fmt: str) -> LoadError | None:
    """A TRUNCATED error when the header declares more bytes than the file holds."""
    declared = declared_length(head)
    if declared is None:
        return None
    size = stream.seek(0, io.SEEK_END)
    if size >= declared:
        return None
    return LoadError(ErrorReason.TRUNCATED, f"{fmt} data ends early ({size} of the {declared} bytes its header declares)")


def _bytes_of(stream: BinaryIO) -> bytes | memoryview:
    """The whole file of ``stream`` (a memory stream's own buffer, not a copy)."""
    if isinstance(stream, io.BytesIO):
        return stream.getbuffer()
    stream.seek(0)
    return stream.read()


def _load_error(exc: OSError) -> LoadError:
    """What ``load`` raises for an ``OSError`` of the file (its reason) or of a decoder that escaped ``load_stream``."""
    if exc.filename is not None or isinstance(exc, (PermissionError, FileNotFoundError)):
        return LoadError(classify_os_error(exc), exc.strerror or str(exc))
    return classify_decode_error(exc, "image")


class StandardImageLoader:
    """Pillow loader returning an image that fits ``max_dimension`` pixels.

    JPEG files are decoded with libjpeg's DCT scaling (Pillow's draft mode) at
    the smallest scale (1/2, 1/4, 1/8) that still leaves ``decode_size`` pixels
    on each side, so a 4000 x 3000 photo costs a 1/8 decode instead of 12 MP of
    pixels. The default, 64, is twice the 32 px the DCT hash reads.
    EXIF orientation is applied; the first frame of animations and multi-page
    files is used; images above ``max_pixels`` are refused before decoding.
    HEIF/HEIC needs pillow-heif and camera RAW needs rawpy (its embedded
    preview is hashed); without them those files are ``unsupported_format``.
    Embedded ICC profiles are not applied: converting to sRGB changed hashes
    by 0-2 bits for +45 % decode time (see docs/formats-and-limits.md).
    """

    # 4: a small colour copy and the header facts (JPEG drafts in YCbCr, whose
    #    luma is exactly the grey decode), for colour checks and the keeper
    # 3: TGA, DIB, Photo CD and grayscale PFM decoded (rows of v2 hold settled
    #    not_an_image or decode_error results for them, so they must be read
    #    again); partial edge boxes resampled to the picture's extent (hashes of
    #    images whose size the reduction factor does not divide change)
    # 2: box reduction to max_dimension (1: Lanczos thumbnail)
    VERSION = 4

    def __init__(
        self,
        max_dimension: int = 512,
        *,
        decode_size: int = 64,
        mode: Literal["L", "RGB"] = "L",
        max_pixels: int = DEFAULT_MAX_PIXELS,
        formats: frozenset[str] = SUPPORTED_FORMATS,
        strips: StripStore | None = None,
        colour: bool = True,
    ) -> None:
        if max_dimension < 8:
            raise ValueError("max_dimension must be >= 8")
        if decode_size < 8:
            raise ValueError("decode_size must be >= 8")
        self.max_dimension = max_dimension
        self.decode_size = decode_size
        self.mode = mode
        self.max_pixels = max_pixels
        self.formats = formats
        self.strips = strips  # where this find's upscale checks want decoded rows kept (``loading.strips``)
        # The small colour copy beside the pixels; without it None (local features read grey pixels only, and
        # the copy was a fifth of their decode).
        self.colour = colour

    @classmethod
    def with_max_dimension(cls, max_dimension: int) -> StandardImageLoader:
        return cls(max_dimension)

    @property
    def decode_id(self) -> str:
        return f"pillow-{self.mode}-max{self.max_dimension}-draft{self.decode_size}-v{self.VERSION}"

    def load(self, path: str) -> LoadedImage:
        try:
            with open(path, "rb") as stream:
                if os.fstat(stream.fileno()).st_size > WHOLE_READ_BYTES:
                    return self.load_stream(stream, path)
                data = stream.read()
        except OSError as exc:
            raise _load_error(exc) from None
        return self.load_bytes(data, path)

    def load_bytes(self, data: bytes, name: str) -> LoadedImage:
        """``load`` of the file named ``name`` whose bytes are ``data``, with their ``content_hash``."""
        try:
            loaded = self.load_stream(io.BytesIO(data), name)
        except OSError as exc:
            raise _load_error(exc) from None
        return replace(loaded, content_hash=content_hash_of(data))

    def load_stream(self, stream: BinaryIO, name: str = "") -> LoadedImage:
        """``load`` of a file already open (the review server decodes the very file it checked); ``name``
        for what its extension tells (camera RAW, TGA)."""
        head = stream.read(HEADER_BYTES)
        fmt = identify(stream, head, name)
        if fmt is None:
            kind = "empty file" if not head else "content is not a known image format"
            raise LoadError(ErrorReason.NOT_AN_IMAGE, kind)
        if fmt not in self.formats:
            raise refusal(fmt)
        if missing := missing_plugin_message(fmt):
            raise LoadError(ErrorReason.UNSUPPORTED_FORMAT, missing)
        stream.seek(0)
        try:
            return self._decode_raw(stream) if fmt == "RAW" else self._decode(stream, fmt, name=name)
        except LoadError:
            raise
        except Exception as exc:  # noqa: BLE001 - decoders raise anything on hostile files; classified below
            error = classify_decode_error(exc, fmt)
        raise _truncation_by_length(stream, head, fmt) or error


    def _decode_raw(self, stream: BinaryIO) -> LoadedImage:
        """A camera RAW's embedded preview; LibRaw's rotation unless the preview has its own."""
        preview = read_preview(stream)
        if preview.jpeg is not None:
            loaded = self._decode(io.BytesIO(preview.jpeg), "JPEG", preview.orientation)
            return LoadedImage(loaded.image, loaded.width, loaded.height, "RAW", f"raw-preview-{loaded.decode}",
                               loaded.colour, loaded.facts)
        assert preview.bitmap is not None
        width, height = preview.bitmap.size
        facts = with_exif(read_facts(preview.bitmap), preview.bitmap)
        return self.finish(preview.bitmap, width, height, "RAW", "raw-preview-bitmap", preview.orientation, facts)

    def _decode(self, stream: BinaryIO, fmt: str, fallback_orientation: int = 1, name: str = "") -> LoadedImage:
        image: ImageFile.ImageFile = Image.open(stream, formats=_PLUGINS.get(fmt, (fmt,)))
        width, height = image.size
        if width <= 0 or height <= 0:
            raise LoadError(ErrorReason.DECODE_ERROR, f"{fmt} image has no pixels ({width}x{height})")
        if width * height > self.max_pixels:
            raise LoadError(
                ErrorReason.TOO_LARGE,
                f"{width}x{height} = {width * height / 1e6:.0f} MP exceeds the "
                f"{self.max_pixels / 1e6:.0f} MP limit",
            )
        facts = read_facts(image)
        decode = "full"
        if image.format in SCALED_DECODE:
            requested = (self.decode_size, self.decode_size)
            # YCbCr: the luma channel is exactly the "L" decode, and the chroma comes free with it; without a
            # colour copy no one reads the chroma, and libjpeg decoding the luma alone is ~1/6 cheaper.
            drafted = "L" if not self.colour else "YCbCr"
            mode = {"RGB": drafted if self.mode == "L" else "RGB"}.get(image.mode, image.mode)
            scaled = image.draft(mode, requested)
            if scaled is not None:
                scale = round(width / image.size[0]) if image.size[0] else 1
                decode = f"jpeg-draft-1/{scale}"
        pixels = loaded_pixels(image, _bytes_of(stream) if image.format == "WEBP" else None)
        # Only after load(): some plugins (PNG) load inside getexif(), and a
        # decode error there must not be swallowed with the EXIF lookup.
        orientation = orientation_of(image)
        facts = with_exif(facts, image)
        if orientation == 1:
            orientation = fallback_orientation
        fmt = image.format or fmt
        grey = None
        if self.strips is not None and name and fmt in KEPT_FORMATS:
            grey = self._keep_rows(name, pixels, fmt, orientation)
        # The grey kept rows' full-size picture is the hash's too where both come from RGB (a 12-MP
        # conversion less, ~25 ms of a HEIC's ~500).
        reuse = grey if pixels.mode == "RGB" and self.mode == "L" else None
        return self.finish(pixels, width, height, fmt, decode, orientation, facts, reuse)

    def _keep_rows(self, name: str, image: Image.Image, fmt: str, orientation: int) -> Image.Image:
        """The picture's top rows, grey and upright, kept for this find's upscale checks (as ``top_rows`` makes
        them: grey first, then turned); returns the grey picture as decoded (not turned)."""
        assert self.strips is not None
        grey = image.convert("L")
        self.strips.keep(name, fmt, grey.transpose(UPRIGHT[orientation]) if orientation in UPRIGHT else grey)
        return grey

    def finish(
        self, image: Image.Image, width: int, height: int, fmt: str, decode: str, orientation: int,
        facts: SourceFacts, converted: Image.Image | None = None,
    ) -> LoadedImage:
        """Decoded pixels in the target mode, reduced, and turned upright; a small colour copy beside. Public: a
        preview decoded elsewhere (``loading.preview_loader``) becomes what this loader gives too.
        ``converted``: ``image`` in the target mode already, where the caller had it made."""
        colour: Image.Image | None = None
        if image.mode == "YCbCr":  # a JPEG draft: luma for hashing, the three channels for colour
            grey = image.getchannel(0)
            if self.colour:
                colour = _reduce(image, width, height, COLOUR_SIZE).convert("RGB")
        else:
            grey = converted if converted is not None else _to_target_mode(image, self.mode)
            if self.colour and facts.colour_depth > GREY:
                colour = _reduce(_to_target_mode(image, "RGB"), width, height, COLOUR_SIZE)
        pixels = _reduce(grey, width, height, self.max_dimension)
        if orientation != 1:
            pixels = pixels.transpose(UPRIGHT[orientation])
            colour = colour.transpose(UPRIGHT[orientation]) if colour is not None else None
            if orientation >= 5:
                width, height = height, width
        return LoadedImage(pixels, width, height, fmt, decode, colour, facts)
