from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from imgtwin.loading.errors import LoadError
from imgtwin.loading.pillow_loader import StandardImageLoader
from imgtwin.records import ErrorReason
from tests.helpers import synthetic_photo


@pytest.fixture
def loader() -> StandardImageLoader:
    return StandardImageLoader(512)


@pytest.mark.slow
def test_large_jpeg_uses_the_smallest_sufficient_dct_scale(tmp_path, loader) -> None:
    path = tmp_path / "big.jpg"
    synthetic_photo(1, (4000, 3000)).save(path, quality=90)
    loaded = loader.load(str(path))
    assert (loaded.width, loaded.height) == (4000, 3000)
    assert loaded.decode == "jpeg-draft-1/8"
    assert loaded.image.size == (500, 375)
    assert loaded.image.mode == "L"
    assert loaded.format == "JPEG"
    # Asking for more pixels picks a milder scale, and max_dimension caps the result.
    bigger = StandardImageLoader(512, decode_size=600).load(str(path))
    assert bigger.decode == "jpeg-draft-1/4"  # 3000/8 = 375 < 600 <= 3000/4
    assert bigger.image.size == (500, 375)  # 1000 x 750, box-reduced by 2 to fit 512


@pytest.mark.slow
def test_draft_decoded_hash_matches_full_decode_closely(tmp_path) -> None:
    from imgtwin.hashing.dct import DCTHasher

    hasher = DCTHasher()
    distances = []
    for seed in range(6):
        path = tmp_path / f"{seed}.jpg"
        synthetic_photo(seed, (2400, 1600)).save(path, quality=90)
        draft = StandardImageLoader(512).load(str(path))
        full = StandardImageLoader(4096, decode_size=4096).load(str(path))
        assert draft.decode == "jpeg-draft-1/8" and full.decode == "jpeg-draft-1/1"
        distances.append(hasher.hash(draft.image).distance(hasher.hash(full.image)))
    assert max(distances) <= 4


@pytest.mark.parametrize("subsampling", [0, 2])  # 4:4:4 and 4:2:0
def test_a_loader_without_colour_decodes_the_same_grey_pixels_from_the_luma_alone(tmp_path, subsampling: int) -> None:
    """Without a colour copy a JPEG is drafted in grey (libjpeg skips the chroma): the pixels must be exactly
    the luma the colour loader decodes, at a reduced scale and at full scale, turned upright the same way."""
    path = tmp_path / "photo.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # turned 90 degrees: both must apply it after the decode
    synthetic_photo(4, (1200, 900)).save(path, quality=88, subsampling=subsampling, exif=exif)
    for decode_size in (200, 900):
        grey = StandardImageLoader(720, decode_size=decode_size, colour=False).load(str(path))
        both = StandardImageLoader(720, decode_size=decode_size).load(str(path))
        assert grey.decode == both.decode == ("jpeg-draft-1/4" if decode_size == 200 else "jpeg-draft-1/1")
        assert grey.colour is None and both.colour is not None
        assert grey.image.mode == both.image.mode == "L" and grey.image.size == both.image.size
        assert grey.image.height > grey.image.width  # turned upright
        assert np.array_equal(np.asarray(grey.image), np.asarray(both.image))


def test_small_png_is_decoded_fully_and_not_enlarged(tmp_path, loader) -> None:
    path = tmp_path / "small.png"
    synthetic_photo(1, (300, 200)).save(path)
    loaded = loader.load(str(path))
    assert loaded.decode == "full"
    assert loaded.image.size == (300, 200)


