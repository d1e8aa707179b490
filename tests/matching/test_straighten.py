"""The default ``find`` finds straightened copies (issue 24 part 2) and still keeps different pictures apart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imgtwin.hashing.features import THUMB
from imgtwin.matching.straighten import HYPOTHESES, sampling, straightened_hashes, warped
from imgtwin.runs.find import find_duplicates
from tests.helpers import camera_jpeg, shared_photo, shifted_views, straightened


def by_name(result) -> dict[str, tuple[int, object]]:  # type: ignore[no-untyped-def]
    return {os.path.basename(m.path): (g.id, m) for g in result.groups for m in g.members}


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("straighten") / "library"
    root.mkdir()
    original = shared_photo(1, 1200)
    original.save(root / "original.jpg", quality=92)
    straightened(original, 3.0).save(root / "turned 3.jpg", quality=85)
    # As a social network sends it on: straightened, fitted in a smaller size, recompressed.
    social = straightened(original, -5.0)
    social.thumbnail((700, 700), Image.Resampling.LANCZOS)
    social.save(root / "turned -5 social.jpg", quality=70)
    portrait = shared_photo(5, 1000).rotate(90, expand=True)  # a portrait picture: the other aspect
    portrait.save(root / "portrait.jpg", quality=90)
    straightened(portrait, 4.0).resize(portrait.size, Image.Resampling.LANCZOS).save(root / "portrait turned.jpg",
                                                                                      quality=85)
    # A straightened copy saved larger and finer than its original: still the copy, never the keeper.
    modest = shared_photo(9, 1000)
    modest.save(root / "modest original.jpg", quality=70)
    straightened(modest, 4.0).resize(modest.size, Image.Resampling.LANCZOS).save(root / "fine turned.jpg",
                                                                                   quality=97)
    # Two shots of one scene, half a frame apart, and one of them straightened: never the other's copy.
    left, right = shifted_views(shared_photo(12, 1600), 0.5)
    left.save(root / "scene left.jpg", quality=90)
    straightened(right, 3.0).save(root / "scene right turned.jpg", quality=88)
    for k in (20, 21, 22):
        shared_photo(k, 1000).save(root / f"other{k}.jpg", quality=90)
    # Flat pictures: a gradient straightened, and another gradient of the same colours; two solid colours.
    y, x = np.mgrid[0:600, 0:900].astype(np.float32)
    ramp = (x + 0.3 * y) / (900 + 0.3 * 600)
    first = np.stack([255 * ramp, 80 + 0 * ramp, 255 * (1 - ramp)], axis=-1)
    second = np.stack([255 * (1 - ramp), 80 + 0 * ramp, 255 * ramp], axis=-1)
    straightened(Image.fromarray(first.astype(np.uint8)), 4.0).save(root / "gradient turned.png")
    Image.fromarray(second.astype(np.uint8)).save(root / "gradient other.png")
    straightened(Image.new("RGB", (900, 600), (200, 40, 40)), 5.0).save(root / "red turned.png")
    Image.new("RGB", (900, 600), (40, 40, 200)).save(root / "blue.png")
    return root


@pytest.fixture(scope="module")
def found(library: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, object]]:
    db = str(tmp_path_factory.mktemp("straighten-db") / "i.db")
    return by_name(find_duplicates([str(library)], db_path=db))


def test_the_default_find_groups_straightened_copies_with_their_original(found: dict) -> None:
    group = found["original.jpg"][0]
    assert found["turned 3.jpg"][0] == group
    assert found["turned -5 social.jpg"][0] == group
    assert found["portrait turned.jpg"][0] == found["portrait.jpg"][0]
    transforms = {n: m.transform for n, (g, m) in found.items() if g == group}
    words = {n: transforms[n] or "" for n in ("turned 3.jpg", "turned -5 social.jpg")}
    assert "rotated 3°" in words["turned 3.jpg"] or "rotated 3°" in transforms["original.jpg"], transforms
    assert "rotated -5°" in words["turned -5 social.jpg"] or "rotated 5°" in transforms["original.jpg"], transforms


def test_the_original_is_kept_over_its_straightened_copy_however_fine_the_copy(found: dict) -> None:
    group, original = found["modest original.jpg"]
    assert found["fine turned.jpg"][0] == group
    assert original.keep, found["fine turned.jpg"][1]


def test_two_shots_of_one_scene_stay_apart_when_one_is_straightened(found: dict) -> None:
    assert "scene left.jpg" not in found or "scene right turned.jpg" not in found or \
        found["scene left.jpg"][0] != found["scene right turned.jpg"][0]
    for k in (20, 21, 22):
        assert f"other{k}.jpg" not in found


def test_a_straightened_flat_picture_does_not_join_a_different_one(found: dict) -> None:
    for a, b in (("gradient turned.png", "gradient other.png"), ("red turned.png", "blue.png")):
        assert a not in found or b not in found or found[a][0] != found[b][0], (a, b)


def test_cli_find_reports_what_matched_a_straightened_copy(library: Path, tmp_path: Path) -> None:
    out = tmp_path / "groups.json"
    done = subprocess.run([sys.executable, "-m", "imgtwin", "find", str(library), "--db", str(tmp_path / "i.db"),
                           "--json", str(out), "-q"], capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    members = {os.path.basename(m["path"]): m for g in json.loads(out.read_text())["groups"] for m in g["members"]}
    assert "turned 3.jpg" in members and "original.jpg" in members
    assert any("straightened" in json.dumps(m) for m in members.values())


def test_a_straightened_copy_of_a_camera_jpeg_answered_by_its_preview_is_found(tmp_path: Path) -> None:
    """The original is first hashed from its EXIF thumbnail; the straightened candidate has its main image decoded."""
    photo = shared_photo(7, 1600)
    camera_jpeg(tmp_path / "IMG_0007.JPG", photo)
    straightened(photo, -7.0).save(tmp_path / "IMG_0007 edited.jpg", quality=85)
    for k in (20, 21):
        shared_photo(k, 1000).save(tmp_path / f"other{k}.jpg", quality=90)
    names = by_name(find_duplicates([str(tmp_path)], db_path=str(tmp_path / "i.db")))
    assert names["IMG_0007.JPG"][0] == names["IMG_0007 edited.jpg"][0]


def test_the_hash_maps_are_the_warp_then_the_phash() -> None:
    """One linear map per hypothesis gives the same hashes as warping each thumbnail and hashing it."""
    from imgtwin.hashing.features import _BASIS, hashes_of_blocks

    rng = np.random.default_rng(3)
    thumbs = (rng.random((5, THUMB, THUMB)) * 255).astype(np.uint8)
    thumbs = np.cumsum(thumbs.astype(np.float64), axis=2)  # smooth, so that bits sit clear of the median
    thumbs = (255 * thumbs / thumbs.max()).astype(np.uint8)
    hashes = straightened_hashes(thumbs)
    for k, (degrees, aspect) in enumerate(HYPOTHESES):
        expected = hashes_of_blocks(_BASIS @ warped(thumbs, degrees, aspect).astype(np.float64) @ _BASIS.T)
        assert (np.bitwise_count(hashes[:, k] ^ expected) <= 1).all()
    index, weight = sampling(THUMB, 0.0)
    assert np.allclose(weight.sum(axis=1), 1.0)
    assert (index[:, 0] == np.arange(THUMB * THUMB)).all()  # no turn: every pixel reads itself


def test_the_layout_maps_are_the_warp_then_the_layout_vector() -> None:
    """Built tap by tap (no dense warp of 1,024 one-pixel images), each map still gives a thumbnail's
    straightened layout vector."""
    from imgtwin.matching.layout import raw_layout
    from imgtwin.matching.straighten import _layout_map

    thumbs = np.stack([np.asarray(shared_photo(k, 96).convert("L").resize((THUMB, THUMB))) for k in range(3)])
    for k, (degrees, aspect) in enumerate(HYPOTHESES):
        expected = raw_layout(warped(thumbs, degrees, aspect))
        got = thumbs.reshape(len(thumbs), -1).astype(np.float32) @ _layout_map(k)
        assert np.allclose(got, expected, rtol=1e-4, atol=1e-2 * np.abs(expected).max())
