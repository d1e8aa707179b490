"""A photo on a small part of a screenshot is described on its own for ``--deep`` (``local.inner_features``).

The whole file's keypoints spend the detector's budget on the whole frame: a photo on a tenth of a desktop
screen keeps a tenth of them, at half its original's scale, and too few repeat for a fit.  The framed file's
picture, cut out of a larger decode and given the whole budget, fits its original; the fit says the photo lies
inside a larger frame, and a different photo in the same app still fits nothing.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imgtwin.hashing.features import compute_features
from imgtwin.hashing.local import LocalFeatures, LocalSpec, extract_local, inner_features
from imgtwin.matching.deep import (
    DeepParams,
    LocalTable,
    _candidates,
    candidate_pairs,
    deep_matches,
)
from imgtwin.matching.geometry import fit_pair
from imgtwin.matching.near import FeatureTable
from imgtwin.runs.deep import deep_loader, inner_loader
from tests.helpers import shared_photo
from tests.runs.test_framed_desktop import desktop_of

HEIGHT = 260  # px of a 1920 x 1080 screen: the photo fills 8-12 % of it
PHOTOS = (18, 2)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("inner")
    out = {}
    for k in PHOTOS:
        photo = shared_photo(k, 1200)
        out[f"photo {k}"] = root / f"photo {k}.jpg"
        photo.save(out[f"photo {k}"], quality=90)
        out[f"screen {k}"] = root / f"screen {k}.png"
        desktop_of(photo, HEIGHT).save(out[f"screen {k}"])
    return out


def whole(path: Path) -> LocalFeatures:
    return extract_local(deep_loader(LocalSpec()).load(str(path)).image)


def inner(path: Path) -> LocalFeatures:
    return inner_features(inner_loader(LocalSpec()).load(str(path)).image)


def with_inner(path: Path) -> LocalFeatures:
    return whole(path).with_inner(inner(path))


def test_the_inner_picture_has_the_whole_budget_and_lies_on_the_photo(files: dict[str, Path]) -> None:
    screen, features = whole(files["screen 18"]), inner(files["screen 18"])
    assert (features.width, features.height) == (screen.width, screen.height)  # the whole file's pixels
    assert len(features) == LocalSpec().keypoints
    photo = Image.open(files["photo 18"])
    width = photo.width * HEIGHT / photo.height  # the photo's place on the 1920 x 1080 screen, centred
    scale = screen.width / 1920
    left, top, right, bottom = (1920 - width) / 2 * scale, 130 * scale, (1920 + width) / 2 * scale, (130 + HEIGHT) * scale
    x, y = features.points[:, 0], features.points[:, 1]
    assert ((x >= left - 2) & (x <= right + 2) & (y >= top - 2) & (y <= bottom + 2)).all()
    assert bottom - top < 80  # on the whole file's detection image the photo is 70 px tall: its original's 270
    back = LocalFeatures.from_bytes(features.to_bytes())
    assert np.abs(back.points - features.points).max() <= 1 / 32


def test_a_plain_photo_has_no_inner_picture(files: dict[str, Path]) -> None:
    features = inner(files["photo 18"])
    assert len(features) == 0
    assert whole(files["photo 18"]).with_inner(features).inner is None


def test_a_small_photo_on_a_desktop_fits_its_original_on_its_inner_picture_only(files: dict[str, Path]) -> None:
    names = list(files)
    features = [with_inner(files[n]) if n.startswith("screen") else whole(files[n]) for n in names]
    for k in PHOTOS:  # the reason: the whole screenshot does not fit its photo
        assert fit_pair(whole(files[f"screen {k}"]), whole(files[f"photo {k}"])) is None
    found = deep_matches(features)
    pairs = {frozenset((names[a], names[b])): (names[a], t, names[s] if s >= 0 else None)
             for a, b, t, s in zip(found.i.tolist(), found.j.tolist(), found.transform, found.source.tolist())}
    # two screenshots in one app match on the app (judged on the scan's boxes: ``deep_extra.on_frames_only``)
    with_photo = {p for p in pairs if any(n.startswith("photo") for n in p)}
    assert with_photo == {frozenset((f"photo {k}", f"screen {k}")) for k in PHOTOS}  # other photos: apart
    for k in PHOTOS:
        first, transform, _ = pairs[frozenset((f"photo {k}", f"screen {k}"))]
        assert first == f"photo {k}" and transform is not None and "inside a larger frame" in transform


def test_a_screenshots_photo_fits_the_whole_original_where_the_original_has_an_inner_picture_too(
        files: dict[str, Path]) -> None:  # fmt: skip
    """A plain photo whose flat sky or ground makes bands gets a box and an inner picture of its own: the
    screenshot's inner picture is then fitted against the original's whole features, not only against that box."""
    photo, screen = whole(files["photo 18"]), with_inner(files["screen 18"])
    unrelated = whole(files["photo 2"])  # the original's "box": features of something else altogether
    boxed = photo.with_inner(LocalFeatures(unrelated.width, unrelated.height, unrelated.points, unrelated.descriptors,
                                           unrelated.shape))
    assert boxed.inner is not None
    found = deep_matches([boxed, screen])
    assert len(found) == 1 and found.transform[0] is not None and "inside a larger frame" in found.transform[0]


def test_an_inner_picture_is_searched_as_an_image_of_its_own(files: dict[str, Path]) -> None:
    """Its votes are weighed against its own total and it keeps its own best pairs (a photo on a tenth of a phone
    screen in the medium phone-edits corpus was cut by the screenshot's per-image limit); its pairs are its file's,
    and it is no pair of its own file (the same photo, finer: it would take the file's best slots)."""
    features = [whole(files["photo 18"]), with_inner(files["screen 18"]), with_inner(files["screen 2"])]
    extended = [*features, features[1].inner, features[2].inner]
    files_of = np.array([0, 1, 2, 1, 2])
    i, j, _ = candidate_pairs(LocalTable.build(extended), DeepParams(per_image=0), files_of)
    assert (files_of[i] != files_of[j]).all()
    assert (0, 3) in set(zip(i.tolist(), j.tolist()))  # the photo and the screenshot's inner picture
    i, j = _candidates(features, LocalTable.build(features), DeepParams())
    assert (0, 1) in set(zip(i.tolist(), j.tolist())) and (i < j).all() and j.max() < len(features)


def test_a_crop_off_two_sides_is_never_the_source_however_flat_the_part_it_cut_off() -> None:
    """A photo on a flat grey ground in its bottom-left (a studio shot, a wall): a crop off the left and the bottom
    keeps the top-right corner; the flat part it cut off looks like an app's frame to ``framing.frame_share``,
    but no frame leaves a picture in a corner (``framing.in_a_corner``): the uncropped photo is the source."""
    canvas = Image.new("RGB", (1200, 900), (128, 128, 128))
    canvas.paste(shared_photo(18, 1020).resize((1020, 720)), (180, 0))
    crop = canvas.crop((150, 0, 1200, 750))
    images = [encoded(canvas), encoded(crop)]
    features = [extract_local(im) for im in images]
    table = FeatureTable.from_features([compute_features(im.convert("L").reduce(2)) for im in images])
    found = deep_matches(features, table.full_thumbs)
    assert len(found) == 1
    assert found.derived == [(0, 1)]  # (source, derived): the crop is derived from the whole picture


def encoded(image: Image.Image) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return Image.open(io.BytesIO(buffer.getvalue()))
