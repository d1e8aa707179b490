"""The filters (--exclude, --ext, sizes, --no-recursive) and --similarity on scan, find, report and dedupe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from imgtwin.cli import main
from imgtwin.persistence.sqlite import read_rows
from tests.helpers import synthetic_photo


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture
def album(tmp_path: Path) -> Path:
    """Two byte copies of one photo (one in .thumbnails-like cache/, one in trip/), a resized copy of another."""
    root = tmp_path / "album"
    (root / "cache").mkdir(parents=True)
    (root / "trip").mkdir()
    synthetic_photo(1).save(root / "one.jpg", quality=90)
    synthetic_photo(2).save(root / "two.jpg", quality=90)
    synthetic_photo(3).save(root / "three.png")
    (root / "cache" / "one.jpg").write_bytes((root / "one.jpg").read_bytes())
    (root / "trip" / "one copy.JPG").write_bytes((root / "one.jpg").read_bytes())
    synthetic_photo(2).resize((320, 240)).save(root / "trip" / "two small.jpg", quality=85)
    return root


def groups(tmp_path: Path, *args: str) -> list[list[str]]:
    """find --json's groups, as sorted lists of member paths relative to the album."""
    out = tmp_path / "groups.json"
    code, text = run("find", *args, "--json", str(out), "-q", "--workers", "1")
    assert code == 0, text
    document = json.loads(out.read_text())
    base = str(tmp_path / "album") + "/"
    return sorted(sorted(m["path"].removeprefix(base) for m in g["members"]) for g in document["groups"])


def test_scan_does_not_enter_an_excluded_folder_nor_read_excluded_files(album: Path, tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    code, out = run("scan", str(album), "--db", str(db), "--no-progress", "--executor", "thread",
                    "--exclude", "*/cache", "--exclude", "*.png")
    assert code == 0, out
    indexed = sorted(Path(r["path"]).relative_to(album).as_posix() for r in read_rows(str(db)))
    assert indexed == ["one.jpg", "trip/one copy.JPG", "trip/two small.jpg", "two.jpg"]


@pytest.mark.slow
def test_find_selects_the_same_files_whether_it_scans_or_not(album: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "i.db")
    everything = groups(tmp_path, str(album), "--db", db)
    assert everything == [["cache/one.jpg", "one.jpg", "trip/one copy.JPG"], ["trip/two small.jpg", "two.jpg"]]
    # From the index alone (the folders are already scanned): the filters apply to its files too.
    assert groups(tmp_path, str(album), "--db", db, "--exclude", "*/cache/*") == [
        ["one.jpg", "trip/one copy.JPG"], ["trip/two small.jpg", "two.jpg"]]
    assert groups(tmp_path, str(album), "--db", db, "--no-recursive") == []
    assert groups(tmp_path, str(album), "--db", db, "--ext", "JPG", "--exclude", "*/trip") == [
        ["cache/one.jpg", "one.jpg"]]
    small = (album / "trip" / "two small.jpg").stat().st_size
    assert groups(tmp_path, str(album), "--db", db, "--min-size", str(small + 1)) == [
        ["cache/one.jpg", "one.jpg", "trip/one copy.JPG"]]
    assert groups(tmp_path, "--db", db, "--max-size", str(small)) == []  # no DIRS: the whole index, filtered


@pytest.mark.slow
def test_similarity_in_words(album: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "i.db")
    exact = groups(tmp_path, str(album), "--db", db, "--similarity", "exact")
    assert exact == [["cache/one.jpg", "one.jpg", "trip/one copy.JPG"]]  # the resized copy is not byte-identical
    assert groups(tmp_path, str(album), "--db", db, "--similarity", "medium") == groups(tmp_path, str(album),
                                                                                        "--db", db)
    code, out = run("find", str(album), "--db", db, "--similarity", "low", "--threshold", "3")
    assert code == 2 and "not both" in out


def test_report_and_dedupe_take_the_filters(album: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "i.db")
    code, out = run("scan", str(album), "--db", db, "--no-progress", "--executor", "thread")
    assert code == 0, out
    code, out = run("report", str(album), "--db", db, "--html", str(tmp_path / "r.html"), "--exclude", "*/trip/*",
                    "--workers", "1")
    assert code == 0, out
    assert "(1 groups, 2 files;" in out
    code, out = run("dedupe", str(album), "--db", db, "--action", "trash", "--no-progress", "--workers", "1",
                    "--exclude", "*/cache", "--similarity", "exact")
    assert code == 0, out
    assert "Dry run: 1 file(s) would be trashed" in out and "cache" not in out


def test_bad_filter_values_are_usage_errors(tmp_path: Path) -> None:
    code, out = run("scan", str(tmp_path), "--db", str(tmp_path / "i.db"), "--min-size", "2MB", "--max-size", "1k")
    assert code == 2 and "above the maximum" in out
    code, out = run("find", str(tmp_path), "--min-size", "lots")
    assert code == 2 and "not a size" in out
