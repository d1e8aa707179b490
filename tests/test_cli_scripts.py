"""What scripts rely on: dedupe's own scan shown, find --exit-code."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_cli import imgtwin


@pytest.mark.slow
def test_dedupe_shows_its_scan_and_its_failures(photo_dir: Path, tmp_path: Path) -> None:
    (photo_dir / "cut.jpg").write_bytes((photo_dir / "img1.jpg").read_bytes()[:3000])
    db = str(tmp_path / "i.db")
    for progress in ((), ("--no-progress",)):
        done = imgtwin("dedupe", str(photo_dir), "--db", db, "--action", "trash", "--workers", "1", *progress)
        assert done.returncode == 1, done.stdout + done.stderr  # a file the scan could not read
        assert "Dry run: 1 file(s) would be trashed" in done.stdout
        assert "cut.jpg: truncated" in done.stderr and "1 file(s) under these folders could not be read" in done.stderr
    fresh = imgtwin("dedupe", str(photo_dir), "--db", str(tmp_path / "new.db"), "--action", "trash", "--workers", "1")
    assert "Hashing" in fresh.stderr and "images/s in " in fresh.stderr  # the bar, ended on the summary's figures


@pytest.mark.slow
def test_find_exit_code_says_whether_duplicates_were_found(photo_dir: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "i.db")
    found = imgtwin("find", str(photo_dir), "--db", db, "-q", "--exit-code")
    assert found.returncode == 3 and found.stdout == ""
    assert imgtwin("find", str(photo_dir), "--db", db, "-q").returncode == 0  # opt-in
    (photo_dir / "a" / "copy of img0.jpg").unlink()
    none = imgtwin("find", str(photo_dir), "--db", db, "-q", "--exit-code")
    assert none.returncode == 0, none.stderr
