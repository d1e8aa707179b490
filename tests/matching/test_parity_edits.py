"""Copies a plain pHash at 10 bits finds, found by the default matcher too (issue 24), on small real images.

A soft photo (a small region of a photo enlarged: its hash and detail bits are noise) and its small
thumbnail; a noisy and a blurred copy of one photo, which match the photo but not each other.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

from imgtwin.hashing.features import MatchFeatures, compute_features
from imgtwin.matching.evidence import gather_evidence
from imgtwin.matching.grouping import Matches
from imgtwin.matching.keeper import FileInfo, _centrality
from imgtwin.matching.near import near_matches
from imgtwin.matching.table import FeatureTable
from tests.helpers import shared_photo

SOFT_BOX = (281, 721, 383, 823)  # a 102-pixel square of a storm's sky, enlarged 14 times: a soft photo


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    data = io.BytesIO()
    image.save(data, "JPEG", quality=quality)
    return Image.open(io.BytesIO(data.getvalue())).convert("RGB")


def _features(image: Image.Image) -> MatchFeatures:
    """What the scan computes: from the decode reduced to 512 px, and its 16 x 16 colour copy."""
    small = image.copy()
    small.thumbnail((512, 512))
    return compute_features(small.convert("L"), colour=small.resize((16, 16)))


def _soft(box: tuple[int, int, int, int]) -> Image.Image:
    region = shared_photo(24, 1600).crop(box)
    return _jpeg(region.resize((1415, 1415 * region.height // region.width), Image.Resampling.BICUBIC), 90)


def _pairs(images: list[Image.Image]) -> set[tuple[int, int]]:
    matches, _ = near_matches(FeatureTable.from_features([_features(x) for x in images]))
    return set(zip(matches.i.tolist(), matches.j.tolist()))


def test_a_small_thumbnail_of_a_soft_photo_is_found_and_the_scene_beside_it_is_not() -> None:
    original = _soft(SOFT_BOX)
    thumbnail = original.copy()
    thumbnail.thumbnail((160, 160))
    thumbnail = _jpeg(thumbnail, 73)
    left, top, right, bottom = SOFT_BOX
    beside = _soft((left + (right - left) // 2, top, right + (right - left) // 2, bottom))  # half a frame over
    features = [_features(x) for x in (original, thumbnail, beside)]
    assert features[0].low_detail and not features[0].featureless  # the rule under test: soft, not blank
    assert _pairs([original, thumbnail, beside]) == {(0, 1)}


def test_the_photo_two_copies_match_is_the_most_central_even_where_the_copies_hash_closer() -> None:
    """The keeper's group holds only its own matches: a copy central by hash that one member does not match
    would leave that member out (a noisy copy of a photo whose blurred copy was kept)."""
    photo = shared_photo(8, 512)
    blurred = photo.filter(ImageFilter.GaussianBlur(2.1))
    noise = np.random.default_rng(1).normal(0, 14, (photo.height, photo.width, 3))
    noisy = Image.fromarray(np.clip(np.asarray(photo, np.float32) + noise, 0, 255).astype(np.uint8))
    table = FeatureTable.from_features([_features(x) for x in (photo, blurred, noisy)])
    hashes = table.hashes
    summed = [sum(int(np.bitwise_count(hashes[a] ^ hashes[b])) for b in range(3) if b != a) for a in range(3)]
    assert summed[0] > min(summed[1:])  # by hash alone, a copy is the more central
    infos = [FileInfo(f"{k}.jpg", 1000, 0, 512, 341) for k in range(3)]
    matched = Matches(np.array([0, 0]), np.array([1, 2]), np.array([2, 2]), ("identity", "identity"))
    central = _centrality(3, gather_evidence(table, matched, [-1, -1, -1], infos, np.ones(3)))
    assert central[0] == 0 and central[1] > 0 and central[2] > 0
    # Where every file matches every other, the hash distances alone decide, as before.
    every = Matches(np.array([0, 0, 1]), np.array([1, 2, 2]), np.array([2, 2, 2]), ("identity",) * 3)
    central = _centrality(3, gather_evidence(table, every, [-1, -1, -1], infos, np.ones(3)))
    assert central[int(np.argmin(summed))] == 0 and central[0] > 0


def test_a_brightness_edit_of_a_soft_photo_is_found_a_page_in_another_shade_is_not() -> None:
    left, top, right, bottom = SOFT_BOX
    for gain in (0.8, 1.19):
        original = _soft(SOFT_BOX)
        brighter = _jpeg(ImageEnhance.Brightness(original).enhance(gain), 81)
        beside = _jpeg(ImageEnhance.Brightness(_soft((left + (right - left) // 2, top, right + (right - left) // 2,
                                                      bottom))).enhance(gain), 81)
        assert _pairs([original, brighter, beside]) == {(0, 1)}, gain
    # A page with a stamp, and the same in a lighter grey: no structure but the stamp, so the tones decide.
    page = Image.new("RGB", (600, 800), (150, 150, 150))
    ImageDraw.Draw(page).ellipse((250, 300, 330, 380), fill=(40, 40, 40))
    lighter = ImageEnhance.Brightness(page).enhance(1.19)
    assert _features(page).featureless
    assert _pairs([page, lighter]) == set()
