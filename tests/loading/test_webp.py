"""A still RGB WebP is decoded by OpenCV (``loading.webp``): the loader's output must be what Pillow's decode gives."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from imgtwin.loading.errors import LoadError
from imgtwin.loading.pillow_loader import StandardImageLoader
from imgtwin.loading.webp import MIN_PIXELS_TO_LOAD_OPENCV, still_webp_pixels
from imgtwin.records import ErrorReason
from tests.helpers import synthetic_photo


def _same_load(a: str, b: str, loader: StandardImageLoader) -> None:
    first, second = loader.load(a), loader.load(b)
    assert (first.width, first.height, first.decode) == (second.width, second.height, second.decode)
    assert np.array_equal(np.asarray(first.image), np.asarray(second.image))
    assert first.colour is not None and second.colour is not None
    assert np.array_equal(np.asarray(first.colour), np.asarray(second.colour))


def test_a_large_still_webp_loads_as_the_pixels_pillow_decodes(tmp_path) -> None:
    """Lossy and lossless, turned by its EXIF orientation: the same grey pixels, colour copy and size as a PNG of
    the pixels Pillow decodes from it (that PNG loads through Pillow)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    for lossless in (False, True):
        webp, png = tmp_path / f"photo-{lossless}.webp", tmp_path / f"photo-{lossless}.png"
        synthetic_photo(7, (1800, 1200)).save(webp, quality=80, lossless=lossless, method=0, exif=exif)
        with Image.open(webp) as image, open(webp, "rb") as stream:
            assert image.size[0] * image.size[1] >= MIN_PIXELS_TO_LOAD_OPENCV
            assert still_webp_pixels(image, stream) is not None  # this test reaches OpenCV's decode
            image.load()
            image.save(png, exif=exif)
        loaded = StandardImageLoader(512).load(str(webp))
        assert loaded.height > loaded.width  # turned upright once, not by OpenCV too
        _same_load(str(webp), str(png), StandardImageLoader(512))


def test_webp_with_alpha_or_small_or_cut_stays_with_pillow(tmp_path) -> None:
    """An RGBA WebP (Pillow blends its transparent pixels on black), a small one (not worth loading OpenCV in a
    process without it) and a cut file are Pillow's: the last with Pillow's error."""
    rgba = synthetic_photo(3, (1800, 1200)).convert("RGBA")
    rgba.putalpha(128)
    rgba.save(tmp_path / "alpha.webp", quality=80, method=0)
    synthetic_photo(4, (300, 200)).save(tmp_path / "small.webp", quality=80)
    with Image.open(tmp_path / "alpha.webp") as image, open(tmp_path / "alpha.webp", "rb") as stream:
        assert image.mode == "RGBA" and still_webp_pixels(image, stream) is None
    assert StandardImageLoader(512).load(str(tmp_path / "alpha.webp")).width == 1800
    assert StandardImageLoader(512).load(str(tmp_path / "small.webp")).width == 300
    synthetic_photo(5, (1800, 1200)).save(tmp_path / "whole.webp", quality=80, method=0)
    whole = (tmp_path / "whole.webp").read_bytes()
    (tmp_path / "cut.webp").write_bytes(whole[: len(whole) * 2 // 3])
    with pytest.raises(LoadError) as cut:
        StandardImageLoader(512).load(str(tmp_path / "cut.webp"))
    assert cut.value.reason in (ErrorReason.DECODE_ERROR, ErrorReason.TRUNCATED)
