"""A chunk's pictures copied out of Pillow together (``hashing.stack``): the arrays one at a time gives."""

from __future__ import annotations

import numpy as np
from PIL import Image

from imgtwin.hashing.batched import grey_pixels, grey_pixels_many, lab_thumbs
from imgtwin.hashing.dct import DCTHasher
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
