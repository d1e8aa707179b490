"""Deep matching on real photos: scalable candidates, verified fits, who is the source."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from imgtwin.hashing.features import compute_features
from imgtwin.hashing.local import LocalFeatures, extract_local
from imgtwin.matching.deep import DeepParams, LocalTable, candidate_pairs, deep_matches
from imgtwin.matching.near import FeatureTable
from tests.helpers import cropped, screenshot_of, shared_photo, shifted_views, straightened, with_stickers


def encoded(image: Image.Image) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=88)
    return Image.open(io.BytesIO(buffer.getvalue()))


@pytest.fixture(scope="module")
def collection() -> tuple[list[str], list[Image.Image]]:
    """Two originals with their edited copies, a shifted view of a third scene, unrelated photos."""
    names, images = [], []

    def add(name: str, image: Image.Image) -> None:
        names.append(name)
        images.append(encoded(image))

    first, second = shared_photo(1, 1200), shared_photo(12, 1200)
    add("first", first)
    add("first straightened", straightened(first, 4.0))
    add("first cropped", cropped(first, 0.2, 0.1, 0, 0))
    add("first stickers", with_stickers(first))
    add("second", second)
    add("second screenshot", screenshot_of(second, (1170, 2532)))
    left, right = shifted_views(shared_photo(13, 1600), 0.5)
    add("scene left", left)
    add("scene right", right)
    for k in (20, 21, 22, 23, 24, 25):
        add(f"other {k}", shared_photo(k, 1000))
    return names, images


@pytest.mark.slow
def test_candidates_come_from_descriptor_collisions_not_all_pairs(collection) -> None:
    names, images = collection
    table = LocalTable.build([extract_local(im) for im in images])
    i, j, votes = candidate_pairs(table)
    found = {(names[a], names[b]) for a, b in zip(i.tolist(), j.tolist())}
    for copy in ("first straightened", "first cropped", "first stickers"):
        assert ("first", copy) in found
    assert ("second", "second screenshot") in found
    assert len(i) <= DeepParams().per_image * len(images)  # bounded per image, not all pairs
    assert (votes >= DeepParams().min_votes).all()


@pytest.mark.slow
def test_per_image_limit_keeps_each_images_best_pairs(collection) -> None:
    _, images = collection
    table = LocalTable.build([extract_local(im) for im in images])
    i, j, _ = candidate_pairs(table, DeepParams(per_image=1, min_votes=1))
    assert len(i) <= len(images)
    everything = candidate_pairs(table, DeepParams(per_image=0, min_votes=1))
    assert set(zip(i.tolist(), j.tolist())) <= set(zip(everything[0].tolist(), everything[1].tolist()))
    assert set(i.tolist()) | set(j.tolist()) == set(everything[0].tolist()) | set(everything[1].tolist())


def test_deep_matches_group_the_copies_and_know_which_is_the_source(collection) -> None:
    names, images = collection
    local = [extract_local(im) for im in images]
    thumbs = FeatureTable.from_features([compute_features(im.convert("L").reduce(2)) for im in images]).full_thumbs
    found = deep_matches(local, thumbs)
    pairs = {frozenset((names[a], names[b])): k for k, (a, b) in enumerate(zip(found.i.tolist(), found.j.tolist()))}
    expected = [("first", "first straightened"), ("first", "first cropped"), ("first", "first stickers"),
                ("second", "second screenshot")]
    for pair in expected:
        assert frozenset(pair) in pairs, pair
    assert frozenset(("scene left", "scene right")) not in pairs
    assert not any(name.startswith("other") for pair in pairs for name in pair)
    derived = {(names[s], names[d]) for s, d in found.derived}
    assert ("first", "first cropped") in derived
    assert ("first", "first straightened") in derived
    assert ("second", "second screenshot") in derived  # the screenshot frames the photo: the photo is the source
    assert not any(d == "first" or d == "second" for _, d in derived)
    k = pairs[frozenset(("first", "first cropped"))]
    words = found.transform[k] if names[int(found.i[k])] == "first" else found.inverse[k]
    assert words is not None and words.startswith("crop")


def test_images_without_keypoints_are_left_out() -> None:
    flat = extract_local(Image.new("RGB", (300, 200), (40, 90, 200)))
    photo = extract_local(shared_photo(1, 800))
    found = deep_matches([flat, None, photo, photo])
    assert [(int(a), int(b)) for a, b in zip(found.i, found.j)] == [(2, 3)]
    empty = deep_matches([None, flat])
    assert len(empty) == 0
    assert isinstance(LocalTable.build([None]).descriptors, np.ndarray)
    assert isinstance(flat, LocalFeatures)
