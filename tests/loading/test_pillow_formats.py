"""Every format Pillow can open is recognised by content, then decoded or reported: never passed over."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from imgtwin.hashing.dct import DCTHasher
from imgtwin.loading.errors import LoadError
from imgtwin.loading.formats import FORMATS, SUPPORTED_FORMATS, Decision
from imgtwin.loading.pillow_loader import StandardImageLoader
from imgtwin.loading.signatures import HEADER_BYTES, IMAGE_EXTENSIONS, identify, sniff
from imgtwin.processing.task import process_file
from imgtwin.records import ErrorReason, FileStatus
from tests.format_files import CASES, FormatCase, saved, tga_without_footer
from tests.helpers import synthetic_photo

LOADER = StandardImageLoader(512)
HASHER = DCTHasher()
PICTURE = synthetic_photo(12, (160, 120))
# Pillow IDs whose files open through another of our entries.
ALIASES = {"CUR": "ICO", "MPO": "JPEG"}
# Registered by optional plug-ins when imported (tests/loading/test_formats.py covers them).
OPTIONAL = {"HEIF"}


def pillow_ids() -> set[str]:
    Image.init()
    return set(Image.OPEN) - OPTIONAL


def test_every_format_pillow_opens_has_a_decision() -> None:
    missing = {fmt for fmt in pillow_ids() if ALIASES.get(fmt, fmt) not in FORMATS}
    assert missing == set()


def test_every_format_pillow_opens_has_a_real_file_among_the_cases() -> None:
    covered = {case.pillow.upper() for case in CASES if case.pillow}  # Pillow upper-cases IDs on registration
    assert pillow_ids() - covered == set()


def test_every_extension_pillow_registers_for_a_picture_format_promises_an_image() -> None:
    Image.init()
    not_pictures = {name for name, policy in FORMATS.items() if policy.decision is Decision.NOT_A_PICTURE}
    save_only = set(Image.SAVE) - set(Image.OPEN) - set(ALIASES)  # PDF, PALM: Pillow cannot read them
    expected = {
        ext[1:] for ext, fmt in Image.registered_extensions().items()
        if fmt not in not_pictures and fmt not in save_only
    }
    assert expected - IMAGE_EXTENSIONS == set()


def write(tmp_path: Path, case: FormatCase) -> Path:
    path = tmp_path / case.name
    path.write_bytes(case.build(PICTURE))
    return path


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_the_file_is_real_and_recognised_as_pillow_names_it(tmp_path: Path, case: FormatCase) -> None:
    path = write(tmp_path, case)
    if case.pillow is None:
        with pytest.raises(Exception):  # noqa: B017 - Pillow has no reader: any failure to open
            Image.open(path).load()
    else:
        with Image.open(path) as image:
            assert image.format == case.pillow
    with open(path, "rb") as stream:
        assert identify(stream, stream.read(HEADER_BYTES), str(path)) == case.ours
    assert FORMATS[case.ours].decision.value == case.decision


@pytest.mark.parametrize("case", [c for c in CASES if c.decision == "decode"], ids=lambda case: case.name)
def test_decoded_formats_hash_like_the_picture(tmp_path: Path, case: FormatCase) -> None:
    path = write(tmp_path, case)
    saved_png = tmp_path / "reference.png"
    PICTURE.save(saved_png)
    loaded = LOADER.load(str(path))
    assert loaded.format == case.pillow
    distance = HASHER.hash(loaded.image).distance(HASHER.hash(LOADER.load(str(saved_png)).image))
    limit = 8 if case.name.endswith((".gif", ".pcd")) else 4  # palette dithering; Photo CD's resize and luma curve
    assert distance <= limit


@pytest.mark.parametrize("case", [c for c in CASES if c.decision != "decode"], ids=lambda case: case.name)
def test_other_formats_are_reported_with_their_name_and_reason(tmp_path: Path, case: FormatCase) -> None:
    path = write(tmp_path, case)
    with pytest.raises(LoadError) as info:
        LOADER.load(str(path))
    policy = FORMATS[case.ours]
    expected = ErrorReason.UNSUPPORTED_FORMAT if case.decision == "unsupported" else ErrorReason.NOT_AN_IMAGE
    assert info.value.reason is expected
    assert policy.what in info.value.message and policy.why in info.value.message


@pytest.mark.parametrize("case", [c for c in CASES if c.decision == "not a picture"], ids=lambda case: case.name)
def test_pillow_decodes_nothing_from_the_formats_called_not_pictures(tmp_path: Path, case: FormatCase) -> None:
    path = write(tmp_path, case)
    with Image.open(path) as image, pytest.raises(OSError):
        image.load()  # should a Pillow release decode them, this fails and the decision is revisited


def test_unsupported_files_are_errors_whatever_their_name_and_non_pictures_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "scan0001").write_bytes(saved(PICTURE, "SGI", "RGB"))  # a picture, no extension
    (tmp_path / "model.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(512))
    (tmp_path / "renamed.jpg").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(512))
    sgi = process_file(str(tmp_path / "scan0001"), LOADER, HASHER)
    assert sgi.status is FileStatus.ERROR and sgi.error is not None
    assert sgi.error.reason is ErrorReason.UNSUPPORTED_FORMAT
    assert process_file(str(tmp_path / "model.h5"), LOADER, HASHER).status is FileStatus.SKIPPED
    named = process_file(str(tmp_path / "renamed.jpg"), LOADER, HASHER)
    assert named.status is FileStatus.ERROR and named.error is not None
    assert named.error.reason is ErrorReason.NOT_AN_IMAGE and "HDF5" in named.error.message


def test_supported_formats_are_the_decode_entries() -> None:
    assert {"TGA", "DIB", "PCD", "JPEG", "PNG", "HEIF", "RAW"} <= SUPPORTED_FORMATS
    assert SUPPORTED_FORMATS.isdisjoint({"SUN", "XPM", "FITS", "HDF5", "MPEG"})


# --- TGA: no magic number, so the header is checked field by field -----------------


def test_tga_is_no_longer_taken_for_a_cursor() -> None:
    data = saved(PICTURE, "TGA", "RGB")
    assert data[:4] == b"\x00\x00\x02\x00"  # the cursor signature
    assert sniff(data) is None  # not a CUR: its "image count" is zero
    assert identify(io.BytesIO(data), data[:HEADER_BYTES], "shot.tga") == "TGA"


def test_tga_without_footer_needs_its_name() -> None:
    data = tga_without_footer(PICTURE)
    assert identify(io.BytesIO(data), data[:HEADER_BYTES], "shot.tga") == "TGA"
    assert identify(io.BytesIO(data), data[:HEADER_BYTES], "SHOT.TGA") == "TGA"
    assert identify(io.BytesIO(data), data[:HEADER_BYTES], "shot.bin") is None


@pytest.mark.parametrize(
    "head",
    [bytes(18), b"\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x28\x00\x18\x00",  # zero width
     b"\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x3c\x00\x28\x00\x11\x00",  # 17 bits per pixel
     b"\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x3c\x00\x28\x00\x08\x00",  # colour-mapped, no map
     b"\x00\x00\x0c\x00\x00\x00\x00\x00\x00\x00\x00\x00\x3c\x00\x28\x00\x18\x00",  # no such image type
     b"<html><body>404 Not Found</body></html>"],
)
def test_files_named_tga_that_are_not_tga_are_not_an_image(tmp_path: Path, head: bytes) -> None:
    path = tmp_path / "broken.tga"
    path.write_bytes(head + bytes(4096))
    with pytest.raises(LoadError) as info:
        LOADER.load(str(path))
    assert info.value.reason is ErrorReason.NOT_AN_IMAGE


def test_truncated_tga_is_truncated(tmp_path: Path) -> None:
    data = tga_without_footer(PICTURE)
    (tmp_path / "cut.tga").write_bytes(data[: len(data) // 2])
    with pytest.raises(LoadError) as info:
        LOADER.load(str(tmp_path / "cut.tga"))
    assert info.value.reason is ErrorReason.TRUNCATED


def test_an_ico_is_still_an_ico_and_a_bare_signature_is_not() -> None:
    ico = saved(PICTURE, "ICO", sizes=[(32, 32)])
    assert sniff(ico) == "ICO"
    assert sniff(b"\x00\x00\x01\x00" + bytes(60)) is None  # an empty directory


@pytest.mark.parametrize("orientation", ["bottom-up", "top-down"])
def test_tga_orientation_is_applied(tmp_path: Path, orientation: str) -> None:
    path = tmp_path / "o.tga"
    data = bytearray(saved(PICTURE, "TGA", "RGB"))
    if orientation == "top-down":  # Pillow writes bottom-up; flip the rows and set the top-left bit
        rows = PICTURE.convert("RGB").tobytes("raw", "BGR")
        data[17] |= 0x20
        data[18 : 18 + len(rows)] = rows
    path.write_bytes(bytes(data))
    PICTURE.save(tmp_path / "reference.png")
    distance = HASHER.hash(LOADER.load(str(path)).image).distance(
        HASHER.hash(LOADER.load(str(tmp_path / "reference.png")).image))
    assert distance <= 2
