from __future__ import annotations

import io

import pytest

from imgtwin.loading.signatures import has_image_extension, sniff
from tests.helpers import synthetic_photo


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [("JPEG", "JPEG"), ("PNG", "PNG"), ("GIF", "GIF"), ("WEBP", "WEBP"), ("BMP", "BMP"), ("TIFF", "TIFF"),
     ("PPM", "PPM"), ("ICO", "ICO"), ("JPEG2000", "JPEG2000"), ("AVIF", "AVIF")],
)
def test_real_files_are_recognised_by_content(fmt: str, expected: str) -> None:
    buffer = io.BytesIO()
    synthetic_photo(0, (64, 48)).save(buffer, fmt)
    assert sniff(buffer.getvalue()[:32]) == expected


@pytest.mark.parametrize(
    "head",
    [b"", b"# README\n\nSome text", b'{"json": true}', b"<!DOCTYPE html>", b"PK\x03\x04zipdata",
     b"BMW is a car brand, not a bitmap", b"P1 is not a netpbm header"],
)
def test_non_images_are_not_recognised(head: bytes) -> None:
    assert sniff(head) is None


def test_heif_and_fuzzer_prone_formats_are_recognised_for_reporting() -> None:
    assert sniff(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00") == "HEIF"
    assert sniff(b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00") is None  # a video, not an image
    assert sniff(b"DDS \x7c\x00\x00\x00") == "DDS"
    assert sniff(b"BLP2\x01\x00") == "BLP"
    assert sniff(b"%!PS-Adobe-3.0 EPSF") == "EPS"


def test_extensions_are_case_insensitive() -> None:
    assert has_image_extension("IMG_0001.JPG")
    assert has_image_extension("/x/y/photo.HeIc")
    assert not has_image_extension("notes.txt")
    assert not has_image_extension("jpg")
    assert not has_image_extension("archive.jpg.zip")


@pytest.mark.parametrize(
    "head",
    [b"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\nFrom: a@example.org\r\n\r\nHello\r\n",  # e-mail, not LabEye IM
     b"Name: Jane\nImage type: none here\n",  # IM keys, but no end of header (0x1A)
     b"/* a C file */\n#include <stdio.h>\n#define WIDTH 3\nint main(void) { return 0; }\n",  # not XBM
     b"/* x */ " * 400 + b"int x;",  # many comments: skipped in linear time, not XBM
     b"SIMPLE is better than complex.\n",  # not FITS
     b"width 10\nheight 10\n",  # IM Tools keys without pixel type and form feed
     b"\x1c\x04\x1e\xf1\x12\x00\x00\x00" + bytes(64),  # libmagic's compiled database, not IPTC
     b"(\x00\x00\x00" + bytes(60)],  # a DIB header size, then nothing valid
)
def test_text_and_data_files_are_not_taken_for_headerless_formats(head: bytes) -> None:
    assert sniff(head) is None


def test_headerless_dib_is_recognised_by_its_info_header() -> None:
    buffer = io.BytesIO()
    synthetic_photo(0, (64, 48)).save(buffer, "DIB")
    assert sniff(buffer.getvalue()) == "DIB"
    assert has_image_extension("clip.dib") and has_image_extension("old.ras") and has_image_extension("x.vst")
