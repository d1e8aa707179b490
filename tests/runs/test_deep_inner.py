"""``find --deep`` end to end: small photos on desktop screenshots are grouped with their originals on their inner
pictures' features (``runs.deep``'s framed pass, ``local.inner_features``); a different photo in the same app, and
a second screenshot in it, stay apart."""

from __future__ import annotations

import os
import sqlite3

import pytest

from imgtwin.hashing.local import LocalSpec
from imgtwin.options import MatchOptions
from imgtwin.runs.find import FindResult, find_duplicates
from tests.helpers import shared_photo
from tests.runs.test_framed_desktop import desktop_of

HEIGHT = 260  # px of a 1920 x 1080 screen: the photo fills 8-12 % of it


@pytest.fixture(scope="module")
def found(tmp_path_factory: pytest.TempPathFactory) -> tuple[FindResult, str]:
    root = tmp_path_factory.mktemp("deep-inner") / "library"
    root.mkdir()
    for k in (18, 2):
        photo = shared_photo(k, 1200)
        photo.save(root / f"photo {k}.jpg", quality=90)
        desktop_of(photo, HEIGHT).save(root / f"screen {k}.png")
    desktop_of(shared_photo(9, 1200), HEIGHT).save(root / "screen of another photo.png")
    db = str(root.parent / "index.db")
    return find_duplicates([str(root)], db_path=db, match=MatchOptions(deep=True)), db


def test_small_photos_on_desktop_screens_are_grouped_with_their_originals(found: tuple[FindResult, str]) -> None:
    result, _ = found
    groups = sorted(sorted(os.path.basename(m.path) for m in g.members) for g in result.groups)
    assert groups == [["photo 18.jpg", "screen 18.png"], ["photo 2.jpg", "screen 2.png"]]
    for group in result.groups:  # the photo is kept over its screenshot
        assert os.path.basename(group.keeper.path).startswith("photo")


def test_only_the_framed_files_get_an_inner_record(found: tuple[FindResult, str]) -> None:
    _, db = found
    with sqlite3.connect(db) as conn:
        inner = conn.execute("SELECT count(*), sum(length(data) > 40) FROM local_features WHERE spec = ?",
                             (LocalSpec().inner_id,)).fetchone()
    assert inner == (3, 3)  # the three screenshots, each with keypoints
