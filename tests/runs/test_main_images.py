"""Pixels where they decide (``runs.main_images``): no group, keeper or label is decided on a preview."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from PIL import ImageEnhance

from imgtwin.api import find_duplicates, scan
from imgtwin.matching.indexed import load_rows
from imgtwin.matching.near import NearParams
from imgtwin.options import ScanOptions
from imgtwin.runs.main_images import preview_candidates
from tests.helpers import camera_exif, camera_jpeg, exif_thumbnail_of, phone_heic, synthetic_photo

NO_PREVIEWS = ScanOptions(previews=False)


def _views(db: Path) -> dict[str, str]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT path, decode FROM files WHERE hash IS NOT NULL").fetchall()
    return {Path(p.decode() if isinstance(p, bytes) else p).name: d for p, d in rows}


def _groups(result: object) -> set[frozenset[str]]:
    return {frozenset(Path(m.path).name for m in g.members) for g in result.groups}  # type: ignore[attr-defined]


@pytest.fixture
def camera_roll(tmp_path: Path) -> Path:
    """Camera JPEGs with faithful previews, singles and copies, plus the liars: a tone edit that kept the
    old thumbnail, a file carrying another photo's EXIF block, a byte copy."""
    root = tmp_path / "DCIM"
    root.mkdir()
    size = (800, 600)
    for k in range(6):  # singles
        camera_jpeg(root / f"IMG_{k:04d}.JPG", synthetic_photo(100 + k, size))
    original = synthetic_photo(200, size)
    camera_jpeg(root / "IMG_0100.JPG", original)
    shutil.copyfile(root / "IMG_0100.JPG", root / "IMG_0100 copy.JPG")
    brighter = ImageEnhance.Brightness(original).enhance(1.15)
    camera_jpeg(root / "IMG_0100-edited.JPG", brighter, exif=camera_exif(size, exif_thumbnail_of(original)))
    # Different picture, same size, carrying IMG_0000's EXIF block (its thumbnail) whole.
    stranger = synthetic_photo(300, size)
    camera_jpeg(root / "IMG_0200.JPG", stranger, exif=camera_exif(size, exif_thumbnail_of(synthetic_photo(100, size))))
    return root


def test_find_with_previews_gives_the_groups_of_decoding_everything(camera_roll: Path, tmp_path: Path) -> None:
    fast = find_duplicates([camera_roll], tmp_path / "fast.db")
    slow = find_duplicates([camera_roll], tmp_path / "slow.db", options=NO_PREVIEWS)
    assert _groups(fast) == _groups(slow) == {frozenset({"IMG_0100.JPG", "IMG_0100 copy.JPG", "IMG_0100-edited.JPG"})}
    group = fast.groups[0]
    assert sum(m.exact for m in group.members) == 2  # the byte copy's bytes were hashed when it became a candidate
    assert fast.files == slow.files == 10
    views = _views(tmp_path / "fast.db")
    # Every member, and the liar whose borrowed preview made it a candidate, was decoded from its main image;
    # the singles were never decoded.
    for name in ("IMG_0100.JPG", "IMG_0100 copy.JPG", "IMG_0100-edited.JPG", "IMG_0200.JPG", "IMG_0000.JPG"):
        assert views[name].startswith("jpeg-draft"), name
    assert all(views[f"IMG_{k:04d}.JPG"].startswith("preview-exif") for k in range(1, 6))
    assert all(v.startswith("jpeg-draft") for v in _views(tmp_path / "slow.db").values())


@pytest.mark.slow
def test_a_foreign_preview_never_joins_two_pictures(camera_roll: Path, tmp_path: Path) -> None:
    result = find_duplicates([camera_roll], tmp_path / "index.db")
    assert not any({"IMG_0000.JPG", "IMG_0200.JPG"} <= g for g in _groups(result))


