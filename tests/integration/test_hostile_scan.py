"""One scan over everything a real collection and a hostile one can hold.

Valid images in every supported format (some with awkward names) are hashed;
every bad file is reported with a fitting reason; nothing hangs, nothing
prints a traceback, and the run exits 1. ``imgtwin errors`` then lists exactly
the failures from the index.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import synthetic_photo
from tests.hostile_files import make_dng, png_with_header, slow_progressive_jpeg

pytestmark = pytest.mark.slow  # the fast loop (pytest -m 'not slow') leaves this module out

pillow_heif = pytest.importorskip("pillow_heif")
pytest.importorskip("rawpy")

# Valid files: name -> how to write it. Names exercise spaces, unicode, a
# newline and a leading dash.
VALID = {
    "plain.jpg": ("JPEG", {"quality": 90}),
    "with space.png": ("PNG", {}),
    "ünïcødé 写真.webp": ("WEBP", {"quality": 85}),
    "line\nbreak.heic": ("HEIF", {"quality": 70}),
    "-dash.avif": ("AVIF", {"quality": 70}),
    "pages.tiff": ("TIFF", {}),
}
# Bad files: name -> expected reason.
BAD = {
    "cut.jpg": "truncated",
    "cut.heic": "truncated",
    "empty.jpg": "not_an_image",
    "page.png": "not_an_image",
    "bomb.png": "too_large",
    "pipe.jpg": "not_a_regular_file",
    "scans.jpg": "timeout",
    "bare.dng": "unsupported_format",
    "self.jpg": "io_error",  # a symbolic link to itself (followed: ELOOP)
    "gone.jpg": "vanished",  # a dangling link
}


def imgtwin(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "imgtwin", *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def hostile_tree(tmp_path: Path) -> Path:
    pillow_heif.register_heif_opener()
    root = tmp_path / "-weird dir"
    root.mkdir()
    for i, (name, (fmt, options)) in enumerate(VALID.items()):
        synthetic_photo(30 + i, (160, 120)).save(root / name, fmt, **options)
    (root / "RAW_0001.dng").write_bytes(make_dng(synthetic_photo(40, (160, 120))))
    os.close(os.open(os.fsencode(root) + b"/latin1 \xe9t\xe9.jpg", os.O_WRONLY | os.O_CREAT, 0o644))
    Path(os.fsdecode(os.fsencode(root) + b"/latin1 \xe9t\xe9.jpg")).write_bytes((root / "plain.jpg").read_bytes())
    (root / "cut.jpg").write_bytes((root / "plain.jpg").read_bytes()[:1500])
    (root / "cut.heic").write_bytes((root / "line\nbreak.heic").read_bytes()[:900])
    (root / "empty.jpg").write_bytes(b"")
    (root / "page.png").write_text("<!DOCTYPE html><p>Not found</p>")
    (root / "bomb.png").write_bytes(png_with_header(100_000, 100_000, b"\0" * 32))
    os.mkfifo(root / "pipe.jpg")
    (root / "scans.jpg").write_bytes(slow_progressive_jpeg(4096, 5000))
    (root / "bare.dng").write_bytes(make_dng(None))
    (root / "self.jpg").symlink_to(root / "self.jpg")
    (root / "gone.jpg").symlink_to(root / "nowhere.jpg")
    (root / "loop").symlink_to(root, target_is_directory=True)
    (root / "README.txt").write_text("not an image, not named like one: skipped")
    return root


def test_one_scan_hashes_every_valid_image_and_reports_every_bad_one(hostile_tree: Path, tmp_path: Path) -> None:
    db, out = tmp_path / "h.db", tmp_path / "h.json"
    os.chdir(tmp_path)  # so the folder is passed as a relative name with a leading dash
    started = time.monotonic()
    done = imgtwin("scan", "--db", str(db), "--format", "json", "--output", str(out), "--no-progress",
                   "--timeout", "1.5", "--workers", "2", "--follow-symlinks", "--", hostile_tree.name)
    assert time.monotonic() - started < 60
    assert done.returncode == 1, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    files = {Path(f["path"]).name: f for f in json.loads(out.read_text())["files"]}
    hashed = {name for name, f in files.items() if f["hash"]}
    assert hashed == {*VALID, "RAW_0001.dng", "latin1 \\xe9t\\xe9.jpg"}
    errors = {name: f["error_reason"] for name, f in files.items() if not f["hash"]}
    assert errors == BAD
    assert all(files[name]["error"] for name in BAD)  # every failure has a message
    assert "Errors by reason: " in done.stderr
    summary_counts = done.stderr.split("Errors by reason: ", 1)[1].splitlines()[0]
    assert "timeout 1" in summary_counts and "not_an_image 2" in summary_counts and "truncated 2" in summary_counts
    assert done.stdout.startswith(f"Done: {len(hashed)} hashed, {len(BAD)} errors")
    assert "line\\nbreak.heic" not in done.stderr  # valid: not listed
    assert "-weird dir/self.jpg: io_error" in done.stderr  # listed, one line per file

    listed = imgtwin("errors", "--db", str(db), "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert {Path(r["path"]).name: r["reason"] for r in rows} == BAD
    assert all(r["message"] and os.path.isabs(r["path"]) for r in rows)
    truncated = imgtwin("errors", "--db", str(db), "--reason", "truncated")
    assert [line.split(": ")[1] for line in truncated.stdout.splitlines()] == ["truncated", "truncated"]
    assert "2 file(s) could not be read (truncated)" in truncated.stderr
