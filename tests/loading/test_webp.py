"""A still WebP decoded by OpenCV's libwebp (``loading.webp``): the pixels Pillow's animation decoder gives."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imgtwin.loading import webp
from imgtwin.loading.pillow_loader import StandardImageLoader
from imgtwin.loading.webp import loaded_pixels
from imgtwin.matching.resolution import STRIP, top_rows
from imgtwin.runs.deep import LOCAL_SPEC, deep_loader
from tests.helpers import camera_exif, synthetic_photo


def _webp(image: Image.Image, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, "WEBP", **options)
    return out.getvalue()


def _with_alpha(image: Image.Image) -> Image.Image:
    rgba = image.convert("RGBA")
    alpha = np.full(image.size[::-1], 255, np.uint8)
    alpha[: image.size[1] // 3] = 0  # a transparent band: its colour values must come out as Pillow's
    alpha[image.size[1] // 3 : image.size[1] // 2] = 90
    rgba.putalpha(Image.fromarray(alpha))
    return rgba


STILLS = {
    "lossy RGB": lambda: _webp(synthetic_photo(40, (401, 299)), quality=80),
    "lossless RGB": lambda: _webp(synthetic_photo(41, (320, 240)), lossless=True),
    "lossy RGBA": lambda: _webp(_with_alpha(synthetic_photo(42, (300, 200))), quality=70),
    "lossless RGBA": lambda: _webp(_with_alpha(synthetic_photo(43, (300, 200))), lossless=True, exact=True),
    "EXIF turned": lambda: _webp(synthetic_photo(44, (320, 200)), quality=85, exif=camera_exif((320, 200), None, 6)),
}


@pytest.mark.parametrize("kind", list(STILLS))
def test_a_still_webp_is_decoded_by_opencv_into_pillows_pixels(kind: str) -> None:
    data = STILLS[kind]()
    reference = Image.open(io.BytesIO(data))
    reference.load()
    opened = Image.open(io.BytesIO(data))
    pixels = loaded_pixels(opened, data)
    assert pixels is not opened  # OpenCV's decode, not Pillow's load()
    assert pixels.mode == reference.mode and pixels.size == reference.size
    assert np.array_equal(np.asarray(pixels), np.asarray(reference))


def test_an_animation_and_other_formats_are_pillows() -> None:
    frames = [synthetic_photo(45 + k, (160, 120)) for k in range(2)]
    out = io.BytesIO()
    frames[0].save(out, "WEBP", save_all=True, append_images=frames[1:], duration=100)
    for data in (out.getvalue(), _png(frames[0])):
        opened = Image.open(io.BytesIO(data))
        assert loaded_pixels(opened, data) is opened


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize("kind", list(STILLS))
def test_every_whole_decode_of_a_webp_is_the_same_with_and_without_opencv(kind: str, tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "IMG_3000.webp"
    path.write_bytes(STILLS[kind]())

    def decodes() -> list[object]:
        out: list[object] = []
        for loader in (StandardImageLoader(), deep_loader(LOCAL_SPEC)):  # the scan's and the local features'
            loaded = loader.load(str(path))
            out += [loaded.image.tobytes(), loaded.image.size, loaded.colour and loaded.colour.tobytes(),
                    loaded.width, loaded.height, loaded.facts]
        rows, height = top_rows(str(path), STRIP, 2)  # the upscale checks'
        return [*out, rows.tobytes(), height]

    with_opencv = decodes()
    monkeypatch.setattr(webp, "_decode", lambda data, alpha: None)
    assert decodes() == with_opencv
