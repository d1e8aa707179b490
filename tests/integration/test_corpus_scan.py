"""A scan of the shared generator's small preset, as the CLI runs it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from imgtwin.persistence.sqlite import read_rows

pytestmark = pytest.mark.slow  # the fast loop (pytest -m 'not slow') leaves this module out


def test_small_corpus_is_hashed_completely_and_consistently(small_corpus: Path, tmp_path: Path) -> None:
    db, out = tmp_path / "c.db", tmp_path / "c.json"
    done = subprocess.run(
        [sys.executable, "-m", "imgtwin", "scan", str(small_corpus), "--db", str(db), "--format", "json",
         "--output", str(out), "--no-progress"],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    truth = json.loads((small_corpus / "truth.json").read_text())
    files = {os.path.relpath(f["path"], small_corpus): f for f in json.loads(out.read_text())["files"]}
    assert set(files) == set(truth)  # every image, and only images (truth/meta.json skipped)
    copies = sum(t["transform"] == "exact_copy" for t in truth.values())
    # Byte copies whose twin was stored first are answered without a decode (about 1 in 2 here, whichever
    # of the pair is found first); that is said in the summary.
    assert re.match(rf"Done: {len(truth)} hashed, 0 errors( \(\d+ byte cop(y of another file|ies of other files), not decoded\))?, "
                    r"2 skipped", done.stdout), done.stdout
    answered = [r for r in read_rows(str(db)) if r["answered_by"] == "content"]
    assert 0 < len(answered) <= copies
    assert len(list(read_rows(str(db)))) == len(truth)

    def distance(a: str, b: str) -> int:
        return (int(files[a]["hash"], 16) ^ int(files[b]["hash"], 16)).bit_count()

    originals = {t["group"]: p for p, t in truth.items() if t["kind"] == "original"}
    by_transform: dict[str, list[int]] = {}
    for path, t in truth.items():
        if t["kind"] == "variant":
            by_transform.setdefault(t["transform"], []).append(distance(path, originals[t["group"]]))
    assert set(by_transform["exact_copy"]) == {0}
    # Re-encodes, resizes and EXIF-orientation copies hash close to their original.
    for transform in ("jpeg_reencode", "downscale", "exif_orientation", "format_png"):
        values = by_transform[transform]
        assert sum(d <= 8 for d in values) / len(values) >= 0.9, (transform, values)
    # Unrelated originals are far apart.
    keys = sorted(originals.values())[:200]
    close = sum(distance(a, b) <= 8 for i, a in enumerate(keys) for b in keys[i + 1 :])
    assert close <= 2


def test_ctrl_c_stops_cleanly_with_exit_130_and_keeps_work(small_corpus: Path, tmp_path: Path) -> None:
    db = tmp_path / "int.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "imgtwin", "scan", str(small_corpus), "--db", str(db), "--no-progress",
         "--batch-size", "10", "--workers", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait for the first committed batch
        time.sleep(0.2)
        if db.exists() and len(list(read_rows(str(db)))) >= 10:
            break
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert stdout.startswith("Stopped:")
    assert "Traceback" not in stderr
    stored = list(read_rows(str(db)))
    hashed = int(stdout.split("Stopped: ")[1].split(" hashed")[0])
    assert 10 <= len(stored) == hashed < 1000
