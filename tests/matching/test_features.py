from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps

from imgtwin.hashing.dct import DCTHasher
from imgtwin.hashing.features import DIHEDRAL_NAMES, compute_features, dihedral_hashes, trim_box

_OPS = {
    "identity": None,
    "mirror_h": Image.Transpose.FLIP_LEFT_RIGHT,
    "mirror_v": Image.Transpose.FLIP_TOP_BOTTOM,
    "rotate180": Image.Transpose.ROTATE_180,
    "transpose": Image.Transpose.TRANSPOSE,
    "rotate270": Image.Transpose.ROTATE_270,
    "rotate90": Image.Transpose.ROTATE_90,
    "transverse": Image.Transpose.TRANSVERSE,
}


def test_dihedral_hashes_equal_hashes_of_transformed_pixels(make_scene):
    thumb = np.asarray(make_scene(1).resize((32, 32), Image.Resampling.LANCZOS))
    derived = dihedral_hashes(thumb[None])[0]
    hasher = DCTHasher()
    for k, name in enumerate(DIHEDRAL_NAMES):
        op = _OPS[name]
        moved = Image.fromarray(thumb) if op is None else Image.fromarray(thumb).transpose(op)
        assert int(derived[k]) == hasher.hash(moved).value, name


def test_full_hash_is_the_scan_hash(make_scene):
    image = make_scene(2)
    assert compute_features(image).hash == DCTHasher().hash(image).value


def test_trim_removes_padding_to_square(make_scene):
    image = make_scene(3)
    padded = ImageOps.pad(image, (320, 320), color=255)
    left, top, right, bottom = trim_box(np.asarray(padded))
    assert (left, right) == (0, 320)
    assert 40 <= top <= 48 and 272 <= bottom <= 280  # the border plus a small safety shave
    plain, framed = compute_features(image), compute_features(padded)
    assert framed.trimmed and not plain.trimmed
    assert (plain.trim_hash ^ framed.trim_hash).bit_count() <= 4
    assert (plain.hash ^ framed.hash).bit_count() > 8  # why the trimmed hash exists


def test_features_are_compact(make_scene):
    features = compute_features(make_scene(4))
    assert len(features.thumb) == 1024
    assert features.thumb_array().shape == (32, 32)


def test_serialisation_round_trip(make_scene):
    from imgtwin.hashing.features import FEATURES_SPEC, MatchFeatures

    plain = compute_features(make_scene(5))
    framed = compute_features(ImageOps.pad(make_scene(5), (320, 320), color=0))
    assert not plain.trimmed and plain.full_thumb is None
    assert framed.trimmed and framed.full_thumb is not None and framed.full_thumb != framed.thumb
    coloured = compute_features(make_scene(5), colour=Image.merge("RGB", [make_scene(5)] * 3).convert("HSV"))
    assert coloured.colour is not None and len(coloured.colour) == 512
    for features, size in ((plain, 1055), (framed, 2079), (coloured, 1567)):
        data = features.to_bytes()
        assert isinstance(data, bytes) and len(data) == size
        assert MatchFeatures.from_bytes(data) == features
        assert MatchFeatures.from_bytes(memoryview(data)) == features
    assert FEATURES_SPEC.startswith("features-v3-")
    for bad in (b"", b"XYZ" + plain.to_bytes()[3:], plain.to_bytes()[:-1], plain.to_bytes()[:3] + b"\x09" + plain.to_bytes()[4:]):
        try:
            MatchFeatures.from_bytes(bad)
        except ValueError:
            continue
        raise AssertionError(f"accepted {bad[:8]!r}")


def test_untrimmed_thumbnail_kept(make_scene):
    image = make_scene(6)
    framed = compute_features(ImageOps.expand(image, border=24, fill=255))
    full = framed.full_thumb_array()
    assert full.shape == (32, 32) and full[0].min() >= 250  # the frame is in the untrimmed thumbnail
    assert framed.thumb_array()[0].max() < 250  # and cut from the trimmed one


def _banded(edge_values: tuple[int, int], outliers: int) -> np.ndarray:
    """100 x 100: a first row of median 100.5, nine rows of ``edge_values`` with ``outliers`` black pixels, then noise."""
    pixels = np.random.default_rng(5).integers(0, 256, (100, 100), dtype=np.uint8)
    pixels[0] = [100, 101] * 50
    pixels[1:10] = [edge_values[0], edge_values[1]] * 50
    pixels[1:10, :outliers] = 0
    return pixels


def test_border_rows_tolerance_and_fraction_are_exact():
    # Within 2 grey levels of a half-integer median (99 and 102 of 100.5) in 99 % of a row: a border.
    assert trim_box(_banded((99, 102), outliers=1))[1] == 10 + 2  # 10 rows, then the 1.5 % shave
    assert trim_box(_banded((98, 102), outliers=1))[1] == 0  # 98 is 2.5 levels away
    assert trim_box(_banded((99, 103), outliers=1))[1] == 0
    assert trim_box(_banded((99, 102), outliers=2))[1] == 0  # 98 % of the row


def test_a_frame_around_nothing_is_blank_inside_a_padded_photo_is_not(make_scene):
    from PIL import ImageDraw

    from imgtwin.matching.near import FeatureTable

    sheet = Image.new("L", (600, 848), 214)
    ImageDraw.Draw(sheet).rectangle((150, 200, 570, 820), outline=30, width=4)  # off centre: trimmed to its inside
    padded = ImageOps.pad(make_scene(3), (320, 320), color=255)
    features = [compute_features(sheet), compute_features(padded), compute_features(make_scene(4))]
    assert features[0].trimmed and features[1].trimmed and not features[0].low_detail  # structure: the frame
    table = FeatureTable.from_features(features)
    assert table.low_detail.tolist() == [True, False, False]  # judged on its untrimmed pixels, like a blank page
    assert table.featureless.tolist() == [True, False, False]