@pytest.mark.parametrize("mode", ["1", "L", "P", "RGB", "RGBA", "CMYK", "LA", "I;16", "I", "F"])
def test_every_pillow_mode_loads_as_grayscale(tmp_path, loader, mode: str) -> None:
    base = synthetic_photo(2, (120, 80))
    if mode in ("I;16", "I"):
        pixels = np.asarray(base.convert("L"), dtype=np.uint16) * 257
        image = Image.fromarray(pixels if mode == "I;16" else pixels.astype(np.int32))
    elif mode == "F":
        image = Image.fromarray(np.asarray(base.convert("L"), dtype=np.float32) / 255.0)
    elif mode == "P":
        image = base.convert("P", palette=Image.Palette.ADAPTIVE)
    else:
        image = base.convert(mode)
    path = tmp_path / ("x.tif" if mode in ("I;16", "I", "F", "CMYK", "LA") else "x.png")
    assert image.mode == mode
    image.save(path)
    loaded = loader.load(str(path))
    assert loaded.image.mode in ("L", "F")
    assert loaded.image.size == (120, 80)
    reference = np.asarray(base.convert("L"), dtype=np.float64)
    got = np.asarray(loaded.image, dtype=np.float64)
    if mode in ("L", "I;16", "I"):  # nominal range kept: the same gray levels
        assert np.abs(got - reference).mean() < 1.0
    elif mode != "1":  # float data is stretched to 0..255, other modes are converted
        assert np.corrcoef(got.ravel(), reference.ravel())[0, 1] > 0.97


def test_transparency_is_flattened_over_white(tmp_path, loader) -> None:
    path = tmp_path / "clear.png"
    Image.new("RGBA", (50, 40), (0, 0, 0, 0)).save(path)
    assert np.asarray(loader.load(str(path)).image).min() == 255


def test_animation_uses_first_frame(tmp_path, loader) -> None:
    frames = [Image.new("L", (60, 40), value).convert("P") for value in (10, 200, 120)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50)
    assert abs(int(np.asarray(loader.load(str(path)).image).mean()) - 10) <= 2


@pytest.mark.parametrize(("orientation", "displayed"), [(1, (200, 100)), (3, (200, 100)), (6, (100, 200)), (8, (100, 200))])
def test_exif_orientation_gives_displayed_size(tmp_path, loader, orientation: int, displayed) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "o.jpg"
    synthetic_photo(3, (200, 100)).save(path, exif=exif)
    loaded = loader.load(str(path))
    assert (loaded.width, loaded.height) == displayed
    assert loaded.image.size == displayed


def error_of(loader: StandardImageLoader, path) -> LoadError:
    with pytest.raises(LoadError) as info:
        loader.load(str(path))
    return info.value


