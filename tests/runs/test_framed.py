"""The default ``find`` groups a screenshot of a photo with the photo (issue 24): the picture inside the
app's frame is hashed at scan time and searched, local features decide; end to end on real JPEGs made here."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from imgtwin.matching.framed import load_framed
from imgtwin.runs.find import FindResult, find_duplicates
from tests.helpers import light_screenshot_of, screenshot_of, shared_photo

PHONE = (1170, 2532)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("framed") / "library"
    (root / "screens").mkdir(parents=True)
    original = shared_photo(1, 1200)
    original.save(root / "original.jpg", quality=92)
    dark = screenshot_of(original, PHONE)
    dark.save(root / "screens" / "dark app.jpg", quality=90)
    dark.resize((dark.width * 2 // 3, dark.height * 2 // 3)).save(root / "screens" / "sent in a chat.jpg", quality=70)
    light_screenshot_of(original).save(root / "screens" / "light app.jpg", quality=88)
    # a different photo in the same app: the same bars, status line, caption and buttons
    screenshot_of(shared_photo(5, 1200), PHONE).save(root / "screens" / "other photo.jpg", quality=90)
    shared_photo(7, 1000).save(root / "unrelated.jpg", quality=90)
    return root


def groups_by_name(result: FindResult) -> dict[str, int]:
    return {os.path.basename(m.path): g.id for g in result.groups for m in g.members}


@pytest.fixture(scope="module")
def found(library: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[FindResult, str]:
    db = str(tmp_path_factory.mktemp("framed-db") / "i.db")
    return find_duplicates([str(library)], db_path=db), db


def test_a_screenshot_of_a_photo_is_grouped_with_the_photo(found: tuple[FindResult, str]) -> None:
    names = groups_by_name(found[0])
    assert "original.jpg" in names, names
    assert names["dark app.jpg"] == names["original.jpg"], names
    assert names["sent in a chat.jpg"] == names["original.jpg"], names
    assert names["light app.jpg"] == names["original.jpg"], names


def test_a_screenshot_of_a_different_photo_in_the_same_app_is_grouped_with_nothing(
        found: tuple[FindResult, str]) -> None:  # fmt: skip
    names = groups_by_name(found[0])
    assert "other photo.jpg" not in names, names
    assert "unrelated.jpg" not in names, names


def test_an_index_without_framed_pictures_gets_them_on_the_next_scan(library: Path, tmp_path: Path) -> None:
    """An index an imgtwin without them made (no table) is never read as "no file is framed": the next scan
    decodes its files again, and the screenshot is found."""
    db = str(tmp_path / "old.db")
    find_duplicates([str(library)], db_path=db)
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE framed_pictures")
    again = groups_by_name(find_duplicates([str(library)], db_path=db))
    assert again["dark app.jpg"] == again["original.jpg"], again
    with sqlite3.connect(db) as conn:
        (rows,) = conn.execute("SELECT count(*) FROM framed_pictures").fetchone()
        (framed,) = conn.execute("SELECT count(*) FROM framed_pictures WHERE length(data) > 0").fetchone()
    assert rows == 6 and framed >= 4, (rows, framed)


def test_framed_records_are_found_for_every_row_of_their_content(found: tuple[FindResult, str]) -> None:
    """Rows are matched to the index's records by content hash, byte copies included; rows without one get none."""
    db = found[1]
    with sqlite3.connect(db) as conn:
        framed = {r[0] for r in conn.execute("SELECT content_hash FROM framed_pictures WHERE length(data) > 0")}
        contents = {r[0] for r in conn.execute("SELECT content_hash FROM files WHERE content_hash IS NOT NULL")}
    plain = min(contents - framed)
    one = min(framed).encode()
    digests = np.array([plain.encode(), one, b"", one, b"f" * 32], dtype="S32")
    pictures = load_framed(db, digests)
    assert sorted(pictures) == [1, 3]
    assert [p.hash for p in pictures[1]] == [p.hash for p in pictures[3]]
