"""``--deep`` keeps screenshots of different photos taken in one app apart (issue 24): the status bar, the
app bar, the buttons and the caption match between them and fit the identity, but no inlier lies on the
photos; each screenshot still matches its own photo, and a photo shown in two apps still matches both."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imgtwin.hashing.features import compute_features
from imgtwin.hashing.local import extract_local
from imgtwin.matching.content import picture_box
from imgtwin.matching.deep import deep_matches
from imgtwin.matching.near import FeatureTable
from imgtwin.options import MatchOptions
from imgtwin.runs.find import find_duplicates
from tests.helpers import screenshot_of, shared_photo, with_stickers

PHOTOS = (1, 5, 12, 20)
PHONE = (1170, 2532)


def encoded(image: Image.Image) -> Image.Image:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=88)
    return Image.open(io.BytesIO(buffer.getvalue()))


def thumbs_of(images: list[Image.Image]) -> np.ndarray:
    table = FeatureTable.from_features([compute_features(im.convert("L").reduce(2)) for im in images])
    assert table.full_thumbs is not None
    return table.full_thumbs


@pytest.fixture(scope="module")
def library() -> dict[str, Image.Image]:
    """Per photo: the photo and its screenshot in one app; photo 1 also stickered, and in a second app."""
    out: dict[str, Image.Image] = {}
    for k in PHOTOS:
        photo = shared_photo(k, 1000)
        out[f"photo {k}"] = photo
        out[f"screen {k}"] = screenshot_of(photo, PHONE)
    first = out[f"photo {PHOTOS[0]}"]
    out["screen 1 stickers"] = screenshot_of(with_stickers(first), PHONE)
    out["screen 1 other app"] = screenshot_of(first, (1080, 2340), width_fraction=0.8)
    return {name: encoded(image) for name, image in out.items()}


def photo_of(name: str) -> str:
    return name.split()[1]


def test_screenshots_of_different_photos_in_one_app_stay_apart_and_each_matches_its_photo(library) -> None:
    names = list(library)
    images = [library[n] for n in names]
    found = deep_matches([extract_local(im) for im in images], thumbs_of(images))
    pairs = {frozenset((names[a], names[b])): t for a, b, t in zip(found.i.tolist(), found.j.tolist(), found.transform)}
    wrong = [tuple(p) for p in pairs if len({photo_of(n) for n in p}) > 1]
    assert wrong == [], wrong
    for k in PHOTOS:
        assert frozenset((f"photo {k}", f"screen {k}")) in pairs, k
    assert frozenset(("screen 1", "screen 1 stickers")) in pairs
    assert frozenset(("photo 1", "screen 1 other app")) in pairs
    assert frozenset(("screen 1", "screen 1 other app")) in pairs


def test_picture_box_is_the_photo_box_of_a_screenshot_and_none_of_a_plain_photo(library) -> None:
    screen, photo = thumbs_of([library["screen 1"], library["photo 1"]])
    assert picture_box(photo) is None
    box = picture_box(screen)
    assert box is not None
    left, top, right, bottom = box
    # the photo's box: 1000 x 750 shown 1170 wide from y = 807 to 1684 of 2532 (rows 10.2 to 21.3 of 32)
    assert left == 0 and right == 32 and 9 <= top <= 11 and 21 <= bottom <= 23, box


def test_a_soft_photos_commonest_grey_is_no_frame_and_a_light_apps_background_is() -> None:
    y, x = np.mgrid[0:32, 0:32]
    soft = (100 + (x + y) * 15 / 62).astype(np.uint8)  # a soft diagonal gradient: a third of it in one band
    assert picture_box(soft) is None
    rng = np.random.default_rng(5)
    light = np.full((32, 32), 246, np.uint8)  # a light app: white bars, a title, the picture in rows 9-20
    light[2, 3:9] = 120
    light[9:21, 2:30] = rng.integers(40, 220, (12, 28))
    assert picture_box(light) == (2, 9, 30, 21)


@pytest.mark.slow
def test_find_deep_keeps_screenshots_of_different_photos_apart(library, tmp_path: Path) -> None:
    root = tmp_path / "library"
    root.mkdir()
    for name in ("screen 1", "screen 5", "screen 12", "photo 1", "screen 1 other app"):
        library[name].save(root / f"{name}.jpg", quality=90)
    result = find_duplicates([str(root)], db_path=str(tmp_path / "i.db"), match=MatchOptions(deep=True))
    groups = [{os.path.basename(m.path) for m in g.members} for g in result.groups]
    assert groups == [{"screen 1.jpg", "photo 1.jpg", "screen 1 other app.jpg"}], groups
