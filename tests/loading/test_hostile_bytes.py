"""Damaged bytes of real images: every outcome is a hash or a LoadError with a fitting reason."""

from __future__ import annotations

import functools
import io
import random
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imgtwin.hashing.dct import DCTHasher
from imgtwin.loading.errors import LoadError
from imgtwin.loading.pillow_loader import StandardImageLoader
from imgtwin.processing.task import process_file
from imgtwin.records import ErrorReason, FileStatus
from tests.helpers import synthetic_photo
from tests.hostile_files import png_with_header

LOADER = StandardImageLoader(512)
FORMATS = {"jpg": ("JPEG", {"quality": 85}), "png": ("PNG", {}), "webp": ("WEBP", {"quality": 80}),
           "heic": ("HEIF", {"quality": 60}), "avif": ("AVIF", {"quality": 60}), "gif": ("GIF", {}),
           "tif": ("TIFF", {"compression": "tiff_lzw"})}


@functools.cache
def original(ext: str) -> bytes:
    """A small real image in ``ext``'s format (made once per session)."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    fmt, options = FORMATS[ext]
    buffer = io.BytesIO()
    synthetic_photo(21, (96, 72)).save(buffer, fmt, **options)
    return buffer.getvalue()


def outcome(path: Path) -> ErrorReason | None:
    """None when hashed, else the reason; anything but LoadError fails the test."""
    try:
        LOADER.load(str(path))
    except LoadError as exc:
        assert exc.message, "every error carries a message"
        return exc.reason
    return None


@pytest.mark.parametrize("ext", ["jpg", "png", "webp", "heic"])
def test_truncation_at_many_offsets_is_reported_as_truncated_or_corrupt(tmp_path: Path, ext: str) -> None:
    data = original(ext)
    reasons: Counter[ErrorReason | None] = Counter()
    for cut in sorted({*range(0, 80, 7), *range(80, len(data) - 16, max(1, len(data) // 40))}):
        path = tmp_path / f"cut{cut}.{ext}"
        path.write_bytes(data[:cut])
        reason = outcome(path)
        reasons[reason] += 1
        if cut == 0:
            assert reason is ErrorReason.NOT_AN_IMAGE
        elif cut >= 64:  # past any signature: the decoder saw a damaged image
            assert reason in (ErrorReason.TRUNCATED, ErrorReason.DECODE_ERROR), (cut, reason)
    assert reasons[ErrorReason.TRUNCATED] >= 10, reasons  # most cuts are named for what they are


@pytest.mark.parametrize("ext", sorted(FORMATS))
def test_random_byte_flips_never_escape_as_other_exceptions(tmp_path: Path, ext: str) -> None:
    data = original(ext)
    rng = random.Random(ext)
    for i in range(25):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 12)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        path = tmp_path / f"flip{i}.{ext}"
        path.write_bytes(bytes(damaged))
        outcome(path)


def test_empty_and_non_image_files_named_like_images_are_errors(tmp_path: Path) -> None:
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "page.png").write_text("<!DOCTYPE html><p>404</p>")
    (tmp_path / "archive.heic").write_bytes(b"PK\x03\x04" + bytes(100))
    (tmp_path / "notes.txt").write_text("just text")
    hasher = DCTHasher()
    for name in ("empty.jpg", "page.png", "archive.heic"):
        result = process_file(str(tmp_path / name), LOADER, hasher)
        assert result.status is FileStatus.ERROR and result.error.reason is ErrorReason.NOT_AN_IMAGE, name
    assert process_file(str(tmp_path / "notes.txt"), LOADER, hasher).status is FileStatus.SKIPPED


def test_bomb_sized_header_is_refused_before_allocating(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(png_with_header(100_000, 100_000, b"x" * 64))
    started = time.perf_counter()
    with pytest.raises(LoadError) as info:
        LOADER.load(str(path))
    assert info.value.reason is ErrorReason.TOO_LARGE and "10000000000 pixels" in info.value.message
    assert time.perf_counter() - started < 1.0  # refused from the header, nothing decoded


_MUTATION = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(0, 255)),
    st.tuples(st.just("cut"), st.integers(0, 10**6), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.integers(0, 255)),
    st.tuples(st.just("zero"), st.integers(0, 10**6), st.integers(1, 64)),
)


def mutate(data: bytes, mutations: list[tuple[str, int, int]]) -> bytes:
    out = bytearray(data)
    for kind, where, value in mutations:
        if not out:
            break
        at = where % len(out)
        if kind == "flip":
            out[at] = value
        elif kind == "cut":
            del out[at:]
        elif kind == "insert":
            out[at:at] = bytes([value]) * 4
        else:
            out[at : at + value] = bytes(min(value, len(out) - at))
    return bytes(out)


@pytest.mark.timeout(120)  # a decoder hang would stop here, not run forever
@settings(max_examples=250, deadline=2000, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(ext=st.sampled_from(sorted(FORMATS)), mutations=st.lists(_MUTATION, min_size=1, max_size=6))
def test_mutated_images_only_ever_raise_load_error(ext: str, mutations: list[tuple[str, int, int]]) -> None:
    """Property: whatever the damage, the loader returns pixels or raises LoadError, within 2 s."""
    data = mutate(original(ext), mutations)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"mutant.{ext}"
        path.write_bytes(data)
        outcome(path)