@pytest.mark.slow
def test_the_next_find_decodes_nothing_again(camera_roll: Path, tmp_path: Path) -> None:
    db = tmp_path / "index.db"
    first = find_duplicates([camera_roll], db)
    loaded = load_rows(str(db), [str(camera_roll)], previews=True)
    assert preview_candidates(loaded.preview, loaded.table, NearParams()) == []
    second = find_duplicates([camera_roll], db)
    assert second.scan is not None and second.scan.reused == 10 and second.scan.previews == 0
    assert _groups(second) == _groups(first)


def test_the_scan_counts_previews_and_reads_less(camera_roll: Path, tmp_path: Path) -> None:
    summary = scan([camera_roll], tmp_path / "index.db")
    assert summary.processed_files == 10
    assert summary.previews + summary.copies >= 9
    total = sum(p.stat().st_size for p in camera_roll.iterdir())
    assert summary.bytes_read < total / 4


@pytest.mark.slow
def test_an_index_made_without_previews_is_reused_as_it_is(camera_roll: Path, tmp_path: Path) -> None:
    db = tmp_path / "index.db"
    scan([camera_roll], db, NO_PREVIEWS)
    again = find_duplicates([camera_roll], db)
    assert again.scan is not None and again.scan.reused == 10 and again.scan.previews == 0
    # The other way round, preview rows are read again by a scan that wants pictures.
    db2 = tmp_path / "previews.db"
    scan([camera_roll], db2)
    decoded = scan([camera_roll], db2, NO_PREVIEWS)
    assert decoded.reused < 10 and all(not v.startswith("preview") for v in _views(db2).values())


@pytest.mark.slow
def test_exact_only_still_finds_byte_copies_answered_by_previews(camera_roll: Path, tmp_path: Path) -> None:
    from imgtwin.options import MatchOptions

    result = find_duplicates([camera_roll], tmp_path / "index.db", MatchOptions(similarity="exact"))
    assert _groups(result) == {frozenset({"IMG_0100.JPG", "IMG_0100 copy.JPG"})}


@pytest.mark.slow
def test_a_heic_and_its_jpeg_export_are_grouped_from_their_pictures(tmp_path: Path) -> None:
    pytest.importorskip("pillow_heif")
    root = tmp_path / "iPhone"
    root.mkdir()
    picture = synthetic_photo(400, (640, 480))
    phone_heic(root / "IMG_1000.HEIC", picture)
    camera_jpeg(root / "IMG_1000.JPG", picture, quality=85)
    phone_heic(root / "IMG_1001.HEIC", synthetic_photo(401, (640, 480)))
    result = find_duplicates([root], tmp_path / "index.db")
    assert _groups(result) == {frozenset({"IMG_1000.HEIC", "IMG_1000.JPG"})}
    views = _views(tmp_path / "index.db")
    assert views["IMG_1000.HEIC"] == "full" and views["IMG_1001.HEIC"].startswith("preview-heif")


def test_the_cli_switch_decodes_every_picture(camera_roll: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    db = tmp_path / "index.db"
    done = subprocess.run([sys.executable, "-m", "imgtwin", "scan", str(camera_roll), "--db", str(db), "--no-previews"],
                          check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "answered by their embedded previews" not in done.stdout + done.stderr
    assert all(v.startswith("jpeg-draft") for v in _views(db).values())
    db2 = tmp_path / "previews.db"
    done = subprocess.run([sys.executable, "-m", "imgtwin", "scan", str(camera_roll), "--db", str(db2)],
                          check=False, capture_output=True, text=True, timeout=120)
    assert "answered by their embedded previews" in done.stdout + done.stderr


@pytest.mark.slow
def test_a_dask_cluster_follows_the_same_rules(camera_roll: Path, tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    local = find_duplicates([camera_roll], tmp_path / "local.db")
    dask = find_duplicates([camera_roll], tmp_path / "dask.db", options=ScanOptions(scheduler="local:1"))
    assert _groups(dask) == _groups(local)
    assert _views(tmp_path / "dask.db") == _views(tmp_path / "local.db")


def test_find_says_how_files_were_read(camera_roll: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "imgtwin", "find", str(camera_roll), "--db", str(tmp_path / "i.db"),
                           "--no-progress"], check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "10 file(s) answered by their previews; 5 candidate(s) decoded." in done.stderr
