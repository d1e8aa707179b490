"""Helpers for tests: images made at test time, shared data, and test doubles."""

from __future__ import annotations

import functools
import io
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
from PIL import Image

from imgtwin.interfaces import LoadedImage
from imgtwin.loading.pillow_loader import StandardImageLoader

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("IMGTWIN_SHARED", REPO.parent / "shared"))


def require_shared(sub: str) -> Path:
    """A folder of ../shared; missing it is a failure in CI, a skip elsewhere."""
    path = SHARED / sub
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing: CI must run with shared/ beside the clone")
        pytest.skip(f"{path} not available")
    return path


def synthetic_photo(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A deterministic, photo-like RGB image: smooth gradients, blobs and grain.

    Different seeds give pictures whose hashes are far apart, like unrelated
    photos; the same seed gives the same pixels. Pictures up to 1.2 MP are made
    once per process (a fresh image each call): many tests ask for the same ones.
    """
    pixels = _cached_pixels(seed, size) if size[0] * size[1] <= 1_200_000 else _pixels(seed, size)
    return Image.fromarray(pixels, "RGB")


@functools.lru_cache(maxsize=96)
def _cached_pixels(seed: int, size: tuple[int, int]) -> np.ndarray:
    pixels = _pixels(seed, size)
    pixels.flags.writeable = False  # shared by every image made from it
    return pixels


def _pixels(seed: int, size: tuple[int, int]) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w, h = size
    y, x = np.mgrid[0:h, 0:w] / max(w, h)
    channels = []
    for _ in range(3):
        fx, fy, phase = rng.uniform(1, 6), rng.uniform(1, 6), rng.uniform(0, 6.3)
        base = np.sin(2 * np.pi * (fx * x + phase)) * np.cos(2 * np.pi * fy * y)
        channels.append(base)
    img = np.stack(channels, axis=-1)
    for _ in range(12):
        cx, cy, r = rng.uniform(0, w / max(w, h)), rng.uniform(0, h / max(w, h)), rng.uniform(0.03, 0.2)
        mask = ((x - cx) ** 2 + (y - cy) ** 2) < r * r
        img[mask] = rng.uniform(-1, 1, size=3)
    img = (img - img.min()) / (img.max() - img.min()) * 235 + 10
    img += rng.normal(0, 3, img.shape)
    pixels: np.ndarray = np.clip(img, 0, 255).astype(np.uint8)
    return pixels


class MisbehavingLoader(StandardImageLoader):
    """The real loader, except that it hangs on files named ``*hang*`` and
    kills its own process on files named ``*crash*`` (as a segfaulting decoder
    would). Module-level so worker processes can unpickle it.
    """

    def load(self, path: str) -> LoadedImage:
        name = os.path.basename(path)
        if "hang" in name:
            time.sleep(3600)
        if "crash" in name:
            os._exit(139)
        return super().load(path)


NOBODY = 65534


def run_as_nobody(function: Callable[[], T]) -> T:
    """``function()`` in a forked child running as 'nobody'; its result (pickled) comes back.

    The interpreter lives under /root (mode 700), so exec'ing a new Python as
    nobody is impossible; a fork keeps the already-imported code and drops
    privileges for real, so the kernel, not a mock, refuses what nobody may not do.
    An exception in the child is raised again here.
    """
    import pickle

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            try:
                payload = (True, function())
            except BaseException as exc:  # noqa: BLE001 - carried back to the test
                payload = (False, exc)
            os.write(write_end, pickle.dumps(payload))
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    ok, value = pickle.loads(data)
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


needs_root_to_drop = pytest.mark.skipif(
    not hasattr(os, "fork") or os.geteuid() != 0, reason="needs root to become 'nobody'"
)
def shared_photo(index: int, size: int = 800) -> Image.Image:
    """A real photo from the shared corpus (RGB), scaled to ``size`` on its long side."""
    paths = sorted(require_shared("corpus/photos").glob("*.jpg"))
    image = Image.open(paths[index]).convert("RGB")
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    return image


# The edits phones, editors and social apps make (small versions of
# benchmarks/catalog_phone_edits.py), for tests of ``find --deep``.


def straightened(image: Image.Image, degrees: float) -> Image.Image:
    """Rotated by ``degrees`` and cropped to the largest upright rectangle of the same aspect."""
    import math

    w, h = image.size
    t = math.radians(abs(degrees))
    s = min(w / (w * math.cos(t) + h * math.sin(t)), h / (w * math.sin(t) + h * math.cos(t)))
    cw, ch = int(w * s), int(h * s)
    box = ((w - cw) // 2, (h - ch) // 2, (w - cw) // 2 + cw, (h - ch) // 2 + ch)
    return image.rotate(degrees, resample=Image.Resampling.BICUBIC).crop(box)


def screenshot_of(image: Image.Image, device: tuple[int, int] = (1080, 2340), width_fraction: float = 1.0) -> Image.Image:
    """The picture shown in a phone app: status bar, app bar with a title, buttons, a caption."""
    from PIL import ImageDraw, ImageFont

    w, h = device
    frame = Image.new("RGB", device, (18, 18, 18))
    draw = ImageDraw.Draw(frame)
    font = ImageFont.load_default(size=40)
    draw.text((40, 20), "9:41", fill=(230, 230, 230), font=font)
    draw.text((140, 130), "Gallery", fill=(230, 230, 230), font=font)
    pw = int(w * width_fraction)
    ph = int(image.height * pw / image.width)
    top = 260 + (h - 260 - 300 - ph) // 2
    frame.paste(image.resize((pw, ph), Image.Resampling.LANCZOS), ((w - pw) // 2, top))
    draw.text((60, top + ph + 30), "Best day ever!", fill=(230, 230, 230), font=font)
    for k in range(5):
        x = int((k + 0.4) * w / 5)
        draw.ellipse([x, h - 150, x + 60, h - 90], outline=(230, 230, 230), width=6)
    return frame


def light_screenshot_of(image: Image.Image, device: tuple[int, int] = (1080, 2400), width_fraction: float = 1.0,
                        gap: int = 0, background: tuple[int, int, int] = (250, 250, 250),
                        bar: tuple[int, int, int] = (25, 103, 210)) -> Image.Image:
    """The picture shown in a light phone app: a grey status band, a title bar (blue; or the background's
    colour, as iOS draws it), the photo ``gap`` pixels under it, two caption lines right under the photo,
    toolbar icons, on a white or light-grey background."""
    from PIL import ImageDraw, ImageFont

    w, h = device
    frame = Image.new("RGB", device, background)
    draw = ImageDraw.Draw(frame)
    font = ImageFont.load_default(size=36)
    draw.rectangle([0, 0, w, 90], fill=(236, 236, 236))
    draw.text((30, 25), "12:07  LTE", fill=(20, 20, 20), font=font)
    draw.rectangle([0, 90, w, 250], fill=bar)
    ink = (255, 255, 255) if sum(bar) < 384 else (0, 122, 255)
    draw.text((40, 145), "<   Photos", fill=ink, font=font)
    draw.text((w - 200, 145), "Edit", fill=ink, font=font)
    pw = int(w * width_fraction)
    ph = int(image.height * pw / image.width)
    top = 250 + gap
    frame.paste(image.resize((pw, ph), Image.Resampling.LANCZOS), ((w - pw) // 2, top))
    draw.text((40, top + ph + 24), "Shared with you - Yesterday", fill=(60, 60, 60), font=font)
    draw.text((40, top + ph + 76), "Liked by anna and 3 others", fill=(60, 60, 60), font=font)
    for k in range(4):
        x = int((k + 0.3) * w / 4)
        draw.rectangle([x, h - 140, x + 70, h - 70], outline=(20, 20, 20), width=5)
    return frame


def with_stickers(image: Image.Image) -> Image.Image:
    """Two opaque stickers (an emoji face, a star) and a caption band, as a story editor adds."""
    from PIL import ImageDraw, ImageFont

    out = image.copy()
    draw = ImageDraw.Draw(out)
    w, h = out.size
    s = int(min(w, h) * 0.2)
    draw.ellipse([w // 10, h // 8, w // 10 + s, h // 8 + s], fill=(255, 204, 0), outline=(120, 80, 0), width=4)
    draw.polygon([(w * 0.7, h * 0.7), (w * 0.8, h * 0.55), (w * 0.9, h * 0.7), (w * 0.8, h * 0.85)],
                 fill=(230, 30, 60))
    draw.rectangle([0, int(h * 0.45), w, int(h * 0.53)], fill=(0, 0, 0))
    draw.text((w // 4, int(h * 0.46)), "Weekend vibes", fill=(255, 255, 255), font=ImageFont.load_default(size=h // 16))
    return out


def cropped(image: Image.Image, left: float = 0.0, top: float = 0.0, right: float = 0.0, bottom: float = 0.0
            ) -> Image.Image:  # fmt: skip
    w, h = image.size
    return image.crop((round(w * left), round(h * top), w - round(w * right), h - round(h * bottom)))


def keystone_fixed(image: Image.Image, fraction: float = 0.08) -> Image.Image:
    """A vertical keystone correction: the top edge, narrowed by ``fraction`` per side, stretched to full width."""
    w, h = image.size
    k = fraction * w
    source = [(k, 0), (w - k, 0), (w, h), (0, h)]
    target = [(0, 0), (w, 0), (w, h), (0, h)]
    rows, rhs = [], []
    for (x, y), (u, v) in zip(target, source):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    coefficients = np.linalg.solve(np.array(rows, float), np.array(rhs, float))
    return image.transform((w, h), Image.Transform.PERSPECTIVE, tuple(coefficients), Image.Resampling.BICUBIC)


def shifted_views(image: Image.Image, shift: float = 0.5, width: float = 0.6) -> tuple[Image.Image, Image.Image]:
    """Two views of one scene, the second shifted right by ``shift`` of a view's width (a near-miss pair)."""
    w, h = image.size
    vw = int(w * width)
    dx = int(vw * shift)
    x0 = (w - vw - dx) // 2
    return image.crop((x0, 0, x0 + vw, h)), image.crop((x0 + dx, 0, x0 + dx + vw, h))


def save_phone_edits(original: Image.Image, folder: Path) -> None:
    """The four edits a phone gallery makes that thumbnails alone cannot decide, as JPEGs in ``folder``:
    stickers, straightened by 4 degrees, a keystone fix and a 25 % crop."""
    with_stickers(original).save(folder / "stickers.jpg", quality=85)
    straightened(original, 4.0).save(folder / "straightened.jpg", quality=85)
    keystone_fixed(original, 0.08).save(folder / "keystone.jpg", quality=88)
    cropped(original, 0.25, 0, 0, 0).save(folder / "cropped.jpg", quality=90)


# Files as cameras and phones write them (``loading.previews``): a JPEG with its EXIF IFD1 thumbnail,
# a HEIC with a thumbnail item.

def exif_thumbnail_of(image: Image.Image, letterbox: bool = False, box: tuple[int, int] = (160, 120)) -> bytes:
    """The JPEG thumbnail a camera embeds: ``image`` fitted in ``box``, or letterboxed to fill it with black bars."""
    thumb = image.convert("RGB")
    thumb.thumbnail(box, Image.Resampling.BILINEAR)
    if letterbox:
        canvas = Image.new("RGB", box, (0, 0, 0))
        canvas.paste(thumb, ((box[0] - thumb.width) // 2, (box[1] - thumb.height) // 2))
        thumb = canvas
    out = io.BytesIO()
    thumb.save(out, "JPEG", quality=85)
    return out.getvalue()


def camera_exif(size: tuple[int, int], thumbnail: bytes | None, orientation: int = 1) -> bytes:
    """An EXIF block with a camera's make and model, the picture's size, an orientation and an IFD1 thumbnail."""
    import piexif  # type: ignore[import-untyped]

    block: dict[str, Any] = {
        "0th": {piexif.ImageIFD.Make: b"Canon", piexif.ImageIFD.Model: b"Canon EOS 80D",
                piexif.ImageIFD.Orientation: orientation},
        "Exif": {piexif.ExifIFD.PixelXDimension: size[0], piexif.ExifIFD.PixelYDimension: size[1],
                 piexif.ExifIFD.DateTimeOriginal: b"2024:05:01 10:00:00"},
    }
    if thumbnail is not None:
        block["1st"] = {piexif.ImageIFD.Compression: 6}
        block["thumbnail"] = thumbnail
    return bytes(piexif.dump(block))


def camera_jpeg(path: Path, image: Image.Image, *, exif: bytes | None = None, quality: int = 92) -> Path:
    """``image`` saved as a camera JPEG with ``exif`` (default: its own faithful thumbnail and size)."""
    image = image.convert("RGB")
    block = exif if exif is not None else camera_exif(image.size, exif_thumbnail_of(image))
    image.save(path, "JPEG", quality=quality, exif=block)
    return path


def phone_heic(path: Path, image: Image.Image, *, thumbnail: int | None = 320) -> Path:
    """``image`` saved as an iPhone-style HEIC, with a thumbnail item of ``thumbnail`` px (None: without)."""
    import pillow_heif

    pillow_heif.from_pillow(image.convert("RGB")).save(path, quality=80, thumbnails=[thumbnail] if thumbnail else [])
    return path
