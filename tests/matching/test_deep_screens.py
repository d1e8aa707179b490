"""``--deep`` keeps screenshots of different photos taken in one app apart (issue 24): the status bar, the
app bar, the buttons and the caption match between them and fit the identity, but no inlier lies on the
photos; each screenshot still matches its own photo, and a photo shown in two apps still matches both.
In a light app the caption lies right under the photo, the title bar right above it, and a bright sky
touches the white background: the picture is found on the deep pass's detection image."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imgtwin.hashing.features import compute_features
from imgtwin.hashing.local import LocalFeatures, detection_image, extract_local
from imgtwin.hashing.picture import picture_box
from imgtwin.matching.deep import deep_matches
from imgtwin.matching.near import FeatureTable
from imgtwin.options import MatchOptions
from imgtwin.runs.find import find_duplicates
from tests.helpers import light_screenshot_of, screenshot_of, shared_photo, with_stickers

PHOTOS = (1, 5, 12, 20)
BRIGHT_SKY = 7  # its white sky touches the light app's title bar and white background
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
    """Per photo: the photo, its screenshot in a dark app and in a light one (two also in a white one); photo 1
    also stickered, and in a second dark app; a photo with a bright sky in a light-grey app."""
    out: dict[str, Image.Image] = {}
    for k in PHOTOS:
        photo = shared_photo(k, 1000)
        out[f"photo {k}"] = photo
        out[f"screen {k}"] = screenshot_of(photo, PHONE)
        out[f"light {k}"] = light_screenshot_of(photo)
    for k in PHOTOS[2:]:  # a white title bar right above the photo, on white, as iOS draws it
        out[f"white {k}"] = light_screenshot_of(out[f"photo {k}"], PHONE, bar=(255, 255, 255), background=(255, 255, 255))
    out[f"photo {BRIGHT_SKY}"] = shared_photo(BRIGHT_SKY, 1000)
    out[f"light {BRIGHT_SKY}"] = light_screenshot_of(out[f"photo {BRIGHT_SKY}"], PHONE, 0.92, 60, (242, 242, 242))
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
        assert frozenset((f"photo {k}", f"light {k}")) in pairs, k
    for k in PHOTOS[2:]:
        assert frozenset((f"photo {k}", f"white {k}")) in pairs, k
    assert frozenset((f"photo {BRIGHT_SKY}", f"light {BRIGHT_SKY}")) in pairs
    assert frozenset(("screen 1", "screen 1 stickers")) in pairs
    assert frozenset(("photo 1", "screen 1 other app")) in pairs
    assert frozenset(("screen 1", "screen 1 other app")) in pairs


def test_the_picture_is_the_photo_between_the_apps_bars_and_captions_and_a_plain_photo_is_all_picture(library
                                                                                                   ) -> None:  # fmt: skip
    # 1000 x 750 shown 1170 wide from y = 807 to 1684 of 2532; the detection image is 1170 x 2532 / 4.33
    dark = picture_box(detection_image(library["screen 1"], 360))
    assert dark is not None and dark[0] == 0 and dark[2] == 270 and abs(dark[1] - 186) <= 2 and abs(dark[3] - 389) <= 2
    # the light app (1080 x 2400, detection image / 4): the photo 1080 x 810 from y = 250, right under the
    # title bar, to 1060; the caption 24 px under it
    light = picture_box(detection_image(library["light 1"], 360))
    assert light is not None and light[0] == 0 and light[2] == 270 and abs(light[1] - 62) <= 1, light
    assert abs(light[3] - 265) <= 1, light
    for name in ("photo 1", f"photo {BRIGHT_SKY}"):
        assert picture_box(detection_image(library[name], 360)) is None, name


def test_bands_of_one_colour_on_both_sides_make_a_frame_and_a_photos_flat_sky_or_wall_does_not() -> None:
    rng = np.random.default_rng(5)
    screen = np.full((120, 60), 250, np.uint8)  # a light app: a grey status band, a blue title bar, captions
    screen[:8] = 236
    screen[8:20] = 90
    screen[12:15, 5:20] = 255
    screen[20:70, 3:57] = rng.integers(40, 220, (50, 54))
    for row in (72, 76):
        screen[row : row + 2, 4:40:3] = 60  # two caption lines right under the photo
    assert picture_box(screen) == (3, 20, 57, 70)
    sky = rng.integers(40, 220, (90, 120)).astype(np.uint8)
    sky[:30] = 250  # a flat white sky at the top: no frame under the picture
    assert picture_box(sky) is None
    y, x = np.mgrid[0:90, 0:120]
    assert picture_box((100 + (x + y) * 15 / 208).astype(np.uint8)) is None  # a soft gradient
    bordered = np.zeros((100, 60), np.uint8)  # a black border around a photo whose top half is a flat grey wall
    bordered[4:96, 4:56] = 170
    bordered[50:96, 4:56] = rng.integers(40, 220, (46, 52))
    assert picture_box(bordered) == (4, 4, 56, 96)


def test_the_picture_box_is_stored_with_the_local_features(library) -> None:
    features = extract_local(library["light 1"])
    assert features.picture == picture_box(detection_image(library["light 1"], 360))
    assert LocalFeatures.from_bytes(features.to_bytes()).picture == features.picture
    assert LocalFeatures.from_bytes(extract_local(library["photo 1"]).to_bytes()).picture is None


@pytest.mark.slow
def test_find_deep_keeps_screenshots_of_different_photos_apart(library, tmp_path: Path) -> None:
    root = tmp_path / "library"
    root.mkdir()
    for name in ("screen 1", "screen 5", "screen 12", "photo 1", "screen 1 other app"):
        library[name].save(root / f"{name}.jpg", quality=90)
    result = find_duplicates([str(root)], db_path=str(tmp_path / "i.db"), match=MatchOptions(deep=True))
    groups = [{os.path.basename(m.path) for m in g.members} for g in result.groups]
    assert groups == [{"screen 1.jpg", "photo 1.jpg", "screen 1 other app.jpg"}], groups


@pytest.mark.slow
def test_find_deep_keeps_light_app_screenshots_of_different_photos_apart(library, tmp_path: Path) -> None:
    root = tmp_path / "library"
    root.mkdir()
    for name in ("light 1", "light 5", "light 12", "light 20", "photo 1", "photo 5"):
        library[name].save(root / f"{name}.jpg", quality=90)
    result = find_duplicates([str(root)], db_path=str(tmp_path / "i.db"), match=MatchOptions(deep=True))
    groups = sorted(sorted(os.path.basename(m.path) for m in g.members) for g in result.groups)
    assert groups == [["light 1.jpg", "photo 1.jpg"], ["light 5.jpg", "photo 5.jpg"]], groups
