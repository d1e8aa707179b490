from __future__ import annotations

import io

import imagehash
import numpy as np
import pytest
from PIL import Image

from imgtwin.hashing.dct import DCTHasher, dct_matrix
from imgtwin.loading.pillow_loader import StandardImageLoader
from tests.helpers import require_shared, synthetic_photo


@pytest.fixture(scope="module")
def hasher() -> DCTHasher:
    return DCTHasher(8)


def reencode(image: Image.Image, fmt: str = "JPEG", **kwargs: object) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def test_spec_records_algorithm_and_parameters(hasher: DCTHasher) -> None:
    assert hasher.spec.id == "dct-64-32px-lanczos-v2"
    assert DCTHasher(16).spec.bits == 256
    assert DCTHasher(16).spec != hasher.spec


def test_dct_matrix_is_the_dct_ii_basis() -> None:
    c = dct_matrix(8)
    x = np.random.default_rng(0).normal(size=8)
    expected = [sum(x[n] * np.cos(np.pi * (2 * n + 1) * k / 16) for n in range(8)) for k in range(8)]
    assert np.allclose(c @ x, expected)


def test_identical_pixels_give_identical_hash(hasher: DCTHasher) -> None:
    a = synthetic_photo(1)
    assert hasher.hash(a) == hasher.hash(a.copy())
    assert len(hasher.hash(a).hex) == 16


def test_same_bits_as_imagehash_phash_on_the_same_pixels(hasher: DCTHasher) -> None:
    for seed in range(5):
        image = synthetic_photo(seed)
        ours = hasher.hash(image).hex
        theirs = str(imagehash.phash(image, hash_size=8, highfreq_factor=4))
        assert ours == theirs


def test_coefficients_tied_with_the_median_give_the_same_bits_everywhere(hasher: DCTHasher) -> None:
    # A solid colour: every AC coefficient is 0 in exact arithmetic, so all 63 tie with the median.
    # Floating-point noise of another CPU, BLAS or DCT algorithm must not decide those bits.
    assert hasher.hash(Image.new("L", (50, 40), 0)).hex == "0000000000000000"  # black: the DC is 0 too
    for value in (17, 128, 255):
        assert hasher.hash(Image.new("L", (50, 40), value)).hex == "8000000000000000"
    block = hasher.low_frequencies(hasher.prepare(Image.new("L", (32, 32), 99)))
    noise = np.random.default_rng(3).normal(0, 1e-9, block.shape)
    assert hasher.hash_block(block + noise) == hasher.hash_block(block - noise) == hasher.hash_block(block)
    # A plain left-right gradient: half its coefficients are exact zeros too.
    ramp = Image.fromarray(np.tile(np.linspace(0, 255, 64).astype(np.uint8), (48, 1)))
    gradient = hasher.low_frequencies(hasher.prepare(ramp))
    assert hasher.hash_block(gradient + noise) == hasher.hash_block(gradient - noise)


def test_resized_and_recompressed_copies_are_close(hasher: DCTHasher) -> None:
    original = synthetic_photo(7, (1200, 900))
    base = hasher.hash(original)
    assert base.distance(hasher.hash(original.resize((400, 300), Image.Resampling.BICUBIC))) <= 4
    assert base.distance(hasher.hash(reencode(original, quality=40))) <= 4
    assert base.distance(hasher.hash(reencode(original, "WEBP", quality=60))) <= 4


def test_unrelated_pictures_are_far_apart(hasher: DCTHasher) -> None:
    hashes = [hasher.hash(synthetic_photo(seed)) for seed in range(12)]
    distances = [a.distance(b) for i, a in enumerate(hashes) for b in hashes[i + 1 :]]
    assert min(distances) >= 14
    assert 24 <= float(np.mean(distances)) <= 40


def test_real_photos_unrelated_far_and_resized_close(hasher: DCTHasher) -> None:
    photos = sorted(require_shared("corpus/photos").glob("*.jpg"))[:10]
    images = [Image.open(p).convert("RGB") for p in photos]
    hashes = [hasher.hash(im) for im in images]
    for i, a in enumerate(hashes):
        for b in hashes[i + 1 :]:
            assert a.distance(b) > 10
    for image, h in zip(images, hashes):
        half = image.resize((image.width // 2, image.height // 2), Image.Resampling.LANCZOS)
        assert h.distance(hasher.hash(reencode(half, quality=75))) <= 4


def test_exif_rotated_copy_hashes_like_the_upright_one(tmp_path, hasher: DCTHasher) -> None:
    upright = synthetic_photo(3, (800, 500))
    upright.save(tmp_path / "upright.jpg", quality=92)
    # Orientation=6: a viewer turns the stored pixels 90 degrees clockwise, so
    # store them turned 90 degrees counter-clockwise.
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    stored.save(tmp_path / "rotated.jpg", quality=92, exif=exif)
    loader = StandardImageLoader()
    a = loader.load(str(tmp_path / "upright.jpg"))
    b = loader.load(str(tmp_path / "rotated.jpg"))
    assert (b.width, b.height) == (800, 500)
    assert hasher.hash(a.image).distance(hasher.hash(b.image)) <= 2


def test_mismatched_specs_refuse_to_compare(hasher: DCTHasher) -> None:
    image = synthetic_photo(0)
    with pytest.raises(ValueError):
        hasher.hash(image).distance(DCTHasher(16).hash(image))


def test_high_bit_depth_float_input_is_hashed(hasher: DCTHasher) -> None:
    gray = np.asarray(synthetic_photo(2).convert("L"), dtype=np.float32)
    as_float = Image.fromarray(gray, mode="F")
    assert hasher.hash(as_float).distance(hasher.hash(synthetic_photo(2).convert("L"))) <= 2
