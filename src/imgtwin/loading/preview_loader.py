"""PreviewFirstLoader: a file's embedded preview where it has a faithful one, else the usual decode.

What a preview is and when it is trusted: ``loading.previews``. A preview
answers for the scan only: ``runs.find`` decodes the main image of every file
that ends up in a candidate pair before anything is decided, so a lying preview
can cost a match, never make one.
"""

from __future__ import annotations

import io
import os
from dataclasses import replace
from typing import Any, BinaryIO

from PIL import Image

from imgtwin.interfaces import LoadedImage
from imgtwin.loading.facts import SourceFacts, colour_depth_of, read_facts, with_exif
from imgtwin.loading.pillow_loader import WHOLE_READ_BYTES, StandardImageLoader, orientation_of
from imgtwin.loading.plugins import heif_available
from imgtwin.loading.previews import Preview, exif_thumbnail, heif_thumbnail, may_have_exif_thumbnail
from imgtwin.loading.signatures import HEADER_BYTES, identify

#: Part of the preview rows' loader id: bumped when what a preview is, or when it is trusted, changes.
PREVIEWS_VERSION = 2  # 2: a JPEG cut short is never answered by its preview
#: The end of a JPEG read to find its end-of-image marker (behind zero padding some writers add).
TAIL_BYTES = 64


class PreviewFirstLoader:
    """An ``ImageLoader`` that answers with a preview where it can, and with ``main`` everywhere else.

    Rows made from a preview carry ``preview_id`` as their loader (``LoadedImage.loader``);
    rows of the main decode carry ``main``'s id, so an index made by ``main`` alone stays valid, and
    ``--no-previews`` (``main`` alone) reads preview rows again.
    """

    def __init__(self, main: StandardImageLoader) -> None:
        self.main = main

    @property
    def decode_id(self) -> str:
        return self.main.decode_id

    @property
    def preview_id(self) -> str:
        return f"{self.main.decode_id}+previews-v{PREVIEWS_VERSION}"

    @property
    def reuses(self) -> frozenset[str]:
        """The loader ids whose index rows this loader would make the same way (``IndexScanCache``)."""
        return frozenset({self.decode_id, self.preview_id})

    def load(self, path: str) -> LoadedImage:
        data, loaded = None, None
        try:
            with open(path, "rb") as stream:
                if os.fstat(stream.fileno()).st_size <= WHOLE_READ_BYTES:
                    data = stream.read()  # read once for the preview, the main decode and the content hash
                else:
                    loaded = self.load_preview(stream, path)
        except OSError:
            pass  # the main decode reports it with its reason
        if data is not None:
            loaded = self._preview_of_bytes(data, path)
            if loaded is None and not self._refined:
                return self.main.load_bytes(data, path)  # the bytes in hand: no second open and read (~15 us)
        # A loader that refines ``load`` (a plugin's checks, a test's gate or fault) sees every file it decodes.
        return loaded if loaded is not None else self.main.load(path)

    @property
    def _refined(self) -> bool:
        """Whether ``main``'s class has a ``load`` of its own: then the main decode goes through it."""
        return type(self.main).load is not StandardImageLoader.load

    def load_bytes(self, data: bytes, name: str) -> LoadedImage:
        """``load`` of the file named ``name`` whose bytes are ``data`` (``StandardImageLoader.load_bytes``)."""
        loaded = self._preview_of_bytes(data, name)
        return loaded if loaded is not None else self.main.load_bytes(data, name)

    def _preview_of_bytes(self, data: bytes, name: str) -> LoadedImage | None:
        """The preview of a file read whole. Its rows keep no content hash (as when its head alone is read:
        ``runs.main_images``), and no ``bytes_read``: its head would undercount the whole file read."""
        loaded = self.load_preview(io.BytesIO(data), name)
        return replace(loaded, bytes_read=None) if loaded is not None else None

    def load_preview(self, stream: BinaryIO, name: str = "") -> LoadedImage | None:
        """The file's preview as a ``LoadedImage`` (the main image's size and facts), or None."""
        try:
            head = stream.read(HEADER_BYTES)
            fmt = identify(stream, head, name)
            stream.seek(0)
            if fmt in ("JPEG", "MPO"):
                return self._jpeg(stream) if may_have_exif_thumbnail(head) else None
            if fmt in ("HEIF", "AVIF") and heif_available():
                return self._heif(stream)
        except Exception:  # noqa: BLE001 - any trouble with a preview leaves the file to the main decode
            return None
        return None

    def _jpeg(self, stream: BinaryIO) -> LoadedImage | None:
        if not _ends_whole(stream):
            return None  # cut short (or followed by other data): the main decode says which
        image = Image.open(stream, formats=("JPEG",))  # the header only: no pixel is decoded here
        width, height = image.size
        if width <= 0 or height <= 0 or width * height > self.main.max_pixels:
            return None  # the main decode says what is wrong
        preview = exif_thumbnail(image)
        if preview is None:
            return None
        facts = with_exif(read_facts(image), image)
        return self._finish(preview, width, height, image.format or "JPEG", orientation_of(image), facts,
                            _position(stream) + TAIL_BYTES)

    def _heif(self, stream: BinaryIO) -> LoadedImage | None:
        import pillow_heif  # heif_available() said it is there

        heif = pillow_heif.open_heif(stream, convert_hdr_to_8bit=True)
        primary = heif[heif.primary_index]
        width, height = primary.size  # as displayed: libheif applies the file's transforms
        if width <= 0 or height <= 0 or width * height > self.main.max_pixels:
            return None
        preview = heif_thumbnail(primary, width, height)
        if preview is None:
            return None
        info: dict[str, Any] = dict(primary.info)
        carrier = Image.new("L", (1, 1))  # carries the EXIF block to ``with_exif``, as a decoded HEIF would
        if isinstance(info.get("exif"), bytes):
            carrier.info["exif"] = info["exif"]
        bits = int(info.get("bit_depth") or 8)
        facts = with_exif(SourceFacts(primary.mode, colour_depth_of(primary.mode), 16 if bits > 8 else 8), carrier)
        # libheif is handed the whole file (pillow-heif reads it into memory), though it decodes one small item.
        return self._finish(preview, width, height, "HEIF", 1, facts, stream.seek(0, 2))

    def _finish(self, preview: Preview, width: int, height: int, fmt: str, orientation: int, facts: SourceFacts,
                read: int) -> LoadedImage:
        pixels = preview.image
        loaded = self.main.finish(pixels, pixels.width, pixels.height, fmt, preview.view, orientation, facts)
        if orientation >= 5:
            width, height = height, width
        return replace(loaded, width=width, height=height, loader=self.preview_id, bytes_read=read)


def _ends_whole(stream: BinaryIO) -> bool:
    """Whether a JPEG file ends with its end-of-image marker (zero padding allowed).

    A preview answers for the picture only if the picture is all there: a file cut short keeps its header
    and thumbnail, and must still be reported as truncated. One read of the file's last bytes tells.
    """
    size = stream.seek(0, 2)
    stream.seek(max(0, size - TAIL_BYTES))
    whole = stream.read(TAIL_BYTES).rstrip(b"\x00").endswith(b"\xff\xd9")
    stream.seek(0)
    return whole


def _position(stream: BinaryIO) -> int:
    """How far into the file reading went (the buffered reader's underlying position)."""
    raw = getattr(stream, "raw", stream)
    try:
        return int(raw.tell())
    except (OSError, ValueError):
        return 0
