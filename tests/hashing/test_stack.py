"""A chunk's pictures copied out of Pillow together (``hashing.stack``): the arrays one at a time gives."""

from __future__ import annotations

import numpy as np
from PIL import Image

from imgtwin.hashing.batched import grey_pixels, grey_pixels_many, lab_thumbs
from imgtwin.hashing.dct import DCTHasher
from imgtwin.hashing.features import COLOUR_THUMB, LINEAR_LEVELS, linear_to_lab, srgb_to_lab
from imgtwin.hashing.stack import arrays
from tests.helpers import synthetic_photo


def _pictures() -> list[Image.Image]:
    """Pictures of several sizes and modes, two of each size and mode at least (pasted together)."""
    found: list[Image.Image] = []
    for seed, size in enumerate([(96, 72), (96, 72), (72, 96), (96, 72), (33, 17), (33, 17)]):
        photo = synthetic_photo(seed, size)
        found += [photo, photo.convert("L")]
    grey = synthetic_photo(9, (40, 30)).convert("L")
    found += [grey.convert("F"), grey.convert("1"), grey.convert("P"), grey.convert("F"), Image.new("L", (1, 1), 7)]
    return found


def test_arrays_are_each_pictures_own_array_whatever_its_size_and_mode() -> None:
    pictures = _pictures()
    got = arrays(pictures)
    assert len(got) == len(pictures)
    for picture, pixels in zip(pictures, got, strict=True):
        expected = np.asarray(picture)
        assert pixels.dtype == expected.dtype and pixels.shape == expected.shape
        assert np.array_equal(pixels, expected)
        assert not pixels.flags.writeable  # read-only, as np.asarray of a picture is


def test_grey_pixels_many_is_grey_pixels_of_each() -> None:
    pictures = [p for p in _pictures() if p.mode in ("L", "F")]
    for picture, pixels in zip(pictures, grey_pixels_many(pictures), strict=True):
        assert np.array_equal(pixels, grey_pixels(picture))


def test_prepare_many_is_prepare_of_each_bit_for_bit() -> None:
    hasher = DCTHasher()
    for chunk in (_pictures(), [p for p in _pictures() if p.mode == "L"]):  # with and without float pictures
        many = hasher.prepare_many(chunk)
        assert many.dtype == np.float64
        assert np.array_equal(many, np.stack([hasher.prepare(p) for p in chunk]))


def test_colour_thumbnails_of_a_chunk_are_those_of_each_picture_alone() -> None:
    colours: list[Image.Image | None] = [synthetic_photo(k, (48, 36)) for k in range(5)]
    colours.insert(2, None)
    together = lab_thumbs(colours)
    assert together[2] is None
    assert together == [lab_thumbs([colour])[0] for colour in colours]


def test_the_table_of_linear_levels_gives_the_colour_conversion_s_numbers_bit_for_bit() -> None:
    rng = np.random.default_rng(5)
    levels = np.tile(np.arange(256, dtype=np.uint8), 3)
    cases = [levels[offset:] for offset in range(17)]  # every level in every lane of a vectorised loop
    cases += [rng.integers(0, 256, (n, COLOUR_THUMB, COLOUR_THUMB, 3), dtype=np.uint8) for n in (1, 3, 64)]
    for values in cases:
        formula = srgb_to_lab(values.astype(np.float32) / 255.0) if values.ndim == 4 else None
        linear = values.astype(np.float32) / 255.0
        expected = np.where(linear <= 0.04045, linear / 12.92, ((linear + 0.055) / 1.055) ** 2.4)
        assert np.array_equal(LINEAR_LEVELS[values].view(np.uint32), expected.view(np.uint32))
        if formula is not None:
            assert np.array_equal(linear_to_lab(LINEAR_LEVELS[values]).view(np.uint32), formula.view(np.uint32))
