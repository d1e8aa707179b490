"""A scan over a real file of every format Pillow opens: each one hashed, reported or (non-pictures) skipped."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.format_files import CASES
from tests.helpers import synthetic_photo

pytestmark = pytest.mark.slow  # the fast loop (pytest -m 'not slow') leaves this module out


def imgtwin(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "imgtwin", *args], capture_output=True, text=True, timeout=300, check=False)


def test_scan_hashes_decoded_formats_and_counts_the_others(tmp_path: Path) -> None:
    root = tmp_path / "pictures"
    root.mkdir()
    picture = synthetic_photo(13, (160, 120))
    for case in CASES:
        (root / case.name).write_bytes(case.build(picture))
    (root / "notes.txt").write_text("a text file is skipped, as before\n")
    db, out = tmp_path / "index.db", tmp_path / "scan.csv"

    done = imgtwin("scan", str(root), "--db", str(db), "--format", "csv", "--output", str(out), "--no-progress")

    assert done.returncode == 1, done.stderr[-3000:]  # unsupported files are failures: exit 1, no crash
    assert "Traceback" not in done.stderr
    decoded = [c.name for c in CASES if c.decision == "decode"]
    unsupported = [c.name for c in CASES if c.decision == "unsupported"]
    skipped = [c.name for c in CASES if c.decision == "not a picture"] + ["notes.txt"]
    assert f"Done: {len(decoded)} hashed, {len(unsupported)} errors" in done.stdout
    assert f"{len(skipped)} skipped" in done.stdout
    assert f"Errors by reason: unsupported_format {len(unsupported)}" in done.stdout + done.stderr

    with open(out, newline="", encoding="utf-8") as f:
        rows = {Path(r["path"]).name: r for r in csv.DictReader(f)}
    assert set(rows) == set(decoded) | set(unsupported)  # skipped files are not listed, as before
    for name in decoded:
        assert len(rows[name]["hash"]) == 16 and rows[name]["error_reason"] == "", name
    for name in unsupported:
        assert rows[name]["hash"] == "" and rows[name]["error_reason"] == "unsupported_format", name

    listed = imgtwin("errors", "--db", str(db), "--reason", "unsupported_format", "--json")
    assert listed.returncode == 0, listed.stderr
    stored = {Path(e["path"]).name: e["message"] for e in json.loads(listed.stdout)}
    assert set(stored) == set(unsupported)  # in the index, with a message naming the format
    assert "TGA" not in " ".join(stored.values()) and "Sun raster" in stored["old.ras"]

    again = imgtwin("scan", str(root), "--db", str(db), "--no-progress")
    assert again.returncode == 1 and f"Errors by reason: unsupported_format {len(unsupported)}" in (
        again.stdout + again.stderr)
