"""Matching in blocks (derived hashes, verification) gives the same matches as all at once, on real photos."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageOps

from imgtwin.hashing.features import dihedral_pixels
from imgtwin.matching import near
from imgtwin.matching.verify import resampler, turned
from imgtwin.runs.find import find_duplicates
from tests.helpers import cropped, shared_photo


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("library")
    for k in range(10):
        photo = shared_photo(k, 360)
        photo.save(root / f"p{k}.jpg", quality=90)
        photo.transpose(Image.Transpose.ROTATE_90).save(root / f"p{k}-rotated.jpg", quality=85)
        cropped(photo, 0.05, 0.04, 0.03, 0.05).save(root / f"p{k}-cropped.jpg", quality=85)
        ImageOps.pad(photo, (400, 400), color=(0, 0, 0)).save(root / f"p{k}-padded.jpg", quality=85)
        w, h = photo.size
        for t in range(3):  # same-scene tiles: candidates that must be rejected
            box = (t * w // 6, t * h // 8, t * w // 6 + w // 2, t * h // 8 + h // 2)
            photo.crop(box).resize((240, 180)).save(root / f"p{k}-tile{t}.jpg", quality=80)
    for k in range(12):  # flat pictures: pairs judged on pixel agreement
        Image.new("RGB", (200, 150), (100 + 3 * k, 100 + 2 * k, 90 + k)).save(root / f"flat{k}.png")
    return root


@pytest.mark.slow
def test_blocks_change_nothing_but_memory(library, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = str(tmp_path / "i.db")
    whole = find_duplicates([str(library)], db_path=db)
    assert len(whole.groups) >= 10 and whole.files == 10 * 7 + 12
    import imgtwin.matching.files as finding
    from imgtwin.matching import hashtable

    calls: list[int] = []
    judge_block = near._judge

    def counting(table, params, cand):
        calls.append(len(cand.i))
        return judge_block(table, params, cand)

    monkeypatch.setattr(near, "JUDGE_BLOCK", 16)
    monkeypatch.setattr(near, "HASH_BLOCK", 5)
    monkeypatch.setattr(finding, "LOAD_BLOCK", 7)
    monkeypatch.setattr(hashtable, "BLOCK", 5)  # straightened hashes derived 5 pictures at a time, across loads
    monkeypatch.setattr(near, "_judge", counting)
    blocked = find_duplicates([str(library)], db_path=db, scan=False)
    assert len(calls) > 3 and max(calls) <= 16  # it did run in blocks
    assert blocked.groups == whole.groups  # every member, keeper, distance, transform, confidence


def test_turned_is_the_dihedral_variant_of_each_item() -> None:
    rng = np.random.default_rng(1)
    x = rng.integers(0, 255, (50, 32, 32)).astype(np.float32)
    g = rng.integers(0, 8, 50)
    expected = np.stack(dihedral_pixels(x), axis=1)[np.arange(50), g]
    assert np.array_equal(turned(x, g), expected)
    assert np.array_equal(turned(x, np.zeros(50, int)), x)


def test_resampler_is_shared_read_only_and_kept_apart_by_type() -> None:
    single, double = resampler(16, np.float32(0.1), np.float32(0.2)), resampler(16, 0.1, 0.2)
    assert resampler(16, 0.1, 0.2) is double and not double.flags.writeable
    assert single.dtype == double.dtype and not np.array_equal(single, double)  # float32 cuts round differently
