"""Every kind of file a photo collection holds is read: HEIC, AVIF, RAW, animations, pages, depths."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imgtwin.hashing.dct import DCTHasher
from imgtwin.loading.errors import LoadError
from imgtwin.loading.pillow_loader import StandardImageLoader
from imgtwin.loading.signatures import sniff
from imgtwin.records import ErrorReason
from tests.helpers import synthetic_photo
from tests.hostile_files import make_dng

pillow_heif = pytest.importorskip("pillow_heif")
pillow_heif.register_heif_opener()  # to encode HEIC test files

LOADER = StandardImageLoader(512)
HASHER = DCTHasher()


def hash_of(path: Path) -> int:
    return HASHER.hash(LOADER.load(str(path)).image).value


@pytest.mark.parametrize("seed", [1, 2])
def test_heic_and_avif_copies_hash_within_a_few_bits_of_the_jpeg(tmp_path: Path, seed: int) -> None:
    photo = synthetic_photo(seed, (320, 240))
    photo.save(tmp_path / "p.jpg", quality=90)
    photo.save(tmp_path / "p.heic", quality=80)
    photo.save(tmp_path / "p.avif", quality=80)
    jpeg = hash_of(tmp_path / "p.jpg")
    for name, fmt in (("p.heic", "HEIF"), ("p.avif", "AVIF")):
        assert LOADER.load(str(tmp_path / name)).format == fmt
        assert (hash_of(tmp_path / name) ^ jpeg).bit_count() <= 4, name


def test_heic_without_pillow_heif_names_the_extra(tmp_path: Path) -> None:
    synthetic_photo(1, (64, 48)).save(tmp_path / "p.heic")
    code = (
        "import sys; sys.modules['pillow_heif'] = None\n"  # makes `import pillow_heif` fail
        "from imgtwin.loading.pillow_loader import StandardImageLoader\n"
        "from imgtwin.loading.errors import LoadError\n"
        f"try: StandardImageLoader(512).load({str(tmp_path / 'p.heic')!r})\n"
        "except LoadError as e: print(e.reason.value, e.message)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False).stdout
    assert out.startswith("unsupported_format ") and "pip install 'imgtwin[heif]'" in out


def test_avif_with_generic_major_brand_is_avif() -> None:
    head = b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1avifmiaf" + bytes(8)
    assert sniff(head) == "AVIF"
    assert sniff(b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic") == "HEIF"
    assert sniff(b"\x00\x00\x00\x18ftypcrx \x00\x00\x00\x01crx isom") == "RAW"


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP"])
def test_animations_hash_their_first_frame(tmp_path: Path, fmt: str) -> None:
    frames = [synthetic_photo(seed, (160, 120)) for seed in (3, 4, 5)]
    path = tmp_path / f"anim.{fmt.lower()}"
    frames[0].save(path, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(path).n_frames == 3
    frames[0].save(tmp_path / "first.png")
    assert (hash_of(path) ^ hash_of(tmp_path / "first.png")).bit_count() <= 6


def test_multipage_tiff_hashes_its_first_page(tmp_path: Path) -> None:
    pages = [synthetic_photo(seed, (160, 120)) for seed in (6, 7)]
    pages[0].save(tmp_path / "doc.tiff", save_all=True, append_images=pages[1:])
    pages[0].save(tmp_path / "first.png")
    assert hash_of(tmp_path / "doc.tiff") == hash_of(tmp_path / "first.png")


def test_16bit_png_and_cmyk_jpeg_match_their_8bit_rgb_original(tmp_path: Path) -> None:
    photo = synthetic_photo(8, (200, 150))
    photo.save(tmp_path / "rgb.png")
    sixteen = np.asarray(photo.convert("L"), dtype=np.uint16) * 257
    Image.fromarray(sixteen).save(tmp_path / "gray16.png")
    photo.convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    reference = hash_of(tmp_path / "rgb.png")
    assert (hash_of(tmp_path / "gray16.png") ^ reference).bit_count() <= 2
    assert (hash_of(tmp_path / "cmyk.jpg") ^ reference).bit_count() <= 6


def test_embedded_icc_profile_is_read_not_applied(tmp_path: Path) -> None:
    from PIL import ImageCms

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    photo = synthetic_photo(9, (200, 150))
    photo.save(tmp_path / "plain.jpg", quality=90)
    photo.save(tmp_path / "icc.jpg", quality=90, icc_profile=srgb)
    assert hash_of(tmp_path / "icc.jpg") == hash_of(tmp_path / "plain.jpg")


@pytest.mark.parametrize("jpeg", [True, False])
def test_raw_files_hash_their_embedded_preview(tmp_path: Path, jpeg: bool) -> None:
    pytest.importorskip("rawpy")
    photo = synthetic_photo(10, (320, 240))
    photo.save(tmp_path / "export.png")
    (tmp_path / "IMG_1.dng").write_bytes(make_dng(photo, jpeg=jpeg))
    loaded = LOADER.load(str(tmp_path / "IMG_1.dng"))
    assert loaded.format == "RAW" and loaded.decode.startswith("raw-preview-")
    assert (hash_of(tmp_path / "IMG_1.dng") ^ hash_of(tmp_path / "export.png")).bit_count() <= 4


def test_raw_orientation_comes_from_the_raw_file(tmp_path: Path) -> None:
    pytest.importorskip("rawpy")
    photo = synthetic_photo(11, (320, 240))
    (tmp_path / "r.nef").write_bytes(make_dng(photo, orientation=6))  # TIFF inside, named like a Nikon RAW
    photo.transpose(Image.Transpose.ROTATE_270).save(tmp_path / "upright.png")
    loaded = LOADER.load(str(tmp_path / "r.nef"))
    assert (loaded.width, loaded.height) == (240, 320)
    assert (hash_of(tmp_path / "r.nef") ^ hash_of(tmp_path / "upright.png")).bit_count() <= 4


def test_raw_without_preview_is_unsupported_format(tmp_path: Path) -> None:
    pytest.importorskip("rawpy")
    (tmp_path / "bare.dng").write_bytes(make_dng(None))
    with pytest.raises(LoadError) as info:
        LOADER.load(str(tmp_path / "bare.dng"))
    assert info.value.reason is ErrorReason.UNSUPPORTED_FORMAT and "preview" in info.value.message


def test_a_pass_decodes_its_dearest_files_first_so_no_lone_heic_is_left_for_the_end() -> None:
    from imgtwin.loading.formats import SCALED_DECODE, decode_cost_key

    files = [("JPEG", 4_000_000), ("HEIF", 1_500_000), ("PNG", 900_000), ("JPEG", 2_000_000), ("HEIF", 2_500_000)]
    ordered = sorted(files, key=lambda f: decode_cost_key(*f))
    assert ordered == [("HEIF", 2_500_000), ("HEIF", 1_500_000), ("PNG", 900_000), ("JPEG", 4_000_000),
                       ("JPEG", 2_000_000)]
    assert "JPEG" in SCALED_DECODE and "HEIF" not in SCALED_DECODE