def test_errors_carry_reasons(tmp_path, loader) -> None:
    (tmp_path / "empty.jpg").write_bytes(b"")
    assert error_of(loader, tmp_path / "empty.jpg").reason is ErrorReason.NOT_AN_IMAGE
    (tmp_path / "page.jpg").write_text("<html>404</html>")
    assert error_of(loader, tmp_path / "page.jpg").reason is ErrorReason.NOT_AN_IMAGE
    synthetic_photo(1).save(tmp_path / "whole.jpg")
    data = (tmp_path / "whole.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    assert error_of(loader, tmp_path / "cut.jpg").reason is ErrorReason.TRUNCATED
    assert error_of(loader, tmp_path / "missing.jpg").reason is ErrorReason.VANISHED
    (tmp_path / "x.dds").write_bytes(b"DDS " + bytes(200))
    assert error_of(loader, tmp_path / "x.dds").reason is ErrorReason.UNSUPPORTED_FORMAT


def test_pixel_limit_refuses_before_decoding(tmp_path) -> None:
    path = tmp_path / "wide.png"
    Image.new("L", (3000, 2000)).save(path)
    error = error_of(StandardImageLoader(512, max_pixels=5_000_000), path)
    assert error.reason is ErrorReason.TOO_LARGE
    assert "6 MP" in error.message


def test_content_wins_over_extension(tmp_path, loader) -> None:
    path = tmp_path / "photo.dat"
    synthetic_photo(4).save(path, "PNG")
    assert loader.load(str(path)).format == "PNG"


def test_a_jpeg_the_decoder_rejects_is_a_plain_decode_error(tmp_path, loader) -> None:
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0" + bytes(100))  # JPEG signature, no JPEG inside
    error = error_of(loader, path)
    assert error.reason is ErrorReason.DECODE_ERROR
    assert "KeyError" not in error.message and "JPEG" in error.message


@pytest.mark.slow
@pytest.mark.parametrize(("fmt", "size"), [("JPEG", (1001, 753)), ("PNG", (1537, 1025))])
def test_reductions_that_do_not_divide_the_size_keep_the_pictures_geometry(tmp_path, loader, fmt, size) -> None:
    """libjpeg's 1/8 decode of 1001 x 753 px gives 126 x 95 px whose last column and row cover only
    1/8 of a pixel of the picture; counted whole, they stretched it and moved the hash by up to 4 bits."""
    from imgtwin.hashing.dct import DCTHasher

    hasher = DCTHasher()
    distances = []
    for seed in range(12):
        path = tmp_path / f"{seed}.{fmt.lower()}"
        synthetic_photo(seed, size).save(path, fmt, **({"quality": 90} if fmt == "JPEG" else {"compress_level": 0}))
        with Image.open(path) as full:
            reference = hasher.hash(full.convert("L"))  # the whole picture, no reduction
        loaded = loader.load(str(path))
        assert (loaded.width, loaded.height) == size
        distances.append(hasher.hash(loaded.image).distance(reference))
    if fmt == "JPEG":
        assert loaded.decode == "jpeg-draft-1/8" and loaded.image.size == (125, 94)  # 125.125 x 94.125, rounded
    else:
        assert loaded.image.size == (384, 256)  # reduced by 4: 384.25 x 256.25
    assert max(distances) <= 2 and sum(distances) <= 6


def test_exif_facts_are_read_and_a_file_without_exif_keeps_its_header_facts(tmp_path) -> None:
    # A file with no EXIF (a web tile) skips the record's copy; one with EXIF still gets every fact of it.
    from imgtwin.loading.facts import read_facts, with_exif

    exif = Image.Exif()
    exif[0x010F], exif[0x0131] = "Camera Maker", "Editor 2.0"  # Make, Software
    exif.get_ifd(0x8769)[0x9003] = "2024:05:01 10:00:00"  # DateTimeOriginal
    exif.get_ifd(0x8825)[2] = (52.0, 30.0, 0.0)  # GPS latitude
    synthetic_photo(4, (96, 72)).save(tmp_path / "camera.jpg", exif=exif, quality=85)
    synthetic_photo(4, (96, 72)).save(tmp_path / "plain.jpg", quality=85)
    loader = StandardImageLoader()
    camera, plain = loader.load(str(tmp_path / "camera.jpg")).facts, loader.load(str(tmp_path / "plain.jpg")).facts
    assert camera is not None and plain is not None
    assert (camera.camera, camera.taken, camera.software, camera.gps) == (True, True, "Editor 2.0", True)
    assert (plain.camera, plain.taken, plain.software, plain.gps) == (False, False, None, False)
    assert (camera.jpeg_quality, camera.subsampling) == (plain.jpeg_quality, plain.subsampling) != (None, None)
    with Image.open(tmp_path / "plain.jpg") as image:
        facts = read_facts(image)
        image.load()
        assert with_exif(facts, image) is facts


def test_the_local_features_decode_keeps_no_colour_copy_and_the_same_grey(tmp_path) -> None:
    """The deep pass reads grey pixels only: its loader makes no colour copy (a fifth of its decode)."""
    from imgtwin.hashing.local import LocalSpec
    from imgtwin.runs.deep import deep_loader

    path = tmp_path / "photo.jpg"
    synthetic_photo(1, (1600, 1200)).save(path, quality=90)
    png = tmp_path / "photo.png"
    synthetic_photo(2, (500, 400)).save(png)
    deep = deep_loader(LocalSpec())
    coloured = StandardImageLoader(deep.max_dimension, decode_size=deep.decode_size)
    for file in (path, png):
        mine, theirs = deep.load(str(file)), coloured.load(str(file))
        assert mine.colour is None and theirs.colour is not None
        assert np.array_equal(np.asarray(mine.image), np.asarray(theirs.image))
        assert mine.decode == theirs.decode
