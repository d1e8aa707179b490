"""``--deep`` keeps different pictures of one scene apart (issue 24): a view shifted by half a frame, of a
scene, a foliage texture and a tiled floor, is never a copy of a screenshot that shows the other view; the
straightened, rotated and screenshot copies of a photo are still found, and described as they are."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from imgtwin.hashing.features import THUMB, compute_features
from imgtwin.hashing.local import extract_local
from imgtwin.matching.deep import deep_matches
from imgtwin.matching.framing import picture_on_frame
from imgtwin.matching.near import FeatureTable
from imgtwin.options import MatchOptions
from imgtwin.runs.find import find_duplicates
from tests.helpers import screenshot_of, shared_photo, straightened

SCENES = ("scene", "foliage", "tiles")


def tiles(seed: int, size: tuple[int, int] = (1600, 1100)) -> Image.Image:
    """A tiled floor: a printed diamond per tile, grout, each tile its own tone, light falloff and grime."""
    rng = np.random.default_rng(seed)
    w, h = size
    side = 110
    y, x = np.mgrid[0:h, 0:w]
    u, v = x % side, y % side
    tone = rng.uniform(0.8, 1.15, (h // side + 1, w // side + 1))[y // side, x // side]
    diamond = (np.abs(u - side / 2) + np.abs(v - side / 2)) < side * 0.36
    pixels = np.where(diamond[..., None], [70, 150, 90], [200, 190, 160]) * tone[..., None]
    pixels[(u < 4) | (v < 4)] = [90, 90, 85]
    grime = Image.fromarray(rng.normal(128, 60, (h // 8, w // 8)).clip(0, 255).astype(np.uint8)).resize((w, h))
    light = 1 + 0.25 * np.cos(x / w * 2.5) * np.cos(y / h * 2.5)
    pixels = pixels * light[..., None] + 0.3 * (np.asarray(grime, float) - 128)[..., None] + rng.normal(0, 4, (h, w, 1))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.6))


def shifted_pair(source: Image.Image, shift: float = 0.5) -> tuple[Image.Image, Image.Image]:
    """Two 3:2 views, 0.6 of the source's width, the second ``shift`` of a view's height lower."""
    w, h = source.size
    vw, vh = int(0.6 * w), int(0.4 * w)
    x0, y0 = (w - vw) // 2, max(0, (h - int((1 + shift) * vh)) // 2)
    dy = int(vh * shift)
    return source.crop((x0, y0, x0 + vw, y0 + vh)), source.crop((x0, y0 + dy, x0 + vw, y0 + dy + vh))


def encoded(image: Image.Image) -> Image.Image:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=88)
    return Image.open(io.BytesIO(buffer.getvalue()))


@pytest.fixture(scope="module")
def pictures() -> dict[str, Image.Image]:
    """Per scene: its upper view, the lower view, a phone screenshot of the upper view; a photo and its copies."""
    out: dict[str, Image.Image] = {}
    for name, source in zip(SCENES, (shared_photo(13, 1600), shared_photo(41, 1600), tiles(1))):
        top, low = shifted_pair(source)
        out[f"{name} top"], out[f"{name} low"] = top, low
        out[f"{name} top screenshot"] = screenshot_of(top, (1170, 2532))
    original = shared_photo(1, 1200)
    out["original"] = original
    out["straightened"] = straightened(original, 4.0)
    out["rotated"] = original.rotate(90, expand=True)
    out["screenshot"] = screenshot_of(original, (1170, 2532))
    return out


def test_a_view_is_no_copy_of_a_screenshot_of_its_shifted_neighbour_and_copies_are_still_found(pictures) -> None:
    names = list(pictures)
    images = [encoded(pictures[n]) for n in names]
    local = [extract_local(im) for im in images]
    thumbs = FeatureTable.from_features([compute_features(im.convert("L").reduce(2)) for im in images]).full_thumbs
    found = deep_matches(local, thumbs)
    pairs = {frozenset((names[a], names[b])): t for a, b, t in zip(found.i.tolist(), found.j.tolist(), found.transform)}
    for scene in SCENES:
        assert frozenset((f"{scene} low", f"{scene} top screenshot")) not in pairs, scene
        assert frozenset((f"{scene} low", f"{scene} top")) not in pairs, scene
    assert "rotated 4°" in (pairs[frozenset(("original", "straightened"))] or "")
    assert "crop" in (pairs[frozenset(("original", "straightened"))] or "")
    assert "rotated 90°" in (pairs[frozenset(("original", "rotated"))] or "")
    assert pairs[frozenset(("original", "screenshot"))] == "inside a larger frame"
    assert pairs[frozenset(("scene top", "scene top screenshot"))] == "inside a larger frame"


@pytest.mark.slow
def test_find_keeps_shifted_views_apart_with_and_without_deep(pictures, tmp_path: Path) -> None:
    root = tmp_path / "library"
    root.mkdir()
    for name in ("scene low", "scene top screenshot", "foliage low", "foliage top screenshot", "original",
                 "straightened", "rotated"):  # fmt: skip
        pictures[name].convert("RGB").save(root / f"{name}.jpg", quality=90)
    db = str(tmp_path / "i.db")
    for deep in (False, True):
        result = find_duplicates([str(root)], db_path=db, match=MatchOptions(deep=deep))
        groups = [{os.path.basename(m.path) for m in g.members} for g in result.groups]
        for scene in ("scene", "foliage"):
            assert not any({f"{scene} low.jpg", f"{scene} top screenshot.jpg"} <= g for g in groups), (deep, groups)
        if deep:
            assert {"original.jpg", "straightened.jpg", "rotated.jpg"} in groups, groups


def test_picture_on_frame_measures_the_inner_picture_over_the_outer_files_frame() -> None:
    rng = np.random.default_rng(3)
    outer = np.full((THUMB, THUMB), 20, np.uint8)  # an app's dark frame ...
    outer[8:24, :] = rng.integers(60, 250, (16, THUMB))  # ... around a detailed picture in rows 8-24
    inner = rng.integers(60, 250, (THUMB, THUMB)).astype(np.uint8)
    on_picture = np.array([[0, 8], [THUMB, 8], [THUMB, 24], [0, 24]], float)
    partly_off = np.array([[0, 8], [THUMB, 8], [THUMB, 28], [0, 28]], float)  # a fifth over the frame below
    assert picture_on_frame(outer, inner, on_picture) == 0.0
    assert 0.1 < picture_on_frame(outer, inner, partly_off) < 0.3
    flat_inner = np.full((THUMB, THUMB), 128, np.uint8)  # a flat picture (a sky) over the frame is no evidence
    assert picture_on_frame(outer, flat_inner, partly_off) == 0.0
