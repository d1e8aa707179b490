"""Which upscale checks a find asks (``matching.indexed.UpscaleChecker``), on real files through ``find_duplicates``.

A check decodes strips of two files again, so it is asked only where its verdict could change the keeper: a
leader that wins before the content tier (a reference, a policy's criterion) would stay first even as an upscale.
The index's ``upscale_checks`` table tells which checks were made.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from PIL import Image

from imgtwin.options import MatchOptions, ScanOptions
from imgtwin.runs.find import find_duplicates
from tests.helpers import shared_photo

SCAN = ScanOptions(executor="thread", workers=2)


def original_and_upscale(root: Path) -> None:
    """A photo and a copy enlarged 1.6 times from it: the copy has more pixels and bytes, no more detail."""
    root.mkdir(parents=True)
    image = shared_photo(0, 640)
    image.save(root / "original.jpg", quality=90)
    image.resize((round(image.width * 1.6), round(image.height * 1.6)), Image.Resampling.LANCZOS).save(
        root / "upscaled.jpg", quality=92)


def checks_made(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM upscale_checks").fetchone()[0])


def keeper(tmp_path: Path, root: Path, **match: object) -> str:
    result = find_duplicates([str(root)], db_path=str(tmp_path / "i.db"), options=SCAN,
                             match=MatchOptions(**match))  # type: ignore[arg-type]
    assert len(result.groups) == 1
    return os.path.basename(result.groups[0].keeper.path)


def test_the_best_policy_asks_and_keeps_the_source(tmp_path: Path) -> None:
    original_and_upscale(tmp_path / "photos")
    assert keeper(tmp_path, tmp_path / "photos") == "original.jpg"
    assert checks_made(tmp_path / "i.db") == 1


def test_the_largest_file_it_was_made_from_settles_the_others(tmp_path: Path) -> None:
    """The upscale against its source (the largest smaller file) and a half-size copy: the first verdict settles it,
    the copy is not compared with the upscale, in this find or the next (only with the source, which leads now)."""
    original_and_upscale(tmp_path / "photos")
    with Image.open(tmp_path / "photos" / "original.jpg") as image:
        image.resize((image.width // 2, image.height // 2), Image.Resampling.LANCZOS).save(
            tmp_path / "photos" / "half.jpg", quality=90)
    for _ in range(2):
        assert keeper(tmp_path, tmp_path / "photos") == "original.jpg"
        assert checks_made(tmp_path / "i.db") == 2  # (upscaled, original), then (original, half)


def test_a_policy_that_decides_first_asks_nothing(tmp_path: Path) -> None:
    original_and_upscale(tmp_path / "photos")
    assert keeper(tmp_path, tmp_path / "photos", keep="largest") == "upscaled.jpg"  # the larger file, as asked
    assert checks_made(tmp_path / "i.db") == 0


def test_a_reference_leader_is_not_asked_about(tmp_path: Path) -> None:
    original_and_upscale(tmp_path / "photos")
    reference = tmp_path / "photos" / "kept"
    reference.mkdir()
    os.replace(tmp_path / "photos" / "upscaled.jpg", reference / "upscaled.jpg")
    assert keeper(tmp_path, tmp_path / "photos", reference=(str(reference),)) == "upscaled.jpg"
    assert checks_made(tmp_path / "i.db") == 0


def test_the_policy_ties_still_ask(tmp_path: Path) -> None:
    """``oldest`` between files of one age: the tie goes on to the content tier, where the verdict counts."""
    original_and_upscale(tmp_path / "photos")
    same = os.stat(tmp_path / "photos" / "original.jpg").st_mtime_ns
    os.utime(tmp_path / "photos" / "upscaled.jpg", ns=(same, same))
    assert keeper(tmp_path, tmp_path / "photos", keep="oldest") == "original.jpg"
    assert checks_made(tmp_path / "i.db") == 1
