"""Local features (ORB keypoints) on real photos: what is stored, and how small it is."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from imgtwin.hashing.dct import DCTHasher
from imgtwin.hashing.local import (
    NOT_HASHED,
    LocalFeatureExtractor,
    LocalFeatures,
    LocalSpec,
    detection_image,
    extract_local,
)
from imgtwin.interfaces import LoadedImage
from tests.helpers import screenshot_of, shared_photo


def test_features_round_trip_and_fit_the_size_budget() -> None:
    features = extract_local(shared_photo(0, 1600))
    assert len(features) == LocalSpec().keypoints
    data = features.to_bytes()
    assert len(data) == 20 + 21 * len(features) <= 8 * 1024
    back = LocalFeatures.from_bytes(data)
    assert (back.width, back.height) == (features.width, features.height)
    assert np.array_equal(back.descriptors, features.descriptors)
    assert np.abs(back.points - features.points).max() <= 1 / 32  # stored in 1/16 px
    assert np.array_equal(back.shape, features.shape)
    assert set(np.unique(back.levels())) <= set(range(8)) and back.orientation_bins().max() < 32


def test_keypoints_cover_the_whole_picture_not_its_busiest_corner() -> None:
    features = extract_local(shared_photo(5, 1200))
    x = features.points[:, 0] / features.width
    y = features.points[:, 1] / features.height
    for qx in (x < 0.5, x >= 0.5):
        for qy in (y < 0.5, y >= 0.5):
            assert (qx & qy).sum() >= len(features) // 10


def test_detection_image_has_an_area_budget_so_a_tall_screenshot_keeps_its_picture_large() -> None:
    spec = LocalSpec()
    photo = detection_image(shared_photo(1, 2000), spec.side)
    tall = detection_image(screenshot_of(shared_photo(1, 1080)), spec.side)
    budget = spec.side * spec.side * 0.75
    assert 0.98 * budget <= photo.size <= 1.02 * budget
    assert 0.98 * budget <= tall.size <= 2.02 * budget
    assert tall.shape[1] >= 0.75 * spec.side - 1  # the screenshot's width, where the photo is shown
    small = detection_image(Image.new("L", (100, 80)), spec.side)
    assert small.shape == (80, 100)  # never enlarged


def test_a_flat_picture_has_no_keypoints_and_still_round_trips() -> None:
    features = extract_local(Image.new("RGB", (640, 480), (200, 180, 90)))
    assert len(features) == 0
    back = LocalFeatures.from_bytes(features.to_bytes())
    assert len(back) == 0 and back.descriptors.shape == (0, LocalSpec().descriptor_bytes)


def test_extractor_names_its_spec_and_computes_no_hash() -> None:
    image = shared_photo(2, 640)
    extractor = LocalFeatureExtractor()
    assert extractor.spec == LocalSpec().id == "local-v3-orb384x16-360px"
    grey = image.convert("L")
    extraction = extractor.extract(LoadedImage(grey, *image.size, "JPEG", "full"), DCTHasher())
    # The deep pass stores features only: its hash is a placeholder whose spec no scan's hash shares.
    assert extraction.hash == NOT_HASHED and extraction.hash.spec != DCTHasher().spec
    assert extractor.signals_spec is None
    assert extraction.features == extract_local(grey).to_bytes() and len(LocalFeatures.from_bytes(extraction.features)) > 100


def test_bad_bytes_and_bad_specs_are_refused() -> None:
    with pytest.raises(ValueError):
        LocalFeatures.from_bytes(b"not features")
    data = extract_local(shared_photo(0, 640)).to_bytes()
    with pytest.raises(ValueError):
        LocalFeatures.from_bytes(data[:-1])
    with pytest.raises(ValueError):
        LocalSpec(detector="surf")


def _greedy_spread(keypoints: list, shape: tuple[int, ...], count: int) -> list:
    """The definition ``_spread`` vectorises: strongest first, each 4 x 4 cell up to its cap, then the rest."""
    ordered = sorted(keypoints, key=lambda k: -k.response)
    if len(ordered) <= count:
        return ordered
    cap, used, chosen, rest = max(1, 2 * count // 16), np.zeros((4, 4), int), [], []
    for k in ordered:
        cx, cy = min(3, int(k.pt[0] * 4 / shape[1])), min(3, int(k.pt[1] * 4 / shape[0]))
        if used[cy, cx] < cap:
            used[cy, cx] += 1
            chosen.append(k)
            if len(chosen) == count:
                return chosen
        else:
            rest.append(k)
    return chosen + rest[: count - len(chosen)]


@pytest.mark.parametrize("count", [8, 96, 384, 5000])
def test_the_spread_keeps_the_greedy_choice_of_keypoints(count: int) -> None:
    import cv2

    from imgtwin.hashing.local import _spread

    pixels = detection_image(shared_photo(2, 800), 360)
    keypoints = list(cv2.ORB_create(nfeatures=2304, fastThreshold=3).detect(pixels, None))
    keypoints += keypoints[:50]  # equal responses: the stable order decides
    got, expected = _spread(keypoints, pixels.shape, count), _greedy_spread(keypoints, pixels.shape, count)
    assert [id(k) for k in got] == [id(k) for k in expected]


def test_the_positions_are_read_at_once_with_the_values_each_keypoint_gives() -> None:
    import cv2

    from imgtwin.hashing.local import _points

    pixels = detection_image(shared_photo(3, 800), 360)
    keypoints = cv2.ORB_create(nfeatures=2304, fastThreshold=3).detect(pixels, None)
    points = _points(keypoints)
    assert points.dtype == np.float32 and points.shape == (len(keypoints), 2)
    assert np.array_equal(points, np.array([k.pt for k in keypoints], dtype=np.float32))
    assert _points(list(keypoints)[:1]).shape == (1, 2)
