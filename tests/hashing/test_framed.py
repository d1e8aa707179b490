"""The picture inside a framed file, hashed on the scan's own decode (``hashing.framed``, issue 24)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from imgtwin.hashing.dct import DCTHasher
from imgtwin.hashing.framed import FramedPicture, framed_pictures, maybe_framed, pictures_to_bytes, read_pictures
from imgtwin.hashing.picture import picture_box
from imgtwin.loading.pillow_loader import StandardImageLoader
from tests.helpers import light_screenshot_of, screenshot_of, shared_photo


def scan_pixels(image: Image.Image, quality: int = 88) -> np.ndarray:
    """The grey pixels the scan decodes from ``image`` saved as a JPEG (a reduced draft decode)."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    loaded = StandardImageLoader().load_stream(io.BytesIO(buffer.getvalue()), "x.jpg")
    return np.asarray(loaded.image.convert("L"))


@pytest.fixture(scope="module")
def photos() -> list[Image.Image]:
    return [shared_photo(k, 1000) for k in (1, 5, 7, 12, 20)]


def test_a_screenshot_holds_its_photo_and_the_record_hashes_it_as_the_index_hashes_the_photo(
        photos: list[Image.Image]) -> None:  # fmt: skip
    for photo in photos:
        for screen in (screenshot_of(photo, (1170, 2532)), light_screenshot_of(photo)):
            record = read_pictures(framed_pictures([scan_pixels(screen)])[0])[0]
            distance = (record.hash ^ DCTHasher().hash(photo.convert("L")).value).bit_count()
            assert distance <= 8, distance
            left, top, right, bottom = record.box
            assert right - left > 0.9 and 0.05 < top < bottom < 0.8, record.box  # the photo's rows, not the bars


def test_a_plain_photo_has_no_record(photos: list[Image.Image]) -> None:
    assert framed_pictures([scan_pixels(photo) for photo in photos]) == [b""] * len(photos)


def test_the_cheap_edge_test_passes_every_image_the_picture_box_frames(photos: list[Image.Image]) -> None:
    """``maybe_framed`` (four lines of a chunk at once) only spares ``picture_box`` work: it never hides a frame."""
    pixels = [scan_pixels(image) for photo in photos
              for image in (photo, screenshot_of(photo), light_screenshot_of(photo), photo.crop((0, 0, 1000, 300)))]
    framed = [picture_box(p) is not None for p in pixels]
    maybe = maybe_framed(pixels)
    assert all(maybe[k] for k, f in enumerate(framed) if f) and any(framed)
    assert not any(maybe[0::4]), maybe  # the plain photos


def test_a_record_reads_back_and_a_damaged_one_is_refused(photos: list[Image.Image]) -> None:
    data = framed_pictures([scan_pixels(screenshot_of(photos[0]))])[0]
    records = read_pictures(data)
    assert records and pictures_to_bytes(records) == data
    assert FramedPicture.from_bytes(records[0].to_bytes()) == records[0]
    assert FramedPicture.from_bytes(b"") is None and read_pictures(b"") == ()
    for damaged in (data[:-1], data[:6], data[:2]):
        with pytest.raises(ValueError):
            read_pictures(damaged)
