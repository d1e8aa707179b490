"""Every file of the shared bad-images set behaves as its MANIFEST says, in one scan."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import require_shared

pytestmark = pytest.mark.slow  # the fast loop (pytest -m 'not slow') leaves this module out


def test_bad_images_scan_matches_manifest(tmp_path: Path) -> None:
    root = require_shared("bad-images")
    out = tmp_path / "bad.csv"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "imgtwin", "scan", str(root), "--db", str(tmp_path / "b.db"), "--format", "csv",
         "--output", str(out), "--no-progress", "--timeout", "20"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 1, done.stderr[-3000:]  # some files are bad: exit 1, not a crash
    assert "Traceback" not in done.stderr
    assert elapsed < 120
    with open(out, newline="", encoding="utf-8") as f:
        rows = {os.path.relpath(r["path"], root): r for r in csv.DictReader(f)}
    with open(root / "MANIFEST.tsv", newline="", encoding="utf-8") as f:
        manifest = list(csv.DictReader(f, delimiter="\t"))
    assert len(manifest) == 150
    wrong = []
    for entry in manifest:
        row = rows.get(entry["file"])
        if row is None:
            wrong.append((entry["file"], entry["expected"], "not reported at all"))
            continue
        got = "valid" if row["hash"] else "invalid"
        if row["hash"]:
            assert len(row["hash"]) == 16 and row["error_reason"] == ""
        else:
            assert row["error_reason"] and row["error"], entry["file"]  # a reason and a message
        if entry["expected"] != "either" and got != entry["expected"]:
            wrong.append((entry["file"], entry["expected"], row["error_reason"] or "hashed"))
    assert wrong == []
    # Nothing but the manifest's files and the two text files (skipped) was seen.
    assert set(rows) == {m["file"] for m in manifest}
    assert "Done: " in done.stdout and " skipped" in done.stdout
