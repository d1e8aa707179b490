"""Previews first (``loading.previews``, ``loading.preview_loader``): each source, and each way a preview lies."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from imgtwin.hashing.dct import DCTHasher
from imgtwin.loading.pillow_loader import StandardImageLoader
from imgtwin.loading.preview_loader import PreviewFirstLoader
from imgtwin.loading.previews import fit_to
from tests.helpers import camera_exif, camera_jpeg, exif_thumbnail_of, phone_heic, synthetic_photo

LOADER = PreviewFirstLoader(StandardImageLoader())
HASHER = DCTHasher(8)


def _distance(a: Image.Image, b: Image.Image) -> int:
    return HASHER.hash(a).distance(HASHER.hash(b))


def _main(path: Path) -> Image.Image:
    return StandardImageLoader().load(str(path)).image


def test_a_camera_jpeg_is_answered_by_its_exif_thumbnail_reading_only_its_head(tmp_path: Path) -> None:
    path = camera_jpeg(tmp_path / "IMG_0001.JPG", synthetic_photo(1, (1200, 900)))
    loaded = LOADER.load(str(path))
    assert loaded.decode == "preview-exif-160x120"
    assert loaded.loader == LOADER.preview_id
    assert (loaded.width, loaded.height, loaded.format) == (1200, 900, "JPEG")
    assert loaded.facts is not None and loaded.facts.camera and loaded.facts.jpeg_quality is not None
    assert loaded.bytes_read is not None and loaded.bytes_read <= 64 * 1024 < os.path.getsize(path)
    assert _distance(loaded.image, _main(path)) <= 4


def test_a_file_without_a_preview_is_decoded_as_before(tmp_path: Path) -> None:
    path = tmp_path / "plain.jpg"
    synthetic_photo(2, (800, 600)).save(path, quality=90)
    loaded = LOADER.load(str(path))
    assert loaded.decode.startswith("jpeg-draft")
    assert loaded.loader is None and loaded.bytes_read is None
    png = tmp_path / "shot.png"
    synthetic_photo(2, (300, 200)).save(png)
    assert LOADER.load(str(png)).decode == "full"


def test_a_preview_stale_after_a_crop_is_not_used(tmp_path: Path) -> None:
    original = synthetic_photo(3, (1200, 900))
    block = camera_exif(original.size, exif_thumbnail_of(original))
    # The editor cropped the picture and kept the EXIF block whole: size recorded 1200 x 900, thumbnail stale.
    cropped = original.crop((0, 0, 1000, 900))
    stale = camera_jpeg(tmp_path / "cropped.jpg", cropped, exif=block)
    assert LOADER.load(str(stale)).decode.startswith("jpeg-draft")
    # An editor that wrote the new size but kept the old thumbnail: the thumbnail's aspect gives it away.
    updated = camera_exif(cropped.size, exif_thumbnail_of(original))
    path = camera_jpeg(tmp_path / "cropped-updated.jpg", cropped, exif=updated)
    assert LOADER.load(str(path)).decode.startswith("jpeg-draft")


def test_a_letterboxed_thumbnail_is_cut_to_the_picture(tmp_path: Path) -> None:
    picture = synthetic_photo(4, (1500, 1000))  # 3:2 in a 4:3 thumbnail: bars above and below
    path = camera_jpeg(tmp_path / "DSC_0001.JPG", picture,
                       exif=camera_exif(picture.size, exif_thumbnail_of(picture, letterbox=True)))
    loaded = LOADER.load(str(path))
    assert loaded.decode == "preview-exif-160x107"
    assert _distance(loaded.image, _main(path)) <= 6


def test_a_thumbnail_that_is_picture_not_bars_is_refused() -> None:
    # A 4:3 thumbnail whose top and bottom are picture cannot be the letterboxed preview of a 3:2 photo.
    thumb = synthetic_photo(5, (160, 120))
    assert fit_to(thumb, 1500, 1000) is None
    assert fit_to(thumb, 1600, 1200) is thumb
    assert fit_to(thumb, 100, 75) is None  # larger than the picture: not its preview


@pytest.mark.parametrize("orientation", [6, 8, 3])
def test_a_sideways_photo_s_thumbnail_is_turned_with_it(tmp_path: Path, orientation: int) -> None:
    upright = synthetic_photo(6, (900, 1200))
    turn = {6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270, 3: Image.Transpose.ROTATE_180}[orientation]
    stored = upright.transpose(turn)  # the sensor's way; the tag says how to show it
    path = camera_jpeg(tmp_path / "IMG_0002.JPG", stored,
                       exif=camera_exif(stored.size, exif_thumbnail_of(stored), orientation=orientation))
    loaded = LOADER.load(str(path))
    assert loaded.decode.startswith("preview-exif-")
    assert (loaded.width, loaded.height) == (900, 1200)
    assert _distance(loaded.image, _main(path)) <= 4
    assert _distance(loaded.image, upright.convert("L")) <= 4


def test_a_corrupt_thumbnail_leaves_the_file_to_its_main_image(tmp_path: Path) -> None:
    picture = synthetic_photo(7, (1200, 900))
    thumb = exif_thumbnail_of(picture)
    broken = thumb[: thumb.index(b"\xff\xda") + 60]  # the header whole, the picture's data cut short
    path = camera_jpeg(tmp_path / "broken-thumb.jpg", picture, exif=camera_exif(picture.size, broken))
    loaded = LOADER.load(str(path))
    assert loaded.decode.startswith("jpeg-draft")
    assert _distance(loaded.image, picture.convert("L")) <= 4


def test_a_foreign_preview_of_the_same_size_is_taken_for_the_scan_only(tmp_path: Path) -> None:
    """A tool copied another photo's EXIF block whole: nothing in the header tells; the preview is used by the scan,
    and ``find`` decodes the main image before deciding anything (tests/runs/test_main_images.py)."""
    mine, other = synthetic_photo(8, (1200, 900)), synthetic_photo(9, (1200, 900))
    path = camera_jpeg(tmp_path / "foreign.jpg", mine, exif=camera_exif(other.size, exif_thumbnail_of(other)))
    loaded = LOADER.load(str(path))
    assert loaded.decode.startswith("preview-exif")
    assert _distance(loaded.image, other.convert("L")) <= 4 < _distance(loaded.image, mine.convert("L"))


def test_a_heic_is_answered_by_its_thumbnail_item(tmp_path: Path) -> None:
    pytest.importorskip("pillow_heif")
    picture = synthetic_photo(10, (640, 480))
    path = phone_heic(tmp_path / "IMG_0003.HEIC", picture)
    loaded = LOADER.load(str(path))
    assert loaded.decode == "preview-heif-320x240"
    assert (loaded.width, loaded.height, loaded.format) == (640, 480, "HEIF")
    assert _distance(loaded.image, _main(path)) <= 4


def test_a_heic_without_a_thumbnail_is_decoded(tmp_path: Path) -> None:
    pytest.importorskip("pillow_heif")
    path = phone_heic(tmp_path / "IMG_0004.HEIC", synthetic_photo(11, (640, 480)), thumbnail=None)
    loaded = LOADER.load(str(path))
    assert loaded.decode == "full" and loaded.loader is None


def test_the_loader_ids_keep_old_rows_valid() -> None:
    main = StandardImageLoader()
    assert LOADER.decode_id == main.decode_id  # rows made before previews are this loader's main rows
    assert LOADER.reuses == {main.decode_id, LOADER.preview_id}
    assert LOADER.preview_id != main.decode_id


def test_the_head_tells_files_without_a_thumbnail_at_a_glance(tmp_path: Path) -> None:
    from imgtwin.loading.previews import may_have_exif_thumbnail

    picture = synthetic_photo(12, (400, 300))
    with_thumb = camera_jpeg(tmp_path / "a.jpg", picture).read_bytes()
    without = camera_jpeg(tmp_path / "b.jpg", picture, exif=camera_exif(picture.size, None)).read_bytes()
    plain = tmp_path / "c.jpg"
    picture.save(plain, quality=90)
    assert may_have_exif_thumbnail(with_thumb[:4096])
    assert not may_have_exif_thumbnail(without[:4096])
    assert not may_have_exif_thumbnail(plain.read_bytes()[:4096])
    assert may_have_exif_thumbnail(with_thumb[:30])  # too little to tell: look properly
    assert LOADER.load(str(tmp_path / "b.jpg")).decode.startswith("jpeg-draft")


def test_a_heic_thumbnail_rounded_to_even_sizes_is_taken(tmp_path: Path) -> None:
    pytest.importorskip("pillow_heif")
    path = phone_heic(tmp_path / "IMG_0005.HEIC", synthetic_photo(13, (672, 448)), thumbnail=320)  # 3:2
    loaded = LOADER.load(str(path))
    assert loaded.decode == "preview-heif-320x212"  # 213.3 rounded down to even by the encoder
    assert _distance(loaded.image, _main(path)) <= 4


def test_a_jpeg_cut_short_is_reported_though_its_header_and_preview_are_whole(tmp_path: Path) -> None:
    from imgtwin.loading.errors import LoadError
    from imgtwin.records import ErrorReason

    whole = camera_jpeg(tmp_path / "whole.jpg", synthetic_photo(14, (800, 600))).read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    with pytest.raises(LoadError) as caught:
        LOADER.load(str(cut))
    assert caught.value.reason is ErrorReason.TRUNCATED
    padded = tmp_path / "padded.jpg"
    padded.write_bytes(whole + b"\x00" * 40)  # zero padding after the end marker: still whole
    assert LOADER.load(str(padded)).decode.startswith("preview-exif")
